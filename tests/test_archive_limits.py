"""Archive bombs: a zip or XLSX that would expand beyond the integration's limits is refused from its directory and
declared dimensions, before anything is inflated, and recorded as rejected with the reason (both warehouses)."""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from feeds.renaissance_star import FEED as STAR
from feeds.siras import FEED as SIRAS
from hub.intake.tick import scan
from hub.registry.loading import parse_registry
from hub.registry.registry import RegistryError
from hub.store.schema import ensure_tables
from resources.archive import Archive
from resources.transport import FolderTransport
from resources.warehouse import Warehouse
from tests.conftest import CA_DISTRICTS, siras_integration

NJ = [{"id": "belleville", "name": "Belleville Public School District", "state": "NJ", "nces_leaid": "3401350"}]
ZIP = "Belleville Public Schools.zip"


def star_integration(folder: Path, limits: dict | None) -> dict:
    return {"id": "star_belleville", "district": "belleville", "feed": "renaissance_star", "source": "Star",
            "destination": "hub", "transport": {"kind": "folder", "path": str(folder)},
            "contact": {"role": "Data coordinator"}, "start_date": "2024-01-01", "quiet_period_seconds": 0,
            **({"limits": limits} if limits else {})}


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def run_tick(tmp_path: Path, warehouse_url: str, feed, registry: dict, name: str, data: bytes):  # noqa: ANN001, ANN201
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    (landing / name).write_bytes(data)
    os.utime(landing / name, (time.time() - 60, time.time() - 60))
    wh = Warehouse(warehouse_url)
    ensure_tables(wh, [feed])
    reg = parse_registry(registry)
    integration = reg.integrations[0]
    result = scan(registry=reg, feed=feed, integration=integration, transport=FolderTransport(integration.id, landing),
                  archive=Archive(tmp_path / "archive"), warehouse=wh, cursor={}, now=time.time())
    with wh.begin() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(
            "SELECT file_name, status, reason, archive_path FROM ops.deliveries ORDER BY file_name"))]
        logged = [tuple(r) for r in conn.execute(sa.text("SELECT gate, reason FROM ops.ingest_errors"))]
    return result, rows, logged


CSV = b'"StudentStateID","Score"\n' + b'"1234567890","500"\n' * 200


@pytest.mark.parametrize(("members", "limits", "named"), [
    ({"SM.csv": b"0" * 30_000_000}, None, "max_ratio"),  # ~30 KB that expand 1000 times
    ({"SM.csv": CSV, "SR.csv": CSV}, {"max_uncompressed_bytes": 5000}, "max_uncompressed_bytes"),
    ({f"SM{n}.csv": CSV for n in range(4)}, {"max_members": 3}, "max_members"),
])
def test_a_zip_beyond_the_limits_is_rejected_before_it_is_unpacked(tmp_path, warehouse_url, members, limits, named):
    registry = {"districts": NJ, "integrations": [star_integration(tmp_path / "landing", limits)]}
    result, rows, logged = run_tick(tmp_path, warehouse_url, STAR, registry, ZIP, zipped(members))
    assert result.runs == [] and result.error is None
    ((name, status, reason, _),) = rows  # the container only: no member was recorded
    assert (name, status) == (ZIP, "rejected") and named in reason and "not unpacked" in reason
    assert logged == [("container", reason)]
    extracted = [p.name for p in (tmp_path / "archive").rglob("*") if p.is_file() and not p.name.endswith(".zip")]
    assert extracted == []  # nothing inflated onto the archive disk


def test_a_zip_within_the_limits_is_unpacked(tmp_path, warehouse_url):
    registry = {"districts": NJ, "integrations": [star_integration(tmp_path / "landing", None)]}
    result, rows, _ = run_tick(tmp_path, warehouse_url, STAR, registry, ZIP, zipped({"SM.csv": CSV}))
    assert [(n, s) for n, s, _, _ in rows] == [(ZIP, "unpacked"), ("SM.csv", "queued")]


def workbook(declared: str | None) -> bytes:
    """A two-row XLSX; with `declared` its sheet claims that range (openpyxl pads every row to its width)."""
    book = openpyxl.Workbook()
    book.active.append(["SSID", "LastName"])
    book.active.append(["1234567890", "X"])
    buf = io.BytesIO()
    book.save(buf)
    if declared is None:
        return buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]+"', f'<dimension ref="{declared}"'.encode(), data)
            dst.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize(("declared", "limits", "status"), [
    ("A1:XFD1048576", None, "rejected"),  # 17 billion cells declared
    ("A1:Z1000", {"max_xlsx_cells": 1000}, "rejected"),
    (None, None, "queued"),
])
def test_an_xlsx_declaring_more_cells_than_the_limit_is_rejected_before_staging(tmp_path, warehouse_url, declared,
                                                                                 limits, status):
    entry = siras_integration({"kind": "folder", "path": str(tmp_path / "landing")},
                              **({"limits": limits} if limits else {}))
    registry = {"districts": CA_DISTRICTS, "integrations": [entry]}
    result, rows, logged = run_tick(tmp_path, warehouse_url, SIRAS, registry, "1964212_demographics.xlsx",
                                    workbook(declared))
    ((name, got, reason, archive_path),) = rows
    assert got == status
    if status == "queued":
        assert len(result.runs) == 1 and archive_path
        return
    assert result.runs == [] and "max_xlsx_cells" in reason and "cells" in reason
    assert archive_path is None  # never importable: no run, re-materialization or backfill opens it
    assert logged == [("limits", reason)]


def test_limits_are_validated_at_load(tmp_path):
    entry = siras_integration({"kind": "folder", "path": str(tmp_path)}, limits={"max_ratio": 0})
    with pytest.raises(RegistryError, match="limits.max_ratio"):
        parse_registry({"districts": CA_DISTRICTS, "integrations": [entry]})


def test_an_xlsx_without_declared_dimensions_is_stopped_at_the_cell_limit_while_staging(tmp_path, hub_env):
    import dagster as dg

    from dagster_project.definitions import build_definitions
    from tests.conftest import write_registry
    from tests.harness import tick

    landing = tmp_path / "landing"
    landing.mkdir()
    from demo.siras_files import students

    frame = students(300, "1964212").assign(Designation="SPED")
    book = openpyxl.Workbook()
    book.active.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        book.active.append([str(v) for v in row])
    buf = io.BytesIO()
    book.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():  # no <dimension>: only counting the cells read can stop it
            dst.writestr(info, re.sub(rb"<dimension [^>]*/>", b"", src.read(info)))
    (landing / "1964212_demographics.xlsx").write_bytes(out.getvalue())
    entry = siras_integration({"kind": "folder", "path": str(landing)}, limits={"max_xlsx_cells": 1000})
    defs = build_definitions(write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [entry]))
    t = tick(defs, dg.DagsterInstance.ephemeral(), "siras__deliveries")
    assert [r.success for r in t.runs] == [False]
    wh = Warehouse(str(hub_env["url"]))
    with wh.begin() as conn:
        status = conn.execute(sa.text("SELECT status FROM ops.deliveries")).scalar_one()
        reasons = [r[0] for r in conn.execute(sa.text("SELECT reason FROM ops.ingest_errors"))]
        staged = conn.execute(sa.text("SELECT count(*) FROM core.students")).scalar_one()
    assert status == "rejected" and staged == 0
    assert any("more than 1,000 cells" in r and "max_xlsx_cells" in r for r in reasons)
