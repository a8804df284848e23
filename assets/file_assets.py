"""A feed's file assets: one partitioned source asset per file type, staged and held back by blocking gates
(schema, district, identity match rate)."""

from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from assets.feed_context import OWNERS, WAREHOUSE_POOL, open_warehouse, partition_of, protected_errors, reuse
from assets.metadata import column_schema, errors_markdown, stage_metadata
from assets.run_context import import_log_metadata, trigger_of
from hub import ledger
from hub.declarations import Feed, FileType, LinkRequest
from hub.district_names import candidates, confirmed
from hub.fetch import FetchConfig, fetch_now
from hub.gates import district_gate
from hub.registry import Integration, Registry
from hub.staging import StageResult, stage_delivery
from hub.tables import staging_table_name
from resources.archive import ArchiveResource
from resources.warehouse import Warehouse, WarehouseResource


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

def file_asset(registry: Registry, feed: Feed, ft: FileType, pdef: dg.PartitionsDefinition,
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
        district_id, day = partition_of(context)
        integration = registry.integration_for(feed.name, district_id)
        wh = open_warehouse(warehouse, feed)
        if config.fetch_from_transport:
            context.log.info("fetch for %s: %s", integration.id, fetch_now(registry, feed, integration, wh, archive.get(),
                                                                        base_dir, day))
        with wh.begin() as conn:
            delivery = ledger.for_run(conn, integration.id, ft.name, day, reuse(feed, config))
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
        return dg.MaterializeResult(metadata=md, check_results=checks)

    return _asset
