"""The dbt marts (dbt/) as Dagster assets downstream of the feed assets, with dbt tests as asset checks.

dbt sources carry `meta.dagster.asset_key` of the feed asset that writes them. The marts refresh by declarative
automation: when they were never built, or once any upstream feed partition has updated and no upstream run is still
in progress, so a batch of files landing together causes one rebuild, not one per file. Staging and intermediate
models are ephemeral: a rebuild of either mart never reads a view that was not built.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from feeds import FEEDS
from hub.store.schema import ensure_tables
from resources.warehouse import WarehouseResource

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"
GROUP = "marts"
WAREHOUSE_POOL = "hub_warehouse"

_AC = dg.AutomationCondition
# never built although a feed has data (also on the first evaluation, which resets since_last_handled; not on an
# empty hub, where a build would only hold the warehouse while the first files wait), unless that build failed
EXTERNAL = dg.AssetSelection.groups("hub_ops", "identity")  # dbt sources no asset writes (source_specs)
MISSING = (_AC.missing() & _AC.any_deps_match(~_AC.missing()).ignore(EXTERNAL) & ~_AC.execution_failed()
           ).with_label("missing, a feed has data")
REFRESH = ((_AC.any_deps_updated().since_last_handled() | MISSING) & ~_AC.any_deps_in_progress()
           & ~_AC.in_progress()).with_label("when missing, or after feed updates settle")


def dbt_project() -> DbtProject:
    """The project; `dbt parse` makes the manifest when it is missing or older than a model file (a fresh clone and
    an edited model under `dagster dev` both load). Not `prepare_if_dev()`: it needs `dbt` on PATH, which a venv used
    without activation lacks, and it re-parses in every run process."""
    project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
    if _manifest_stale(project.manifest_path):
        subprocess.run([dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_DIR), "--profiles-dir",
                        str(DBT_DIR)], check=True, cwd=DBT_DIR)
    return project


DBT_OUTPUT = ("target", "logs", "dbt_packages")  # folders dbt writes, under the project


def _manifest_stale(manifest: Path) -> bool:
    """A model or config file newer than the manifest; dbt's own output (target/, its 1,300 compiled files, and
    logs/) is not walked: every run process asks this at start."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for folder, subfolders, files in os.walk(DBT_DIR):
        subfolders[:] = [d for d in subfolders if not (folder == str(DBT_DIR) and d in DBT_OUTPUT)]
        if any(f.endswith((".sql", ".yml")) and os.stat(os.path.join(folder, f)).st_mtime > built for f in files):
            return True
    return False


def dbt_executable() -> str:
    """The dbt beside this Python (a venv not on PATH), else `dbt` from PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def dbt_resource(project: DbtProject) -> DbtCliResource:
    return DbtCliResource(project_dir=project, dbt_executable=dbt_executable())


class HubTranslator(DagsterDbtTranslator):
    """Marts group, owners, and the batch-friendly refresh condition on every model; tests on the hub's ops tables
    (dbt sources) are asset checks too."""

    def __init__(self) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        return REFRESH

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:district-data"]


def source_specs(project: DbtProject) -> list[dg.AssetSpec]:
    """The tables dbt reads that no asset writes (the hub's ops tables: sources without `meta.dagster.asset_key`),
    as external assets with their description, owner, kind and a group named after their dbt source; without this
    they were anonymous stubs in the default group."""
    manifest = json.loads(project.manifest_path.read_text())
    translator = HubTranslator()
    return [dg.AssetSpec(translator.get_asset_key(s), group_name=s["source_name"], kinds={"table"},
                         owners=translator.get_owners(s), metadata={"table": f"{s['schema']}.{s['name']}"},
                         description=s.get("description") or s.get("source_description") or None)
            for s in manifest["sources"].values() if not s.get("meta", {}).get("dagster", {}).get("asset_key")]


def dbt_environment(url: str) -> dict[str, str]:
    """profiles.yml variables (target and connection) for a hub warehouse URL."""
    if url.startswith("duckdb:///"):
        return {"HUB_DBT_TARGET": "duckdb", "HUB_DBT_DUCKDB_PATH": str(Path(url.removeprefix("duckdb:///")).resolve())}
    u = sa.engine.make_url(url)
    if u.get_backend_name() != "postgresql":
        raise ValueError(f"no dbt target for a {u.get_backend_name()} warehouse")
    return {"HUB_DBT_TARGET": "postgres", "HUB_DBT_PG_HOST": u.host or "127.0.0.1", "HUB_DBT_PG_PORT": str(u.port or 5432),
            "HUB_DBT_PG_USER": u.username or "postgres", "HUB_DBT_PG_PASSWORD": u.password or "",
            "HUB_DBT_PG_DBNAME": u.database or ""}


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the dbt subprocess started inside the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=HubTranslator(),
                pool=WAREHOUSE_POOL, name="hub_marts")
    def _marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        env = dbt_environment(warehouse.url)
        ensure_tables(warehouse.get(), FEEDS.values())  # every table a source names exists, delivered or not
        with environment(env):
            invocation = dbt.cli(["build", "--target", env["HUB_DBT_TARGET"]], context=context, raise_on_error=False)
        yield from invocation.stream()
        if (error := invocation.get_error()) is not None:
            if warehouse_busy(error):  # infrastructure, not the marts: the build is tried again by itself
                context.log.warning("the DuckDB warehouse was held by another process when dbt started; retrying")
                raise dg.RetryRequested(max_retries=BUSY_RETRIES, seconds_to_wait=BUSY_WAIT_SECONDS) from error
            raise error

    return _marts


BUSY_RETRIES, BUSY_WAIT_SECONDS = 10, 6  # a sensor tick or a feed run holds the embedded DuckDB file for seconds


def warehouse_busy(error: Exception) -> bool:
    """dbt could not open the embedded DuckDB warehouse because another process (a feed run, a sensor tick) held its
    file: DuckDB allows one process at a time, and dbt-duckdb does not wait for it as the hub's own connections do."""
    return "Could not set lock on file" in str(error)


def automation_sensor(targets: list[dg.AssetsDefinition]) -> dg.AutomationConditionSensorDefinition:
    """Evaluates the marts' and the inventory's automation conditions (running by default). Every 90 s: the marts of
    a night's deliveries are there within minutes; every 60 s doubled `dagster dev`'s time (an evaluation over
    district x day partitions costs CPU the feed runs need)."""
    return dg.AutomationConditionSensorDefinition(
        "reporting_automation", target=dg.AssetSelection.assets(*targets), default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=90, description="Builds the dbt marts when missing and once after feed partitions update; "
        "refreshes the integration inventory after them and daily.")
