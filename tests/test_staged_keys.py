"""Keyed hashes staged with the rows (KeyedColumn): the SIRAS apply reads the staged `ssid_key` instead of hashing,
the stored student keys are the keyed hashes of district:SSID exactly as before, and rows staged by an older hub
(before the column was declared) get theirs filled in when applied, on DuckDB and PostgreSQL."""

from __future__ import annotations

import os

import sqlalchemy as sa

from demo.siras_files import students as synthetic_students
from feeds import FEEDS
from hub.intake import ledger
from hub.apply.upsert import ApplyContext
from hub.store.keyed import keyed_hash
from resources.warehouse import Warehouse
from tests.harness import tick
from tests.test_siras_pipeline import SENSOR, drop, hub, query  # noqa: F401 (fixtures)

STAGED = "staging.siras__demographics"


def test_staged_keys_are_the_student_keys_and_rows_staged_without_them_are_filled(hub, landing):  # noqa: F811
    defs, instance = hub
    frame = synthetic_students(30, "1964212").assign(Designation="SPED")
    drop(landing, "1964212_demographics.csv", frame)
    assert [r.success for r in tick(defs, instance, SENSOR).runs] == [True]
    (district,), = query("SELECT DISTINCT district_id FROM core.students")
    expected = {ssid: keyed_hash(f"{district}:{ssid}") for ssid in frame["SSID"]}
    assert dict(query("SELECT state_student_id, student_key FROM core.students")) == expected
    assert dict(query(f"SELECT ssid, ssid_key FROM {STAGED}")) == expected

    (did,), = query(f"SELECT DISTINCT delivery_id FROM {STAGED}")
    wh = Warehouse(os.environ["HUB_WAREHOUSE_URL"])
    with wh.begin() as conn:  # as an older hub left them: the SSIDs staged, their keys not
        conn.execute(sa.text(f"UPDATE {STAGED} SET ssid_key = NULL WHERE ssid <> :s"), {"s": frame.loc[0, "SSID"]})
        ctx = ApplyContext(conn, wh, FEEDS["siras"], None, None, None,  # type: ignore[arg-type]
                           {"demographics": ledger.get(conn, did)}, None, "test-run")  # type: ignore[arg-type]
        ctx.staged("demographics")
    assert dict(query(f"SELECT ssid, ssid_key FROM {STAGED}")) == expected
