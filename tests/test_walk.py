"""A feed's delivery sensor walks its integrations (hub/intake/walk.py): a tick stops when its budget is spent, the next one
goes on from there, files still growing keep their scan cursor, and the skip reason names who waited for what."""

from __future__ import annotations

from hub.intake.walk import NAMED, QUIET, Walk


class Clock:
    """Each reading is one second later: a check of one integration takes a second."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _tick(ids: list[str], cursor: dict, budget: float, reasons: dict[str, str] | None = None) -> Walk:
    walk = Walk(ids, cursor, budget, Clock())
    for integration_id, scan in walk:
        walk.record(integration_id, (reasons or {}).get(integration_id, QUIET), scan)
    return walk


def test_a_tick_out_of_budget_stops_and_the_next_goes_on_where_it_stopped():
    ids = ["siras_c", "siras_a", "siras_b", "siras_d"]
    first = _tick(ids, {}, budget=1.5)
    assert list(first.reasons) == ["siras_a", "siras_b"] and not first.complete
    assert first.cursor["next"] == "siras_c" and first.cursor["checked"] == 2
    assert "2 of 4 integration(s) checked" in first.summary("siras") and "goes on from siras_c" in first.summary("siras")
    second = _tick(ids, first.cursor, budget=1.5)
    assert list(second.reasons) == ["siras_c", "siras_d"]
    assert second.cursor["next"] == "siras_a"  # every integration checked: the walk starts over


def test_a_whole_tick_within_budget_and_at_least_one_integration_whatever_the_budget():
    ids = ["a1", "b2", "c3"]
    assert _tick(ids, {}, budget=60).complete
    assert list(_tick(ids, {"next": "b2"}, budget=0).reasons) == ["b2"]  # the walk always moves on
    assert list(_tick(ids, {"next": "gone"}, budget=60).reasons) == ["a1", "b2", "c3"]  # removed from the registry


def test_scan_cursors_are_kept_for_integrations_this_tick_did_not_reach():
    growing = {"x.csv": [10, 1.0, 5.0]}
    cursor = {"next": "a1", "scans": {"b2": growing, "zz_removed": growing}}
    walk = Walk(["a1", "b2"], cursor, 0.5, Clock())
    for integration_id, scan in walk:
        assert integration_id == "a1" and scan == {}
        walk.record(integration_id, QUIET, {})
    assert walk.cursor["scans"] == {"b2": growing}  # b2 gets its cursor next tick; a removed integration's is dropped


def test_the_skip_reason_names_who_waited_for_what_and_counts_quiet_folders():
    reasons = {"siras_b": "1 waiting: outside the processing window", "siras_a": "3 already received"}
    summary = _tick(["siras_a", "siras_b", "siras_c"], {}, 60, reasons).summary("siras")
    assert summary.splitlines() == ["siras: 3 of 3 integration(s) checked, 1 with no matching files",
                                    "• siras_b: 1 waiting: outside the processing window",  # notes before the routine
                                    "• siras_a: 3 already received"]
    many = {f"i{n:04d}": "1 waiting: summer pause" for n in range(NAMED + 5)}
    lines = _tick(list(many), {}, 10_000, many).summary("siras").splitlines()
    assert len(lines) == NAMED + 2 and lines[-1].startswith("• … and 5 more integration(s)")
