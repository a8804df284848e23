"""What the asset pages say about each delivery day, read the way the UI reads it (partition status and per-partition
check executions from the instance): a blocked file is a failed partition with a failed check for that partition,
later good days do not mask it, and a day without a file is not materialized by a manual run or a backfill."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from demo.siras_files import students as synthetic_students
from tests.harness import rematerialize, tick
from tests.test_siras_pipeline import SENSOR, drop, hub, query  # noqa: F401 (fixtures)

FILE = dg.AssetKey(["siras", "demographics"])
FILE_504 = dg.AssetKey(["siras", "demographics_504"])
APPLY = dg.AssetKey(["siras", "student_updates"])
DAY = 86_400


def day_of(run: dg.ExecuteInProcessResult) -> str:
    return run.dagster_run.tags["dagster/partition/date"]


def status(instance: dg.DagsterInstance, defs: dg.Definitions, key: dg.AssetKey, day: str) -> str | None:
    pdef = defs.resolve_assets_def(key).partitions_def
    pk = dg.MultiPartitionKey({"date": day, "district": "abc_unified"})
    got = (instance.get_status_by_partition(key, [pk], pdef) or {}).get(pk)
    return got.value if got else None


def check_status(instance: dg.DagsterInstance, key: dg.AssetKey, check: str, day: str) -> str | None:
    """The newest execution of one check for one partition (what the Checks tab shows for that partition)."""
    records = instance.event_log_storage.get_asset_check_execution_history(dg.AssetCheckKey(key, check), limit=50)
    mine = [r for r in records if r.partition == f"{day}|abc_unified"]
    return mine[0].status.value if mine else None


def test_blocked_file_is_a_failed_partition_and_a_later_good_day_does_not_mask_it(hub, landing):
    defs, instance = hub
    drop(landing, "1062166_demographics.csv", synthetic_students(10, "1964212"), age_seconds=2 * DAY)  # other district
    blocked = tick(defs, instance, SENSOR)
    assert [r.success for r in blocked.runs] == [False]
    drop(landing, "1964212_demographics.csv", synthetic_students(10, "1964212", seed=1))
    good = tick(defs, instance, SENSOR, cursor=blocked.cursor)
    assert [r.success for r in good.runs] == [True]
    bad_day, good_day = day_of(blocked.runs[0]), day_of(good.runs[0])
    assert status(instance, defs, FILE, bad_day) == "FAILED"
    assert status(instance, defs, FILE, good_day) == "MATERIALIZED"
    assert check_status(instance, FILE, "district", bad_day) == "FAILED"
    assert check_status(instance, FILE, "district", good_day) == "SUCCEEDED"
    assert check_status(instance, FILE, "schema", good_day) == "SUCCEEDED"
    assert status(instance, defs, APPLY, bad_day) != "MATERIALIZED"
    assert status(instance, defs, APPLY, good_day) == "MATERIALIZED"
    failure = next(e for e in blocked.runs[0].all_events if e.is_step_failure)
    assert "district code 1062166" in failure.step_failure_data.user_failure_data.description


def test_a_day_without_a_file_is_not_materialized_by_a_manual_run(hub, landing):
    defs, instance = hub
    empty_day = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    run = rematerialize(defs, instance, "siras_import", "abc_unified", empty_day)
    assert run.success
    assert [status(instance, defs, k, empty_day) for k in (FILE, FILE_504, APPLY)] == [None, None, None]
    assert check_status(instance, FILE, "schema", empty_day) in (None, "PLANNED")  # never evaluated


def test_a_manual_run_of_a_day_with_some_files_still_applies_them(hub, landing):
    """SIRAS's 504 file did not come: the day's re-import must still apply the main file (Dagster skips a step
    when an upstream asset of the same run yields nothing, so the missing type is recorded as 'no file')."""
    defs, instance = hub
    drop(landing, "1964212_demographics.csv", synthetic_students(10, "1964212"))
    t = tick(defs, instance, SENSOR)
    assert [r.success for r in t.runs] == [True]
    day = day_of(t.runs[0])
    assert status(instance, defs, FILE_504, day) is None  # the sensor's run selects the types that arrived
    run = rematerialize(defs, instance, "siras_import", "abc_unified", day)
    assert run.success
    assert APPLY in {e.asset_key for e in run.get_asset_materialization_events()}
    md = next(e.materialization.metadata for e in run.get_asset_materialization_events() if e.asset_key == FILE_504)
    assert md["file"].value == "none"


def test_a_backfill_over_days_without_files_leaves_them_unmaterialized(hub, landing):
    defs, instance = hub
    days = [(dt.date.today() - dt.timedelta(days=n)).isoformat() for n in (5, 4)]
    job = defs.resolve_job_def("siras_import")
    for day in days:  # a backfill launches one run per partition
        key = dg.MultiPartitionKey({"date": day, "district": "abc_unified"})
        assert job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False,
                                      tags={"dagster/backfill": "b1"}).success
    assert {status(instance, defs, k, d) for k in (FILE, FILE_504, APPLY) for d in days} == {None}

