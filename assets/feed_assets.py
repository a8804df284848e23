"""Asset factories: from a feed declaration, one partitioned source asset per file type (with blocking gates)
and one apply asset that changes the target tables. Partitions: date (daily) x district."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import sqlalchemy as sa

from assets.configuration_failure import configuration_failure
from assets.delta_apply import apply_delta
from assets.metadata import apply_metadata, column_schema, errors_markdown, stage_metadata
from assets.run_context import import_log_metadata, trigger_of
from hub import ledger
from hub.container_members import skipped_beside
from hub.apply import ApplyContext
from hub.declarations import Feed, FileType
from hub.declarations import LinkRequest
from hub.district_names import candidates, confirmed
from hub.fetch import FetchConfig, ReuseConfig, fetch_now
from hub.gates import district_gate
from hub.registry import Integration, Registry
from hub.staging import StageResult, stage_delivery
from hub.tables import ensure_tables, staging_table_name
from resources.archive import ArchiveResource
from resources.warehouse import Warehouse, WarehouseResource

WAREHOUSE_POOL = "hub_warehouse"
OWNERS = ["team:district-data"]

def partitions_for(registry: Registry, feed: Feed) -> dg.MultiPartitionsDefinition:
    """District x day grid over the feed's enabled integrations."""
    integrations = registry.enabled(feed.name)
    return dg.MultiPartitionsDefinition({
        "date": dg.DailyPartitionsDefinition(start_date=min(i.start_date for i in integrations).isoformat(), end_offset=1),
        "district": dg.StaticPartitionsDefinition(sorted({i.district for i in integrations})),
    })

@contextmanager
def protected_errors(what: str) -> Iterator[None]:
    """Database errors can quote row values (student data); re-raise them without their details. Bulk loads and
    log streams use the driver's connection directly, so its own errors are covered too."""
    try:
        yield
    except (sa.exc.DBAPIError, psycopg.Error, duckdb.Error) as exc:
        orig = getattr(exc, "orig", None)
        kind = type(orig).__name__ if orig is not None else type(exc).__name__
        raise dg.Failure(f"{what}: the warehouse refused the change ({kind}); nothing was written. Details are "
                         "withheld because they may quote student data; see the database server's log.") from None


def _partition(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    return keys["district"], keys["date"]

def _reuse(feed: Feed, config: ReuseConfig) -> bool:
    """Reusing the last downloaded files suits snapshot feeds only (a delta day or an append file stands alone)."""
    return config.reuse_latest and feed.load == "snapshot"

def _open(warehouse: WarehouseResource, feed: Feed) -> Warehouse:
    wh = warehouse.get()
    ensure_tables(wh, [feed])
    return wh

def _gate_results(context: dg.AssetExecutionContext, wh: Warehouse, registry: Registry, integration: Integration,
                  ft: FileType, table: str, delivery: ledger.Delivery, staged: StageResult) -> list[dg.AssetCheckResult]:
    """Evaluate the gates, log failures to ops.ingest_errors and set the delivery's status."""
    with wh.begin() as conn:
        names = _district_names(conn, ft, table, delivery) if staged.passed else []
        gate = district_gate(registry, integration, ft, delivery.file_name, names,
                             candidates(registry) if names else None, confirmed(conn) if names else None)
        link = _link_check(conn, integration, ft, table, delivery) if staged.passed and gate.passed else None
    passed = staged.passed and gate.passed and (link is None or link.passed)
    with wh.begin() as conn:
        if link is not None and not link.passed:
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="match_rate", reason=str(link.metadata["result"].value),
                                    delivery_id=delivery.delivery_id, run_id=context.run_id)
        if not staged.passed:
            first = staged.first_errors[0]
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="schema", delivery_id=delivery.delivery_id,
                                    run_id=context.run_id, reason=f"{staged.errors} row error(s); first: row "
                                    f"{first.row_number}, column {first.column}: {first.rule}")
        if not passed:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE delivery_id = :d"), {"d": delivery.delivery_id})
        if not gate.passed:
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="district", reason=gate.reason,
                                    delivery_id=delivery.delivery_id, run_id=context.run_id)
        ledger.set_status(conn, [delivery.delivery_id], "staged" if passed else "rejected",
                          None if passed else "blocked by a gate: see ops.ingest_errors", context.run_id)
    return [
        dg.AssetCheckResult(check_name="schema", passed=staged.passed, metadata={
            "file": delivery.file_name, "rows checked": staged.rows, "row errors": staged.errors,
            "first row errors": errors_markdown(staged.first_errors),
            "full report": "ops.row_errors where delivery_id = " + delivery.delivery_id}),
        dg.AssetCheckResult(check_name="district", passed=gate.passed,
                            metadata={"file": delivery.file_name, "result": gate.reason}),
    ] + ([link or dg.AssetCheckResult(check_name="match_rate", passed=False, metadata={
        "result": "not evaluated: an earlier gate blocked the file"})] if ft.link else [])

def _district_names(conn: sa.Connection, ft: FileType, table: str, delivery: ledger.Delivery) -> list[str]:
    if not ft.district_name_column:
        return []
    return [n for (n,) in conn.execute(sa.text(f"SELECT DISTINCT {ft.district_name_column} FROM {table} WHERE "
                                               f"delivery_id = :d AND {ft.district_name_column} IS NOT NULL"),
                                       {"d": delivery.delivery_id})]

def _link_check(conn: sa.Connection, integration: Integration, ft: FileType, table: str,
                delivery: ledger.Delivery) -> dg.AssetCheckResult | None:
    """The identity-linking gate: the share of rows linked to a hub student must reach the integration's threshold."""
    if ft.link is None:
        return None
    staged = f"(SELECT * FROM {table} WHERE delivery_id = '{delivery.delivery_id}')"
    counts = ft.link(LinkRequest(conn, staged, integration.district, ft.name))
    total = sum(counts.values())
    rate = counts.get("linked", 0) / total if total else 1.0
    passed = rate >= integration.min_match_rate
    result = (f"{counts.get('linked', 0)} of {total} rows linked ({rate:.1%}); threshold "
              f"{integration.min_match_rate:.0%}; review: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())
                                                                     if k != "linked") or "none"))
    return dg.AssetCheckResult(check_name="match_rate", passed=passed, metadata={
        "file": delivery.file_name, "match rate": round(rate, 4), "result": result,
        **{f"rows {k}": v for k, v in sorted(counts.items())}})

def _file_asset(registry: Registry, feed: Feed, ft: FileType, pdef: dg.PartitionsDefinition,
                base_dir: Path | None) -> dg.AssetsDefinition:
    key = dg.AssetKey([feed.name, ft.name])
    table = staging_table_name(feed, ft)

    @dg.asset(
        key=key, partitions_def=pdef, group_name=feed.name, owners=OWNERS, pool=WAREHOUSE_POOL,
        kinds={"file", *feed.kinds}, description=f"{feed.title}: {ft.description} Parsed, validated and staged "
        f"into {table}. File patterns: {', '.join(ft.patterns)}.",
        metadata={"dagster/column_schema": column_schema(ft), "staging table": table},
        check_specs=[
            dg.AssetCheckSpec("schema", asset=key, blocking=True,
                              description="pandera: required columns, formats and code sets; row-level report"),
            dg.AssetCheckSpec("district", asset=key, blocking=True,
                              description="the district the file names must be in the registry and match the integration"),
            *([dg.AssetCheckSpec("match_rate", asset=key, blocking=True, description="share of rows linked to a hub "
                                 "student must reach the integration's min_match_rate")] if ft.link else []),
        ],
    )
    def _asset(context: dg.AssetExecutionContext, config: FetchConfig, warehouse: WarehouseResource,
               archive: ArchiveResource) -> dg.MaterializeResult:
        district_id, day = _partition(context)
        integration = registry.integration_for(feed.name, district_id)
        wh = _open(warehouse, feed)
        if config.fetch_from_transport:
            context.log.info("fetch for %s: %s", integration.id, fetch_now(registry, feed, integration, wh, archive.get(),
                                                                        base_dir, day))
        with wh.begin() as conn:
            delivery = ledger.for_run(conn, integration.id, ft.name, day, _reuse(feed, config))
            superseded = ledger.supersede_same_day(conn, delivery) if delivery else []
        if delivery is None:
            note = {"result": "no file of this type was delivered for this day"}
            return dg.MaterializeResult(metadata={"file": "none", **note}, check_results=[
                dg.AssetCheckResult(check_name=c, passed=True, metadata=note)
                for c in ("schema", "district", *(("match_rate",) if ft.link else ()))])
        with protected_errors(f"staging {delivery.file_name}"):
            staged = stage_delivery(wh, feed, ft, delivery, value_maps=integration.value_maps,
                                    headers=integration.headers,
                                    date_formats=integration.date_formats or feed.date_formats)
        with configuration_failure(wh, integration, delivery, table, context.run_id):
            checks = _gate_results(context, wh, registry, integration, ft, table, delivery, staged)
        context.log.info("staged %s: %d rows, %d row errors, %.2fs", delivery.file_name, staged.rows, staged.errors,
                         staged.seconds)
        with wh.begin() as conn:
            log_md = import_log_metadata(context, conn, wh, delivery, {"rows read": staged.rows,
                                                                   "result": "staged" if staged.passed else "rejected"})
        md = {**stage_metadata(ft, staged, table), "delivery": delivery.delivery_id, "delivered on": delivery.partition_date,
              "sha256": (delivery.sha256 or "")[:16], "trigger": trigger_of(context), **log_md}
        if superseded:
            md["superseded (same day, older)"] = ", ".join(superseded)
        with wh.begin() as conn:
            if skipped := skipped_beside(conn, delivery.delivery_id):
                md["skipped in the same zip"] = "; ".join(skipped)
        return dg.MaterializeResult(metadata=md, check_results=checks)

    return _asset

def _apply_asset(registry: Registry, feed: Feed, pdef: dg.PartitionsDefinition, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([feed.name, feed.apply_asset]), deps=deps, partitions_def=pdef, group_name=feed.name,
        owners=OWNERS, pool=WAREHOUSE_POOL, kinds={"sql"}, description=feed.apply_description,
        metadata={"target tables": ", ".join(feed.target_tables)},
    )
    def _apply(context: dg.AssetExecutionContext, config: ReuseConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
        started = time.monotonic()
        district_id, day = _partition(context)
        integration = registry.integration_for(feed.name, district_id)
        wh = _open(warehouse, feed)
        if feed.load == "delta":
            with protected_errors(f"applying {feed.title} for {district_id} {day}"):
                return apply_delta(context, wh, registry, feed, integration, day, started)
        with protected_errors(f"applying {feed.title} for {district_id} {day}"), wh.begin() as conn:
            todo, notes = {}, []
            for ft in feed.files:
                d = ledger.for_run(conn, integration.id, ft.name, day, _reuse(feed, config))
                newest = ledger.newest_applied(conn, integration.id, ft.name)
                if d is None or d.status not in ("staged", "applied"):
                    continue
                if feed.load == "snapshot" and newest and newest.mtime > d.mtime:
                    notes.append(f"{ft.name}: superseded by the newer delivery of {newest.partition_date}")
                    continue
                todo[ft.name] = d
            stats = {}
            if todo:
                stats = feed.apply(ApplyContext(conn, wh, feed, registry, integration, registry.district(district_id),
                                                todo, feed.options_model.model_validate(integration.options), context.run_id))
                ledger.set_status(conn, [d.delivery_id for d in todo.values()], "applied", run_id=context.run_id)
            logs = {}
            for ft_name, d in todo.items():
                staged_rows = conn.execute(sa.text(f"SELECT count(*) FROM staging.{feed.name}__{ft_name} "
                                                   "WHERE delivery_id = :d"), {"d": d.delivery_id}).scalar_one()
                logs.update(import_log_metadata(context, conn, wh, d, {"rows staged": staged_rows, "result": "applied"}))
        md = apply_metadata(stats, time.monotonic() - started)
        md.update(logs, trigger=trigger_of(context))
        md["files applied"] = ", ".join(d.file_name for d in todo.values()) or "none"
        if notes:
            md["not applied"] = "; ".join(notes)
        return dg.MaterializeResult(metadata=md)

    return _apply

def build_feed_assets(registry: Registry, feed: Feed, base_dir: Path | None = None) -> list[dg.AssetsDefinition]:
    """All assets of one feed; empty when no integration of the feed is enabled. `base_dir` resolves relative
    drop-folder paths (the registry's folder)."""
    if not registry.enabled(feed.name):
        return []
    pdef = partitions_for(registry, feed)
    files = [_file_asset(registry, feed, ft, pdef, base_dir) for ft in feed.files]
    return [*files, _apply_asset(registry, feed, pdef, [a.key for a in files])]
