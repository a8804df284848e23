"""Holds in the Dagster UI: the result of the apply asset's `hold` check per partition (failed while a delivery of
the day waits for approval, with the reason and the preview), and the decision its run config asks for
(assets/hold_spec.py declares both)."""

from __future__ import annotations

import json
from collections.abc import Callable

import dagster as dg
import sqlalchemy as sa

from assets.hold_spec import CHECK, ApplyConfig
from hub.apply import holds
from hub.registry.registry import Integration


def decision_of(config: ApplyConfig, integration: Integration, day: str, run_id: str,
                log: Callable[[str], None]) -> Callable[[sa.Connection], object] | None:
    """The decision the run config asks for, as a step of the apply's transaction (None: no decision)."""
    if not config.decision:
        return None
    if config.decision not in holds.DECISIONS or not config.delivery_id or not config.by.strip():
        raise dg.Failure("to decide a hold, give decision ('approve' or 'discard'), delivery_id and by (your name)",
                         allow_retries=False)

    def decide(conn: sa.Connection) -> None:
        row = holds.hold_of(conn, config.delivery_id)
        if row is not None and (row.integration_id, row.partition_date) != (integration.id, day):
            raise dg.Failure(f"delivery {config.delivery_id} is held on {row.partition_date} for "
                             f"{row.integration_id}: materialize that partition to decide it", allow_retries=False)
        try:
            done = holds.decide(conn, config.delivery_id, config.decision, config.by, run_id)
        except holds.HoldError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from None
        log(f"{'already ' if done.already else ''}{done.decision} by {done.by} at {done.at}"
            + (": nothing more to do" if done.already else f": {len(done.delivery_ids)} delivery(ies)"))

    return decide


def waiting(conn: sa.Connection, integration_id: str, day: str) -> list[sa.Row]:
    """The day's deliveries held for approval."""
    return [r for r in holds.pending(conn, integration_id) if r.partition_date == day]


def decided(conn: sa.Connection, integration_id: str, day: str) -> list[sa.Row]:
    return [r for r in holds.pending(conn, integration_id, decided=True)
            if r.partition_date == day and r.decision is not None]


def held_metadata(rows: list[sa.Row], op_name: str) -> dict[str, object]:
    """Reason, files and preview of the day's holds (counts and names only), and how to decide."""
    preview = json.loads(rows[0].preview)
    ids = ", ".join(r.delivery_id for r in rows)
    return {
        "result": rows[0].reason,
        "held deliveries": ids,
        "files held": ", ".join(r.file_name for r in rows),
        "preview": dg.MetadataValue.md(_preview_md(preview)),
        "how to decide": dg.MetadataValue.md(
            f"`hub holds approve {rows[0].delivery_id} --by NAME` (or `discard`), or materialize this partition "
            f"with run config `ops: {{{op_name}: {{config: {{decision: approve, delivery_id: "
            f"{rows[0].delivery_id}, by: NAME}}}}}}`")}


def hold_result(key: dg.AssetKey, rows: list[sa.Row], done: list[sa.Row], behind: str | None,
                op_name: str) -> dg.AssetCheckResult:
    """The partition's hold check: failed while a delivery waits (ERROR) or the day waits behind a held or missing
    one (WARN); a decided hold says who decided what, when."""
    if rows:
        return dg.AssetCheckResult(asset_key=key, check_name=CHECK, passed=False,
                                   metadata=held_metadata(rows, op_name))
    if behind:
        return dg.AssetCheckResult(asset_key=key, check_name=CHECK, passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"result": behind})
    said = "; ".join(dict.fromkeys(f"{r.file_name} {r.decision} by {r.decided_by} at {r.decided_at:%Y-%m-%d %H:%M} UTC"
                                   for r in done))
    if any(r.decision == "discarded" for r in done):
        return dg.AssetCheckResult(asset_key=key, check_name=CHECK, passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"result": f"nothing of it applied: {said}"})
    return dg.AssetCheckResult(asset_key=key, check_name=CHECK, passed=True,
                               metadata={"result": said or "no delivery of the day was held"})


def _preview_md(preview: dict[str, object]) -> str:
    return "\n".join(f"- {line}" for line in holds.preview_lines(preview))
