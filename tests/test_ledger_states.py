"""The delivery state machine: one declared list of statuses, status only moves forward, every change in history."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from hub.intake import ledger
from hub.store.statuses import STATUSES
from resources.warehouse import Warehouse


def _record(conn: sa.Connection, did: str, status: str) -> None:
    ledger.record(conn, delivery_id=did, integration_id="i", district_id="d", feed="siras", file_type="demographics",
                  remote_path=f"{did}.csv", file_name=f"{did}.csv", size=1, mtime=dt.datetime(2026, 1, 1),
                  partition_date="2026-01-01", status=status)


def _status(conn: sa.Connection, did: str) -> str:
    return ledger.get(conn, did).status


def test_status_moves_forward_and_every_run_is_in_the_history(wh: Warehouse):
    with wh.begin() as conn:
        _record(conn, "a", "queued")
        assert ledger.set_status(conn, ["a"], "staged", run_id="r1") == ["a"]
        ledger.set_status(conn, ["a"], "applied", run_id="r1")
        # a re-import of an applied delivery stages it again: the delivery stays applied, the run is in its history
        assert ledger.set_status(conn, ["a"], "staged", run_id="r2") == []
        assert _status(conn, "a") == "applied"
        ledger.set_status(conn, ["a"], "queued", run_id="r3")
        assert _status(conn, "a") == "applied"
        history = [(h.status, h.run_id, h.moved) for h in ledger.history(conn, "a")]
    assert history == [("queued", None, True), ("staged", "r1", True), ("applied", "r1", True),
                       ("staged", "r2", False), ("queued", "r3", False)]


def test_a_rejected_delivery_may_get_a_new_outcome_from_a_re_import(wh: Warehouse):
    with wh.begin() as conn:
        _record(conn, "b", "queued")
        ledger.set_status(conn, ["b"], "rejected", "blocked by a gate")
        assert ledger.set_status(conn, ["b"], "queued") == []  # never back on the path by itself
        assert ledger.set_status(conn, ["b"], "staged", run_id="r2") == ["b"]  # re-imported after a registry fix
        ledger.set_status(conn, ["b"], "applied", run_id="r2")
        assert _status(conn, "b") == "applied"


def test_a_replay_may_move_an_applied_day_back_when_it_says_so(wh: Warehouse):
    with wh.begin() as conn:
        _record(conn, "c", "applied")
        assert ledger.set_status(conn, ["c"], "staged", "held: the delivery of 2026-01-01 is missing",
                                 back_from=("staged", "applied")) == ["c"]
        assert _status(conn, "c") == "staged"


def test_unknown_status_is_refused(wh: Warehouse):
    with wh.begin() as conn:
        _record(conn, "d", "queued")
        with pytest.raises(ValueError, match="unknown delivery status 'done'"):
            ledger.set_status(conn, ["d"], "done")


def test_the_warehouse_holds_the_declared_statuses(wh: Warehouse):
    with wh.begin() as conn:
        rows = {r.status: (r.meaning, r.final) for r in conn.execute(sa.text("SELECT * FROM ops.delivery_statuses"))}
    assert {s: m for s, (m, _) in rows.items()} == STATUSES
    assert rows["applied"][1] and not rows["staged"][1]
