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

from demo.siras_files import students as synthetic_students
from feeds import FEEDS
from tests.harness import tick
from tests.protected import found, protected_values
from tests.test_siras_pipeline import SENSOR, drop, hub, landing, query  # noqa: F401  (fixtures)

OPS_TABLES = ("deliveries", "ingest_errors", "row_errors", "dropped_columns", "notifications")


def distinctive(n: int) -> pd.DataFrame:
    """Students whose ids, names and birthdates cannot occur in a log by chance."""
    frame = synthetic_students(n, "1964212").assign(Designation="SPED")
    i = pd.Series(range(n)).astype(str).str.zfill(4)
    return frame.assign(SSID="7318" + i.str.zfill(6), LOCAL_ID="LQ" + i + "X", FIRST_NAME="Fizzbee" + i,
                        LAST_NAME="Quorrel" + i, MIDDLE_NAME="Mibbo" + i,
                        BIRTHDATE=[f"2011{m:02d}{d:02d}" for m, d in zip(range(1, n + 1), range(3, n + 3))])


def seen_by_people(instance: dg.DagsterInstance, ticks: list, archive: Path, caplog: pytest.LogCaptureFixture) -> str:
    """Everything the hub shows outside its data tables, as one text."""
    parts = [dg.serialize_value(entry) for run in instance.get_runs() for entry in instance.all_logs(run.run_id)]
    parts += [str(t.skip_reason) + str([r.tags for r in t.result.run_requests or []]) for t in ticks]
    parts += [r.getMessage() for r in caplog.records]
    parts += [str(query(f"SELECT * FROM ops.{table}")) for table in OPS_TABLES]
    parts += [p.read_text(encoding="utf-8") for p in archive.rglob("*.import-log.txt")]
    return "\n".join(parts)


def test_no_student_value_reaches_logs_metadata_or_errors(hub, landing, hub_env, caplog):
    defs, instance = hub
    caplog.set_level(logging.DEBUG)
    good = distinctive(12)
    values = protected_values(FEEDS["siras"], drop(landing, "1964212_demographics.csv", good, age_seconds=7200))
    ticks = [tick(defs, instance, SENSOR)]
    changed = good.copy()
    changed.loc[0, "GRADE"] = "12" if good.loc[0, "GRADE"] != "12" else "11"
    changed.loc[1, "BIRTHDATE"] = "20110999"  # a birthdate update... that is impossible: the file is blocked
    bad = changed.copy()
    bad.loc[2, "SSID"] = "73X8000002"  # not 10 digits
    bad.loc[3, "EL_TYPE"] = "Quorrelish"  # not a code
    bad.loc[4, "SSID"] = bad.loc[5, "SSID"]  # repeated
    values |= protected_values(FEEDS["siras"], drop(landing, "1964212_demographics.csv", bad))
    ticks.append(tick(defs, instance, SENSOR, cursor=ticks[-1].cursor))
    changed.loc[1, "BIRTHDATE"] = "20111130"  # now a real update of a birthdate
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
    assert found(values | {"Quorrelish"}, [text]) == []  # nor the refused code
