"""What a file asset's step does: fetch when asked, stage the day's file, run the blocking gates (schema, district,
identifiers, identity match rate), record the outcome in the ledger and show it as metadata. Imported by the step
(assets/file_assets.py), so its libraries (pandas, pyarrow, pandera, rapidfuzz) load in the run, not with the
definitions."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from assets.configuration_failure import configuration_failure
from assets.feed_context import open_warehouse, partition_of, protected_errors, reuse
from assets.metadata import ROW_ERROR_LIMIT, errors_markdown, row_errors_table, stage_metadata, stage_outcome
from assets.run_context import import_log_metadata, trigger_of
from hub.gates.checks import district_gate, identifier_gate
from hub.gates.district_names import candidates, confirmed
from hub.intake import ledger
from hub.intake.container_members import skipped_beside
from hub.intake.fetch import FetchConfig, fetch_now
from hub.intake.retention import purged_reason
from hub.load.staging import StageResult, stage_changes, stage_delivery
from hub.registry.declarations import Feed, FileType, LinkRequest
from hub.registry.registry import Integration, Registry
from hub.store.schema import staging_table_name
from resources.archive import ArchiveResource
from resources.warehouse import Warehouse, WarehouseResource


def stage_file(context: dg.AssetExecutionContext, config: FetchConfig, warehouse: WarehouseResource,
               archive: ArchiveResource, registry: Registry, feed: Feed, ft: FileType,
               base_dir: Path | None) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The step of one file type's partition (district, day): nothing when no file was delivered; a blocked file
    yields its checks, then fails the step."""
    key = dg.AssetKey([feed.name, ft.name])
    table = staging_table_name(feed, ft)
    district_id, day = partition_of(context)
    integration = registry.integration_for(feed.name, district_id)
    wh = open_warehouse(warehouse, feed)
    if config.fetch_from_transport:
        context.log.info("fetch for %s: %s", integration.id, fetch_now(registry, feed, integration, wh, archive.get(),
                                                                    base_dir, day))
    with wh.begin() as conn:
        delivery = _reapplied(conn, config, integration, ft, day) if config.delivery_id else \
            ledger.for_run(conn, integration.id, ft.name, day, reuse(feed, config))
        if delivery is not None and (purged := purged_reason(conn, delivery)):
            raise dg.Failure(description=purged, allow_retries=False)  # retention removed its archived file
        versions = ledger.earlier_same_day(conn, delivery) if delivery and ft.load == "reference" else []
        superseded = ledger.supersede_same_day(conn, delivery) if delivery and ft.load != "reference" else []
        apply_follows = delivery is None and not config.delivery_id and _apply_follows(context, conn, feed, ft, integration.id, day,
                                                            reuse(feed, config))
    if delivery is None:
        if apply_follows:  # Dagster skips a step when an upstream asset of its run yields nothing
            yield dg.MaterializeResult(metadata={"file": "none", "result": NO_FILE_BESIDE_OTHERS})
        else:
            context.log.info("no %s file for %s on %s: nothing to materialize", ft.name, district_id, day)
        return
    for earlier in versions:  # reference data: every version of the day is imported, as received
        with protected_errors(f"staging {earlier.file_name}"):
            first = stage_delivery(wh, feed, ft, earlier, value_maps=integration.value_maps,
                                   headers=integration.headers,
                                   date_formats=integration.date_formats or feed.date_formats)
        with configuration_failure(wh, integration, earlier, table, context.run_id):
            _gate_results(context, wh, registry, integration, ft, table, earlier, first)
    with protected_errors(f"staging {delivery.file_name}"):
        staged = stage_changes(wh, registry, feed, ft, integration, delivery, value_maps=integration.value_maps,
                                headers=integration.headers, max_cells=integration.limits.max_xlsx_cells,
                                on_row_error=integration.on_row_error,
                                max_row_error_share=integration.max_row_error_share,
                                date_formats=integration.date_formats or feed.date_formats)
    with configuration_failure(wh, integration, delivery, table, context.run_id):
        gates = _gate_results(context, wh, registry, integration, ft, table, delivery, staged)
    results = [r for r in gates if dg.AssetCheckKey(key, r.check_name) in context.selected_asset_check_keys]
    context.log.info("staged %s: %d rows, %d row errors, %.2fs", delivery.file_name, staged.rows, staged.errors,
                     staged.seconds)
    with wh.begin() as conn:
        log_md = import_log_metadata(context, conn, wh, delivery, {"rows read": staged.rows,
                                                               "result": stage_outcome(staged)})
        log_md[f"row errors (first {ROW_ERROR_LIMIT})"] = row_errors_table(conn, delivery.delivery_id)
        if skipped := skipped_beside(conn, delivery.delivery_id):
            log_md["skipped in the same zip"] = "; ".join(skipped)
    md = {**stage_metadata(ft, staged, table), "delivery": delivery.delivery_id, "delivered on": delivery.partition_date,
          "sha256": (delivery.sha256 or "")[:16], "trigger": trigger_of(context), **log_md}
    if superseded:
        md["superseded (same day, older)"] = ", ".join(superseded)
    if versions:
        md["earlier versions of the day (imported first)"] = ", ".join(
            f"{v.delivery_id} ({v.file_name})" for v in versions)
    failed = [r for r in gates if not r.passed]  # a gate blocks whether or not its check was selected
    if failed:  # the checks first, then the failure: the partition is FAILED, not materialized
        yield from results
        raise dg.Failure(description=f"{delivery.file_name} was blocked: " + blocked_reason(failed, staged),
                         metadata=md, allow_retries=False)
    yield dg.MaterializeResult(metadata=md)
    yield from results  # passing results count for the partition only after its materialization


def _gate_results(context: dg.AssetExecutionContext, wh: Warehouse, registry: Registry, integration: Integration,
                  ft: FileType, table: str, delivery: ledger.Delivery, staged: StageResult) -> list[dg.AssetCheckResult]:
    """Evaluate the gates, log failures to ops.ingest_errors and set the delivery's status."""
    with wh.begin() as conn:
        names = _district_names(conn, ft, table, delivery) if staged.passed else []
        gate = district_gate(registry, integration, ft, delivery.file_name, names,
                             candidates(registry) if names else None, confirmed(conn) if names else None)
        ids = identifier_gate(conn, ft, table, delivery.delivery_id, integration.district) \
            if staged.passed and gate.passed and ft.stored_identifiers() else None
        link = _link_check(conn, integration, ft, table, delivery) \
            if staged.passed and gate.passed and (ids is None or ids.passed) else None
    passed = staged.passed and gate.passed and (ids is None or ids.passed) and (link is None or link.passed)
    checks = [
        dg.AssetCheckResult(check_name="schema", passed=staged.passed, metadata={
            "file": delivery.file_name, "rows checked": staged.rows, "row errors": staged.errors,
            "on row error": staged.on_row_error, **({"result": staged.reason} if not staged.passed else {}),
            "first row errors": errors_markdown(staged.first_errors),
            "full report": "every row error is listed in the import log beside the archived file; the first "
                           f"{ROW_ERROR_LIMIT} are in the 'row errors' table of this delivery's metadata"}),
        dg.AssetCheckResult(check_name="district", passed=gate.passed,
                            metadata={"file": delivery.file_name, "result": gate.reason}),
    ] + ([dg.AssetCheckResult(check_name="identifiers", passed=ids is not None and ids.passed, metadata={
        "file": delivery.file_name, "result": ids.reason if ids else "not evaluated: an earlier gate blocked the file"})]
         if ft.stored_identifiers() else []) + ([link or dg.AssetCheckResult(check_name="match_rate", passed=False, metadata={
        "result": "not evaluated: an earlier gate blocked the file"})] if ft.link else [])
    with wh.begin(lock=integration.id) as conn:
        if link is not None and not link.passed:
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="match_rate", reason=str(link.metadata["result"].value),
                                    delivery_id=delivery.delivery_id, run_id=context.run_id)
        if not staged.passed:
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="schema", delivery_id=delivery.delivery_id,
                                    run_id=context.run_id, reason=staged.reason)
        ledger.record_rows(conn, delivery.delivery_id, staged.rows)
        if not passed:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE delivery_id = :d"), {"d": delivery.delivery_id})
        if ids is not None and not ids.passed:
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="identifiers", reason=ids.reason,
                                    delivery_id=delivery.delivery_id, run_id=context.run_id)
        if not gate.passed:
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=delivery.file_name, gate="district", reason=gate.reason,
                                    delivery_id=delivery.delivery_id, run_id=context.run_id)
        ledger.set_status(conn, [delivery.delivery_id], "staged" if passed else "rejected",
                          None if passed else "blocked: " + blocked_reason(checks, staged), context.run_id)
    return checks

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


def _reapplied(conn: sa.Connection, config: FetchConfig, integration: Integration, ft: FileType,
               day: str) -> ledger.Delivery | None:
    """The delivery a re-apply run re-imports (None for the feed's other file types)."""
    try:
        d = ledger.reapply_target(conn, config.delivery_id or "", config.requested_by, integration.id, day)
    except ledger.ReapplyError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    return d if d.file_type == ft.name else None


NO_FILE_BESIDE_OTHERS = ("no file of this type was delivered for this day; recorded because other files of the day "
                         "are applied in this run (Dagster skips the apply step when an upstream asset of the run "
                         "yields nothing)")


def _apply_follows(context: dg.AssetExecutionContext, conn: sa.Connection, feed: Feed, ft: FileType,
                   integration_id: str, day: str, reuse_latest: bool) -> bool:
    """Whether this run applies the feed's day: its apply asset is selected and another selected file type of the
    feed has a file to import for the day."""
    selected = context.run.asset_selection or None  # empty or None: the whole job
    if selected is not None and dg.AssetKey([feed.name, feed.apply_asset]) not in selected:
        return False
    others = [f for f in feed.files if f.name != ft.name
              and (selected is None or dg.AssetKey([feed.name, f.name]) in selected)]
    return any(ledger.for_run(conn, integration_id, f.name, day, reuse_latest) is not None for f in others)


def blocked_reason(checks: list[dg.AssetCheckResult], staged: StageResult) -> str:
    """The failed checks with their reasons, as the run's failure and the ledger say them."""
    return "; ".join(f"{r.check_name}: {_reason(r, staged)}" for r in checks if not r.passed)


def _reason(result: dg.AssetCheckResult, staged: StageResult) -> str:
    """A failed check's reason for people (counts, row numbers, column names and codes; never row values)."""
    if result.check_name == "schema":
        return staged.reason
    return str(result.metadata["result"].value) if "result" in result.metadata else "failed"
