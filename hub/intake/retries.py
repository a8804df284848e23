"""Deliveries a run left behind (`queued` or `staged`) because it died (process killed, warehouse lost, disk full),
never started (its request lost with a sensor tick past its deadline) or ended without finishing them: retried with
exponential backoff a bounded number of times, then `failed` with the reason. A gate failure never comes here: it
rejects the delivery first. Plain Python; sensors/deliveries.py gives it the runs' states."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from hub.intake import ledger
from hub.intake.receive import PartitionRun
from hub.registry.registry import Integration
from hub.store.statuses import HELD
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
    hub: bool = True  # started by the hub (a sensor's run or a retry), not by an operator


@dataclass
class Sweep:
    retries: list[PartitionRun]  # deliveries of one partition day to import again, by attempt
    counts: Counter[str]


RunsOf = Callable[[str, "str | None"], Sequence[RunState]]  # (delivery id, its last run id) -> its runs, newest first


def sweep(conn: sa.Connection, integration: Integration, runs_of: RunsOf, now: float,
          started: Collection[str] = ()) -> Sweep:
    """Decide for each `queued`/`staged` delivery of `integration` whose runs all ended (`started`: deliveries whose
    run this tick requests). A delivery no run ever took is retried once it has waited `retry_backoff_seconds`; so is
    one the hub's last run of it succeeded without finishing (a run that left it queued, or staged without a hold)."""
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
        if any(r.state == "running" for r in mine) or (mine and _left_as_meant(mine[0], d["status"], d["reason"])):
            continue  # being imported, staged by an operator's run that did not apply, or held behind an earlier day
        if mine and mine[0].will_retry and now < mine[0].ended + integration.retry_backoff_seconds:
            out.counts["waiting for Dagster's retry of a failed run"] += 1  # after that: no daemon, the hub retries
            continue
        missed = [r for r in mine if r.state in ("failed", "succeeded")]  # ended without finishing it
        last = missed[0] if missed else None
        cause = _cause(last, d["status"]) if last else "no run was started for it"
        since = last.ended if last else d["updated_at"].replace(tzinfo=dt.timezone.utc).timestamp()
        if last is None and now < since + integration.retry_backoff_seconds:
            continue  # its run may still be on its way
        if len(missed) > integration.run_retries:
            reason = f"{cause}; gave up after {len(missed)} run(s)"
            ledger.set_status(conn, [d["delivery_id"]], "failed", reason)
            out.counts["failed after every retry"] += 1
            continue
        attempt = max(1, len(missed))
        due = since + integration.retry_backoff_seconds * 2 ** max(0, len(missed) - 1)
        if now < due:
            reason = (f"{cause}; retry {attempt} of {integration.run_retries} at "
                      f"{dt.datetime.fromtimestamp(due, dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
            if d["reason"] != reason:
                ledger.set_status(conn, [d["delivery_id"]], d["status"], reason)
            out.counts["waiting to retry"] += 1
            continue
        if not ledger.set_status(conn, [d["delivery_id"]], "queued",
                                 f"{cause}; retry {attempt} of {integration.run_retries}", back_from=STUCK):
            continue  # a run moved it meanwhile (PostgreSQL): nothing to retry
        retry = by_day.setdefault((d["partition_date"], attempt),
                                  PartitionRun(integration.district, d["partition_date"], attempt=attempt))
        retry.file_types.add(d["file_type"])
        retry.delivery_ids.append(d["delivery_id"])
        retry.after.append(last.run_id if last else "")  # each retry a new run key: Dagster drops a used one
        out.counts["retried"] += 1
    out.retries = list(by_day.values())
    return out


def _left_as_meant(run: RunState, status: str, reason: str | None) -> bool:
    """Whether a delivery the newest `run` of it left `status` stays so: an operator's run may stage without
    applying; a delta day staged behind an earlier one waits for it (its reason says so)."""
    return run.state == "succeeded" and (not run.hub or (status == "staged" and (reason or "").startswith(HELD)))


def _cause(run: RunState, status: str) -> str:
    if run.state == "succeeded":
        return f"run {run.run_id[:8]} succeeded but left it {status}"
    return f"run {run.run_id[:8]} failed ({run.why or 'unknown'})"
