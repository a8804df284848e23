"""Staging does not grow by a file every night: after a snapshot delivery is applied, earlier deliveries' staged rows
of keys it delivers again are deleted; what re-imports and "when did a student last arrive" need is kept."""

from __future__ import annotations

import os

import sqlalchemy as sa

from demo.siras_files import students as synthetic_students
from tests.harness import rematerialize, tick
from tests.test_siras_pipeline import SENSOR, drop, hub, query, students_table  # noqa: F401 (fixtures)


def _staged() -> list[tuple[str, str]]:
    return query("SELECT d.file_name, s.ssid FROM staging.siras__demographics s JOIN ops.deliveries d "
                 "ON d.delivery_id = s.delivery_id ORDER BY 1, 2")


def test_applied_snapshot_prunes_rows_delivered_again_and_reimport_still_works(hub, landing):  # noqa: F811
    defs, instance = hub
    frame = synthetic_students(12, "1964212").assign(Designation="SPED")
    drop(landing, "1964212_demographics_prev.csv", frame, age_seconds=7200)
    first = tick(defs, instance, SENSOR)
    assert [r.success for r in first.runs] == [True]
    left = frame.iloc[11]["SSID"]  # the next file no longer carries this student
    drop(landing, "1964212_demographics.csv", frame.iloc[:11])
    second = tick(defs, instance, SENSOR, cursor=first.cursor)
    assert [r.success for r in second.runs] == [True]
    assert _staged() == sorted([("1964212_demographics.csv", s) for s in frame["SSID"][:11]]
                               + [("1964212_demographics_prev.csv", left)])
    # when each student last arrived (dbt's stg_siras__student_updates) is unchanged by the pruning
    arrivals = query("SELECT s.ssid, d.file_name FROM staging.siras__demographics s JOIN ops.deliveries d ON "
                     "d.delivery_id = s.delivery_id WHERE d.status = 'applied'")
    assert dict(arrivals)[left] == "1964212_demographics_prev.csv" and len(arrivals) == 12
    before = (students_table(), query("SELECT count(*) FROM ops.field_audit")[0][0])
    day = second.result.run_requests[0].partition_key.keys_by_dimension["date"]
    assert rematerialize(defs, instance, "siras_import", "abc_unified", day).success  # re-import from the archive
    assert students_table().equals(before[0])
    assert query("SELECT count(*) FROM ops.field_audit")[0][0] == before[1]
    assert len(_staged()) == 12
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:  # nothing of a kept delivery was pruned
        assert conn.execute(sa.text("SELECT count(*) FROM staging.siras__demographics s JOIN ops.deliveries d ON "
                                    "d.delivery_id = s.delivery_id WHERE d.file_name = '1964212_demographics.csv'")
                            ).scalar_one() == 11
