"""Shared fixtures: a real PostgreSQL database per test session, warehouses on both backends, registries."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

pytest_plugins = ["tests.sshd", "tests.s3server"]

PG_ADMIN_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"
# the key of every keyed hash the tests' hubs store (tests of the key itself set or remove it)
os.environ.setdefault("HUB_HASH_KEY", "tests-only-hash-key-0123456789abcdef")


# The files that take longest start first: pytest-xdist hands whole files to its workers in collection order (the
# Makefile's --no-loadscope-reorder; by default it orders by test count, which started these last and made them the
# suite's tail). Measured with --durations on 2 cores; the rest keep their order.
LONGEST_FIRST = ("test_dev_server.py", "test_edreflect_order_property.py", "test_marts.py", "test_production_stack.py",
                 "test_killed_run.py", "test_ui_browser.py", "test_siras_same_day_files.py", "test_notifications.py",
                 "test_marts_busy_warehouse.py", "test_holds.py", "test_edreflect_pipeline.py", "test_bench_scripts.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def need(reason: str) -> None:
    """Skip on a laptop without the service; under CI nothing may skip."""
    if IN_CI:
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


@contextmanager
def fresh_database(prefix: str = "hub_test") -> Iterator[str]:
    """A uniquely named, empty database on the local PostgreSQL (psycopg URL), dropped afterwards (parallel sessions
    do not collide)."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:
        need(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc.orig}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh database for the test session."""
    with fresh_database() as url:
        yield url
        sa.create_engine(url).dispose()


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """An empty PostgreSQL warehouse for one test (its schemas are dropped afterwards)."""
    yield pg_server_url
    engine = sa.create_engine(pg_server_url)
    with engine.begin() as conn:
        for schema in ("ops", "staging", "core", "marts", "marts_staging", "marts_intermediate", "edreflect"):
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    engine.dispose()
    from hub.store import schema as hub_schema
    hub_schema._ready.clear()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on both warehouses."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """An empty drop folder (what a folder transport lists) for one test."""
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def hub_env(tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path | str]:
    """Point the hub at a temporary home, archive and warehouse."""
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "hub" / "archive"))
    monkeypatch.delenv("HUB_ARCHIVE_URL", raising=False)  # a developer's own bucket never receives test files
    monkeypatch.setenv("HUB_WAREHOUSE_URL", warehouse_url)
    return {"home": tmp_path / "hub", "url": warehouse_url}


@pytest.fixture
def wh(warehouse_url: str) -> "Warehouse":
    """An empty warehouse with the hub's own tables, on both backends."""
    from hub.store.schema import ensure_tables
    from resources.warehouse import Warehouse
    warehouse = Warehouse(warehouse_url)
    ensure_tables(warehouse, [])
    return warehouse


def write_registry(path: Path, districts: list[dict], integrations: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"districts": districts, "integrations": integrations}, sort_keys=False))
    return path


CA_DISTRICTS = [
    {"id": "abc_unified", "name": "ABC Unified School District", "state": "CA", "nces_leaid": "0601620",
     "state_district_id": "1964212", "timezone": "America/Los_Angeles"},
    {"id": "fresno_unified", "name": "Fresno Unified School District", "state": "CA", "nces_leaid": "0614550",
     "state_district_id": "1062166", "timezone": "America/Los_Angeles"},
]


def siras_integration(transport: dict, **extra: object) -> dict:
    """A SIRAS integration that runs whenever a file is there: no processing window, no summer pause (SIRAS's
    defaults are 02:00-07:00 and a yearly summer pause; tests of them pass `window` and `pause`), its first file
    applied without review (tests of holds pass `holds`)."""
    return {"id": "siras_abc_unified", "district": "abc_unified", "feed": "siras", "source": "Aeries SIS",
            "destination": "SIRAS", "transport": transport, "contact": {"role": "SIS Administrator"},
            "start_date": "2024-01-01", "quiet_period_seconds": 0, "window": None, "pause": None,
            "holds": {"first_file": False}, **extra}
