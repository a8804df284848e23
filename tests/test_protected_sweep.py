"""The FERPA sweep's comparison (tests/protected.py): token by token, so it cannot fail by coincidence and still
finds a value that leaks."""

from __future__ import annotations

import datetime as dt
import json

from tests.protected import ambiguous, found, render_rows

STAMP = dt.datetime(2026, 12, 1, 22, 33, 19, 605110)
RUN_ID = "60511000-9a6d-4448-8605-110000605110"


def test_a_number_inside_a_timestamp_or_run_id_is_not_a_leak():
    rows = [(RUN_ID, STAMP, 42, "applied")]  # a row of ops.deliveries, as the demo run wrote it
    texts = [render_rows(rows), json.dumps({"timestamp": STAMP.timestamp(), "run_id": RUN_ID}), STAMP.isoformat()]
    assert found({"605110", "60511000", "110000605110"}, texts) == []
    assert found({"605110"}, [str(rows)]) == ["605110"]  # the repr the sweep searched: microseconds on their own
    assert ambiguous({"605110", "20110103", "1796164104", "8100000123", "0100042", "7318000001"}) == [
        "1796164104", "20110103", "605110"]  # a 6-digit number, a bare date, a Unix time: never demo ids


def test_a_leaked_value_is_found_however_it_is_written():
    values = {"8100000123", "Quorrel", "Doe, Ana", "student0.1@belleville.example.org", "2011-01-03", "0100042"}
    texts = [f"run {RUN_ID} at {STAMP}: student 8100000123 failed",
             render_rows([("x.csv", "name Garcia-Quorrel rejected", 3)]),
             json.dumps({"message": "owner Doe, Ana", "email": "<student0.1@belleville.example.org>"}),
             "born 2011-01-03.", "local id (0100042)"]
    assert found(values, texts) == sorted(values)
    assert found({"Doe, Ana"}, ["Ana Doe", "Doe; Jane, Ana"]) == []  # a run of tokens, in order
