"""Asset factories: from a feed declaration, one partitioned source asset per file type (with blocking gates)
and one apply asset that changes the target tables. Partitions: date (daily) x district."""

import time

import dagster as dg
import sqlalchemy as sa

from assets.delta_apply import apply_delta
from assets.metadata import apply_metadata, column_schema, errors_markdown, stage_metadata
from hub import ledger
from hub.apply import ApplyContext
from hub.declarations import Feed, FileType
from hub.gates import district_gate
from hub.registry import Integration, Registry
from hub.staging import StageResult, stage_delivery
from hub.tables import ensure_tables, staging_table_name
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

def _partition(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    return keys["district"], keys["date"]

def _open(warehouse: WarehouseResource, feed: Feed) -> Warehouse:
    wh = warehouse.get()
    ensure_tables(wh, [feed])
    return wh

def _gate_results(context: dg.AssetExecutionContext, wh: Warehouse, registry: Registry, integration: Integration,
                  ft: FileType, table: str, delivery: ledger.Delivery, staged: StageResult) -> list[dg.AssetCheckResult]:
    """Evaluate both gates, log failures to ops.ingest_errors and set the delivery's status."""
    gate = district_gate(registry, integration, ft, delivery.file_name)
    passed = staged.passed and gate.passed
    with wh.begin() as conn:
        if not staged.passed:
            first = staged.first_errors[0]
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="schema", delivery_id=delivery.delivery_id,
                                    run_id=context.run_id, reason=f"{staged.errors} row error(s); first: row "
                                    f"{first.row_number}, column {first.column}: {first.rule}")
        if not gate.passed:
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="district", reason=gate.reason,
                                    delivery_id=delivery.delivery_id, run_id=context.run_id)
            conn.execute(sa.text(f"DELETE FROM {table} WHERE delivery_id = :d"), {"d": delivery.delivery_id})
        ledger.set_status(conn, [delivery.delivery_id], "staged" if passed else "rejected",
                          None if passed else "blocked by a gate: see ops.ingest_errors", context.run_id)
    return [
        dg.AssetCheckResult(check_name="schema", passed=staged.passed, metadata={
            "file": delivery.file_name, "rows checked": staged.rows, "row errors": staged.errors,
            "first row errors": errors_markdown(staged.first_errors),
            "full report": "ops.row_errors where delivery_id = " + delivery.delivery_id}),
        dg.AssetCheckResult(check_name="district", passed=gate.passed,
                            metadata={"file": delivery.file_name, "result": gate.reason}),
    ]

def _file_asset(registry: Registry, feed: Feed, ft: FileType, pdef: dg.PartitionsDefinition) -> dg.AssetsDefinition:
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
        ],
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        district_id, day = _partition(context)
        integration = registry.integration_for(feed.name, district_id)
        wh = _open(warehouse, feed)
        with wh.begin() as conn:
            delivery = ledger.latest_for_partition(conn, integration.id, ft.name, day)
        if delivery is None:
            note = {"result": "no file of this type was delivered for this day"}
            return dg.MaterializeResult(metadata={"file": "none", **note}, check_results=[
                dg.AssetCheckResult(check_name="schema", passed=True, metadata=note),
                dg.AssetCheckResult(check_name="district", passed=True, metadata=note)])
        staged = stage_delivery(wh, feed, ft, delivery, date_formats=integration.date_formats or feed.date_formats,
                                value_maps=integration.value_maps)
        checks = _gate_results(context, wh, registry, integration, ft, table, delivery, staged)
        context.log.info("staged %s: %d rows, %d row errors, %.2fs", delivery.file_name, staged.rows, staged.errors,
                         staged.seconds)
        return dg.MaterializeResult(metadata={**stage_metadata(ft, staged, table), "delivery": delivery.delivery_id,
                                              "sha256": (delivery.sha256 or "")[:16]}, check_results=checks)

    return _asset

def _apply_asset(registry: Registry, feed: Feed, pdef: dg.PartitionsDefinition, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([feed.name, feed.apply_asset]), deps=deps, partitions_def=pdef, group_name=feed.name,
        owners=OWNERS, pool=WAREHOUSE_POOL, kinds={"sql"}, description=feed.apply_description,
        metadata={"target tables": ", ".join(feed.target_tables)},
    )
    def _apply(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        started = time.monotonic()
        district_id, day = _partition(context)
        integration = registry.integration_for(feed.name, district_id)
        wh = _open(warehouse, feed)
        if feed.load == "delta":
            return apply_delta(context, wh, registry, feed, integration, day, started)
        with wh.begin() as conn:
            todo, notes = {}, []
            for ft in feed.files:
                d = ledger.latest_for_partition(conn, integration.id, ft.name, day)
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
        md = apply_metadata(stats, time.monotonic() - started)
        md["files applied"] = ", ".join(d.file_name for d in todo.values()) or "none"
        if notes:
            md["not applied"] = "; ".join(notes)
        return dg.MaterializeResult(metadata=md)

    return _apply

def build_feed_assets(registry: Registry, feed: Feed) -> list[dg.AssetsDefinition]:
    """All assets of one feed; empty when no integration of the feed is enabled."""
    if not registry.enabled(feed.name):
        return []
    pdef = partitions_for(registry, feed)
    files = [_file_asset(registry, feed, ft, pdef) for ft in feed.files]
    return [*files, _apply_asset(registry, feed, pdef, [a.key for a in files])]
