"""Definitions built from the integration registry and the feed declarations."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dagster as dg

from assets.feed_assets import build_feed_assets
from assets.freshness_checks import build_freshness_checks
from dagster_project.executor import hub_executor
from feeds import FEEDS
from hub.gates.district_names import directory as district_directory
from hub.registry.loading import load_registry
from hub.registry.registry import Registry
from hub.store.keyed import hash_key, hub_home
from resources.archive import Archive, ArchiveResource
from resources.warehouse import WarehouseResource
from schedules.nightly import build_nightly_schedule
from sensors.deliveries import build_delivery_sensor
from sensors.notifications import build_notification_sensor

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PRIVATE_UMASK = 0o077  # files 0600, folders 0700
PARTS = ("feeds", "marts")
# Checks per partition are a Dagster preview (dagster is pinned in pyproject.toml): said here once, not once per check
# (about 230 lines, 0.03 CPU-s) by every process that loads the definitions
warnings.filterwarnings("ignore", "Specifying a partitions_def on an AssetCheckSpec", dg.PreviewWarning)


def load_hub_registry(path: Path | None = None) -> Registry:
    return load_registry(path or registry_path(), FEEDS)


def registry_path() -> Path:
    return Path(os.environ.get("HUB_REGISTRY", PROJECT_ROOT / "demo" / "registry.yaml")).resolve()


def warehouse_url() -> str:
    """The warehouse the UI's runs use: $HUB_WAREHOUSE_URL, else the DuckDB file under the hub's home (the CLI reads
    the same one by default)."""
    return os.environ.get("HUB_WAREHOUSE_URL") or f"duckdb:///{hub_home() / 'warehouse.duckdb'}"


def archive_url() -> str:
    """Where received files, import logs and row-error reports are kept: $HUB_ARCHIVE_URL (a local path or
    s3://bucket/prefix), else $HUB_ARCHIVE_DIR, else the archive under the hub's home."""
    return os.environ.get("HUB_ARCHIVE_URL") or os.environ.get("HUB_ARCHIVE_DIR") or str(hub_home() / "archive")


def build_definitions(path: Path | None = None, parts: tuple[str, ...] = PARTS) -> dg.Definitions:
    """Assets, checks, jobs and sensors for every enabled integration in the registry. `parts` narrows them to the
    feeds (file assets, their jobs, sensors, schedules, notifications) or the marts (dbt models, the ops tables they
    read, the inventory, the automation sensor building them): `make dev` loads each as its own code location, so a
    feed's run never imports dagster-dbt and dbt-core (seconds per run process)."""
    # Student data at rest: whatever the hub writes (archive, zip members, import logs, row-error reports, the DuckDB
    # file) is readable by its own user only, in every process that loads the hub (code server, runs, workers).
    os.umask(PRIVATE_UMASK)
    path = path or registry_path()
    registry = load_hub_registry(path)
    district_directory()  # a bad HUB_DISTRICT_DIRECTORY stops the load here, with the setting named
    Archive(archive_url())  # so does a bad HUB_ARCHIVE_URL
    hash_key()  # and a missing HUB_HASH_KEY in production (the demo's is generated here once)
    assets, jobs, sensors, schedules, checks, resources = [], [], [], [], [], {}
    for feed in FEEDS.values() if "feeds" in parts else ():
        feed_assets = build_feed_assets(registry, feed, path.parent)
        if not feed_assets:
            continue
        job = dg.define_asset_job(f"{feed.name}_import", selection=dg.AssetSelection.assets(*feed_assets),
                                  description=f"{feed.title}: stage the day's files, run the gates, apply the changes.")
        assets += feed_assets
        jobs.append(job)
        if freshness := build_freshness_checks(registry, feed):  # its deliveries asset and their freshness checks
            assets.append(freshness[0])
            checks.append(freshness[1])
        sensors.append(build_delivery_sensor(registry, feed, registry.enabled(feed.name), job.name, path.parent))
        if feed.nightly:
            schedules += [build_nightly_schedule(registry, feed, i, job.name) for i in registry.enabled(feed.name)]
    if "feeds" in parts:
        sensors.append(build_notification_sensor(registry, FEEDS))
    if "marts" in parts:
        from assets.dbt_assets import automation_sensor, build_dbt_assets, dbt_project, dbt_resource, source_specs
        from assets.inventory import build_inventory_asset

        project = dbt_project()
        reporting = [build_dbt_assets(project), build_inventory_asset(registry, hub_home() / "reports")]
        assets += reporting + source_specs(project)
        sensors.append(automation_sensor(reporting))
        resources["dbt"] = dbt_resource(project)
    url = dg.EnvVar("HUB_WAREHOUSE_URL") if os.environ.get("HUB_WAREHOUSE_URL") else warehouse_url()
    return dg.Definitions(
        assets=assets, asset_checks=checks, jobs=jobs, sensors=sensors, schedules=schedules,
        executor=hub_executor(),
        resources={"warehouse": WarehouseResource(url=url), "archive": ArchiveResource(root=archive_url()), **resources},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
