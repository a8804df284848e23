"""The per-delivery import log (archive file + UI link) and the manual-trigger tag, end to end on both warehouses."""

from __future__ import annotations

import os
from pathlib import Path

from demo.siras_files import students as synthetic_students
from hub.apply.import_log import write_import_log
from hub.intake import ledger
from resources.warehouse import Warehouse
from tests.harness import rematerialize, tick
from tests.test_siras_pipeline import SENSOR, drop, hub, query  # noqa: F401  (fixtures)


def materialization(run, node: str):  # noqa: ANN001, ANN201
    return run.asset_materializations_for_node(node)[0].metadata


def failure(run, node: str):  # noqa: ANN001, ANN201
    """The metadata a blocked file's failed step carries (it has no materialization)."""
    event = next(e for e in run.all_events if e.is_step_failure and e.step_key == node)
    return event.step_failure_data.user_failure_data.metadata


def records(value) -> list[tuple]:  # noqa: ANN001
    return [tuple(r.data.values()) for r in value.value.records]


def no_student_values(text: str, frame) -> None:  # noqa: ANN001
    for col in ("SSID", "LOCAL_ID", "LAST_NAME", "FIRST_NAME", "BIRTHDATE"):
        assert not any(str(v) in text for v in frame[col] if len(str(v)) > 3), col


def test_import_log_lists_counts_and_changes_by_hashed_key(hub, landing):
    defs, instance = hub
    frame = synthetic_students(12, "1964212").assign(Designation="SPED")
    frame.loc[11, "Designation"] = ""  # not designated: not created
    drop(landing, "1964212_demographics.csv", frame, age_seconds=7200)
    first = tick(defs, instance, SENSOR)
    changed = frame.copy()
    changed.loc[0, ["GRADE", "EL_TYPE"]] = ["12", "RFEP" if frame.loc[0, "EL_TYPE"] != "RFEP" else "EL"]
    drop(landing, "1964212_demographics.csv", changed)
    run = tick(defs, instance, SENSOR, cursor=first.cursor).runs[0]
    assert run.success and run.dagster_run.tags["hub/trigger"] == "sensor"
    md = materialization(run, "siras__student_updates")
    assert md["trigger"].value == "sensor"
    path = Path(md["import log (demographics)"].value)
    assert path.parent == Path(query("SELECT archive_path FROM ops.deliveries WHERE status = 'applied' "
                                     "ORDER BY mtime DESC")[0][0]).parent  # kept in the archive beside the file
    text = path.read_text()
    key = query("SELECT student_key FROM core.students WHERE state_student_id = :s", s=frame.loc[0, "SSID"])[0][0]
    assert f"{key}, update, el_type grade" in text and "rows staged: 12" in text
    assert "rows rejected | 0" in md["import log preview (demographics)"].value
    shown = md["import log text (demographics)"].value  # readable in the browser, unlike the path
    assert f"{key}, update, el_type grade" in shown and "file: 1964212_demographics.csv" in shown
    assert records(md["fields changed (demographics)"]) == [("core.students", "update", "el_type", 1),
                                                            ("core.students", "update", "grade", 1)]
    staged = materialization(run, "siras__demographics")
    assert staged["rows read"].value == 12 and records(staged["row errors (first 500)"]) == []
    first_log = Path(materialization(first.runs[0], "siras__student_updates")["import log (demographics)"].value)
    assert first_log.read_text().count(", create,") == 11
    no_student_values(text + first_log.read_text() + md["import log preview (demographics)"].value, frame)


def test_rejected_rows_are_logged_without_values(hub, landing):
    defs, instance = hub
    frame = synthetic_students(8, "1964212").assign(Designation="SPED")
    frame.loc[2, "EL_TYPE"], frame.loc[5, "BIRTHDATE"] = "LEP", "20100230"
    drop(landing, "1964212_demographics.csv", frame)
    run = tick(defs, instance, SENSOR).runs[0]
    assert not run.success
    md = failure(run, "siras__demographics")
    assert [r[:3] for r in records(md["row errors (first 500)"])] == [(4, 4, "el_type"), (7, 7, "birthdate")]
    assert md["rows rejected"].value == 2 and "[rejected rows]" in md["import log text (demographics)"].value
    text = Path(md["import log (demographics)"].value).read_text()
    rejected = text.split("[rejected rows] row, line, column, rule (")[1].split("\n\n")[0].splitlines()[1:]
    assert [line.split(", ")[:3] for line in rejected] == [["4", "4", "el_type"], ["7", "7", "birthdate"]]
    assert "header = row 1" in text
    listed = Path(md["row errors CSV (demographics)"].value).read_text()
    assert [line.split(",")[:3] for line in listed.splitlines()] == [["row", "line", "column"], ["4", "4", '"el_type"'],
                                                                     ["7", "7", '"birthdate"']]
    assert "LEP" not in listed and "20100230" not in listed
    assert "result: rejected" in text and "LEP" not in text and "20100230" not in text
    no_student_values(text, frame)


def test_manual_rematerialization_is_tagged_manual(hub, landing):
    defs, instance = hub
    drop(landing, "1964212_demographics.csv", synthetic_students(5, "1964212"))
    t = tick(defs, instance, SENSOR)
    day = t.result.run_requests[0].partition_key.keys_by_dimension["date"]
    result = rematerialize(defs, instance, "siras_import", "abc_unified", day)
    assert result.success
    assert instance.get_run_by_id(result.run_id).tags["hub/trigger"] == "manual"
    md = materialization(result, "siras__student_updates")
    assert md["trigger"].value == "manual" and "trigger: manual" in Path(md["import log (demographics)"].value).read_text()


def test_many_creates_are_one_line_per_table_with_their_count(hub, landing):
    """Above `creates_listed` created records a table's creates are one line (count, and the SQL that lists their
    keys) instead of one line per record; the log's counts stay the same."""
    defs, instance = hub
    frame = synthetic_students(12, "1964212").assign(Designation="SPED")
    drop(landing, "1964212_demographics.csv", frame)
    run = tick(defs, instance, SENSOR).runs[0]
    assert run.success
    (did,) = query("SELECT delivery_id FROM ops.deliveries WHERE status = 'applied'")[0]
    wh = Warehouse(os.environ["HUB_WAREHOUSE_URL"])
    with wh.begin() as conn:
        delivery = ledger.get(conn, did)
        listed = write_import_log(conn, wh, delivery, run_id=run.run_id, trigger="manual", counts={})
        summed = write_import_log(conn, wh, delivery, run_id=run.run_id, trigger="manual", counts={}, creates_listed=11)
    assert listed.created == summed.created == 12
    text = Path(summed.path).read_text()
    assert text.count(", create,") == 1 and "(12 records of core.students), create, keys not listed above 11" in text
    assert f"SELECT student_key FROM core.students WHERE created_delivery_id = '{did}'" in text
    keys = {k for (k,) in query("SELECT student_key FROM core.students WHERE created_delivery_id = :d", d=did)}
    assert len(keys) == 12 and not any(k in text for k in keys)  # and no student value (keys are hashes anyway)
    no_student_values(text, frame)
