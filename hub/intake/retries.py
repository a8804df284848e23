"""Deliveries a run left behind (`queued` or `staged`) because it died (process killed, warehouse lost, disk full):
retried with exponential backoff a bounded number of times, then `failed` with the reason. A gate failure never
comes here: it rejects the delivery first. Plain Python; sensors/deliveries.py gives it the runs' states."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from hub.intake import ledger
from hub.intake.receive import PartitionRun
from hub.registry.registry import Integration
from hub.store.tables import deliveries

STUCK = ("queued", "staged")


@dataclass(frozen=True)
class RunState:
    """What the sweep needs of one Dagster run that imported a delivery."""

    run_id: str
    state: str  # "running" (queued, starting, started, canceling) | "succeeded" | "failed" (failed or canceled)
    ended: float  # epoch seconds of the last update
    why: str = ""  # e.g. Dagster's failure reason (UNEXPECTED_TERMINATION, STEP_FAILURE) or "canceled"
    will_retry: bool = False  # Dagster's own run retry will start another run


@dataclass
class Sweep:
    retries: list[PartitionRun]  # deliveries of one partition day to import again, by attempt
    counts: Counter[str]


RunsOf = Callable[[str, "str | None"], Sequence[RunState]]  # (delivery id, its last run id) -> its runs, newest first


def sweep(conn: sa.Connection, integration: Integration, runs_of: RunsOf, now: float,
          started: Collection[str] = ()) -> Sweep:
    """Decide for each `queued`/`staged` delivery of `integration` whose runs all ended (`started`: deliveries whose
    run this tick requests). A delivery no run ever took is retried once it has waited `retry_backoff_seconds`."""
    rows = conn.execute(sa.select(deliveries).where(deliveries.c.integration_id == integration.id,
                                                    deliveries.c.status.in_(STUCK))
                        .order_by(deliveries.c.partition_date)).all()
    out = Sweep([], Counter())
    by_day: dict[tuple[str, int], PartitionRun] = {}
    for row in rows:
        d = row._mapping
        if d["delivery_id"] in started:
            continue
        mine = list(runs_of(d["delivery_id"], d["run_id"]))
        if any(r.state == "running" for r in mine) or (mine and mine[0].state == "succeeded"):
            continue  # being imported, or staged by a run that chose not to apply (an operator's)
        if mine and mine[0].will_retry and now < mine[0].ended + integration.retry_backoff_seconds:
            out.counts["waiting for Dagster's retry of a failed run"] += 1  # after that: no daemon, the hub retries
            continue
        failed = [r for r in mine if r.state == "failed"]
        last = failed[0] if failed else None
        cause = f"run {last.run_id[:8]} failed ({last.why or 'unknown'})" if last else "no run was started for it"
        since = last.ended if last else d["updated_at"].replace(tzinfo=dt.timezone.utc).timestamp()
        if last is None and now < since + integration.retry_backoff_seconds:
            continue  # its run may still be on its way
        if len(failed) > integration.run_retries:
            reason = f"{cause}; gave up after {len(failed)} run(s)"
            ledger.set_status(conn, [d["delivery_id"]], "failed", reason)
            out.counts["failed after every retry"] += 1
            continue
        attempt = max(1, len(failed))
        due = since + integration.retry_backoff_seconds * 2 ** max(0, len(failed) - 1)
        if now < due:
            reason = (f"{cause}; retry {attempt} of {integration.run_retries} at "
                      f"{dt.datetime.fromtimestamp(due, dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
            if d["reason"] != reason:
                ledger.set_status(conn, [d["delivery_id"]], d["status"], reason)
            out.counts["waiting to retry"] += 1
            continue
        ledger.set_status(conn, [d["delivery_id"]], "queued", f"{cause}; retry {attempt} of {integration.run_retries}",
                          back=True)
        retry = by_day.setdefault((d["partition_date"], attempt),
                                  PartitionRun(integration.district, d["partition_date"], attempt=attempt))
        retry.file_types.add(d["file_type"])
        retry.delivery_ids.append(d["delivery_id"])
        out.counts["retried"] += 1
    out.retries = list(by_day.values())
    return out
