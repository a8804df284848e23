"""Re-uploads and re-imports: identical bytes change nothing, changed bytes are taken, an older day re-imported or
backfilled stays applied and its run is in the delivery's history (the ledger only moves forward)."""

from __future__ import annotations

import time

import dagster as dg

from hub.intake import ledger
from resources.warehouse import Warehouse
from tests.faults.siras_hub import JOB, SENSOR, build_hub, clean_run, contents, drop, query, report, same, statuses
from tests.harness import rematerialize, tick


def test_identical_re_upload_changes_nothing(tmp_path, landing, hub_env):
    clean = clean_run(tmp_path, landing, 40)
    defs, instance = build_hub(tmp_path, landing), dg.DagsterInstance.ephemeral()
    drop(landing, 40, mtime=time.time() - 60)
    first = tick(defs, instance, SENSOR)
    drop(landing, 40)  # the same bytes uploaded again: new modification time
    again = tick(defs, instance, SENSOR, cursor=first.cursor)
    assert again.runs == [] and "identical bytes" in again.skip_reason
    assert sorted(s for s in query("SELECT status FROM ops.deliveries")) == [("applied",), ("duplicate",)]
    equal = same(contents(), clean)
    report("identical re-upload", "duplicate (no run)", equal)
    assert equal


def test_changed_re_upload_is_taken(tmp_path, landing, hub_env):
    clean = clean_run(tmp_path, landing, 40, regrade=True)
    defs, instance = build_hub(tmp_path, landing), dg.DagsterInstance.ephemeral()
    drop(landing, 40, mtime=time.time() - 60)
    first = tick(defs, instance, SENSOR)
    drop(landing, 40, regrade=True)  # corrected grades under the same name
    again = tick(defs, instance, SENSOR, cursor=first.cursor)
    assert [r.success for r in again.runs] == [True]
    assert [s for (s,) in query("SELECT status FROM ops.deliveries")] == ["applied", "applied"]
    equal = same(contents("core.students"), {"core.students": clean["core.students"]})
    report("changed re-upload", "applied", equal)
    assert equal


def test_re_import_and_backfill_of_an_older_day_keep_it_applied(tmp_path, landing, hub_env):
    defs, instance = build_hub(tmp_path, landing), dg.DagsterInstance.ephemeral()
    drop(landing, 20, name="1964212_demographics_prev.csv", mtime=time.time() - 2 * 86400)
    older = tick(defs, instance, SENSOR)
    drop(landing, 25, seed=3)
    newer = tick(defs, instance, SENSOR, cursor=older.cursor)
    assert [r.success for r in older.runs + newer.runs] == [True, True]
    before = contents()
    days = [t.result.run_requests[0].partition_key.keys_by_dimension["date"] for t in (older, newer)]
    again = rematerialize(defs, instance, JOB, "abc_unified", days[0])  # an operator re-imports the older day
    backfill = [rematerialize(defs, instance, JOB, "abc_unified", d) for d in days]  # a backfill of both days
    assert again.success and all(r.success for r in backfill)
    assert statuses() == {"1964212_demographics_prev.csv": "applied", "1964212_demographics.csv": "applied"}
    did = query("SELECT delivery_id FROM ops.deliveries WHERE file_name = '1964212_demographics_prev.csv'")[0][0]
    with Warehouse(hub_env["url"]).begin() as conn:
        events = ledger.history(conn, did)
    runs = {e.run_id for e in events}
    assert {again.run_id, backfill[0].run_id} <= runs  # each re-import's run is in the history
    assert all(not e.moved for e in events if e.run_id in (again.run_id, backfill[0].run_id))
    assert same(contents(), before)
