"""FERPA sweep, end to end on both warehouses: good, changed and bad SIRAS deliveries of students with distinctive
values, then every place a person or a log reader sees is searched for those values: Dagster's event log (log
lines, metadata, check results, failures with their stack traces), sensor skip reasons and run tags, Python log
records, the hub's own ops tables and the import logs in the archive. Only the warehouse's data tables (students,
staging, audit) may hold them."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from demo.siras_files import students as synthetic_students
from feeds import FEEDS
from hub.intake import ledger
from tests.harness import tick
from tests.protected import ambiguous, found, protected_values, render_rows
from tests.test_siras_pipeline import SENSOR, drop, hub, query  # noqa: F401  (fixtures)

OPS_TABLES = ("deliveries", "ingest_errors", "row_errors", "dropped_columns", "notifications")


def distinctive(n: int) -> pd.DataFrame:
    """Students whose ids, names and birthdates cannot occur in a log by chance."""
    frame = synthetic_students(n, "1964212").assign(Designation="SPED")
    i = pd.Series(range(n)).astype(str).str.zfill(4)
    return frame.assign(SSID="7318" + i.str.zfill(6), LOCAL_ID="LQ" + i + "X", FIRST_NAME="Fizzbee" + i,
                        LAST_NAME="Quorrel" + i, MIDDLE_NAME="Mibbo" + i,
                        BIRTHDATE=[f"{d:02d}/{m:02d}/2011" for m, d in zip(range(1, n + 1), range(3, n + 3))])


def seen_by_people(instance: dg.DagsterInstance, ticks: list, archive: Path, caplog: pytest.LogCaptureFixture) -> str:
    """Everything the hub shows outside its data tables, as one text."""
    parts = [dg.serialize_value(entry) for run in instance.get_runs() for entry in instance.all_logs(run.run_id)]
    parts += [str(t.skip_reason) + str([r.tags for r in t.result.run_requests or []]) for t in ticks]
    parts += [r.getMessage() for r in caplog.records]
    parts += [render_rows(query(f"SELECT * FROM ops.{table}")) for table in OPS_TABLES]
    parts += [p.read_text(encoding="utf-8") for p in archive.rglob("*.import-log.txt")]
    parts += [p.read_text(encoding="utf-8") for p in archive.rglob("*.row-errors.csv")]
    return "\n".join(parts)


def test_no_student_value_reaches_logs_metadata_or_errors(hub, landing, hub_env, caplog):
    defs, instance = hub
    caplog.set_level(logging.DEBUG)
    good = distinctive(12)
    values = protected_values(FEEDS["siras"], drop(landing, "1964212_demographics.csv", good, age_seconds=7200))
    ticks = [tick(defs, instance, SENSOR)]
    changed = good.copy()
    changed.loc[0, "GRADE"] = "12" if good.loc[0, "GRADE"] != "12" else "11"
    changed.loc[1, "BIRTHDATE"] = "31/09/2011"  # a birthdate update... that is impossible: the file is blocked
    bad = changed.copy()
    bad.loc[2, "SSID"] = "73X8000002"  # not 10 digits
    bad.loc[3, "EL_TYPE"] = "Quorrelish"  # not a code
    bad.loc[4, "SSID"] = bad.loc[5, "SSID"]  # repeated
    values |= protected_values(FEEDS["siras"], drop(landing, "1964212_demographics.csv", bad))
    ticks.append(tick(defs, instance, SENSOR, cursor=ticks[-1].cursor))
    changed.loc[1, "BIRTHDATE"] = "30/11/2011"  # now a real update of a birthdate
    values |= protected_values(FEEDS["siras"], drop(landing, "1964212_demographics.csv", changed))
    ticks.append(tick(defs, instance, SENSOR, cursor=ticks[-1].cursor))
    drop(landing, "1062166_demographics.csv", changed.head(5))  # another district's file
    ticks.append(tick(defs, instance, SENSOR, cursor=ticks[-1].cursor))

    outcomes = [[r.success for r in t.runs] for t in ticks]
    assert outcomes == [[True], [False], [True], [False]]
    rules = {r for (r,) in query("SELECT rule FROM ops.row_errors")}
    assert any("SSID" in r for r in rules) and any("impossible date" in r for r in rules)
    assert query("SELECT count(*) FROM ops.field_audit WHERE field = 'birthdate'")[0][0] == 1
    text = seen_by_people(instance, ticks, Path(str(hub_env["home"])) / "archive", caplog)
    assert len(values) > 12 * 5 and "73X8000002" in values  # ids, names, birthdates (also ISO), the refused SSID
    assert ambiguous(values) == []  # no value a count or a timestamp could equal
    assert found(values | {"Quorrelish"}, [text]) == []  # nor the refused code


def test_the_sweep_finds_a_planted_value_wherever_it_leaks(hub, landing, hub_env, caplog):
    """The sweep is not blind: values planted in a log line, an engine event, an ops table and an import log (each
    beside timestamps, counts and run ids) are found, token by token; nothing else is."""
    defs, instance = hub
    caplog.set_level(logging.DEBUG)
    good = distinctive(3)
    values = protected_values(FEEDS["siras"], drop(landing, "1964212_demographics.csv", good))
    ticks = [tick(defs, instance, SENSOR)]
    assert [r.success for r in ticks[0].runs] == [True]
    ssid, local, last, first = good.loc[0, ["SSID", "LOCAL_ID", "LAST_NAME", "FIRST_NAME"]]
    run = instance.get_runs()[0]
    instance.report_engine_event(f"row 2 of run {run.run_id} at 2026-12-01 22:33:19.605110: ssid {ssid}", run)
    logging.getLogger("hub.test").warning("could not match %s, %s (%d rows)", last, first, 3)
    engine = sa.create_engine(hub_env["url"], poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        ledger.log_ingest_error(conn, integration_id="siras_abc_unified", district_id="abc_unified",
                                file_name="x.csv", gate="schema", reason=f"student {local} is unknown")
    engine.dispose()
    log = next((Path(str(hub_env["home"])) / "archive").rglob("*.import-log.txt"))
    log.write_text(log.read_text(encoding="utf-8") + "\nborn 2011-01-03\n", encoding="utf-8")
    text = seen_by_people(instance, ticks, Path(str(hub_env["home"])) / "archive", caplog)
    assert found(values, [text]) == sorted({ssid, local, last, first, "2011-01-03"})
