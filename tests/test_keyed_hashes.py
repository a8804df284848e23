"""Student identifiers at rest are keyed hashes (HMAC-SHA256 with HUB_HASH_KEY), on both warehouses: a dictionary
of known emails and ids cannot reverse them without the key, the same key gives the same hashes on a re-import, an
older warehouse's unkeyed md5 hashes are re-keyed in place, and a missing or changed key is a clear error that never
echoes a key."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.star_files import classlink_users, ps_students, roster, star_rows
from deploy.stack import check_environment
from feeds import FEEDS
from hub.store import schema as hub_schema
from hub.store.keyed import HashKeyError, hash_key, keyed_hash
from resources.warehouse import Warehouse
from tests.harness import rematerialize, tick
from tests.test_star_pipeline import RENAISSANCE_NAME, belleville, header, load_identity, put, query, star

EMAIL = "U_StudentsUserFields.StudentEmail"
SECRET = "a-key-only-this-test-knows-0123456789abcdef"


def _dictionary(values: list[str]) -> set[str]:
    """What an attacker computes from known emails and ids: unkeyed digests of them and of the hub's key texts."""
    texts = set(values) | {f"belleville:{s}:{v}" for v in values for s in ("classlink", "powerschool")}
    texts |= {f"belleville:{v}" for v in values}
    return {h(t.encode()).hexdigest() for t in texts for h in (hashlib.md5, hashlib.sha256, hashlib.sha1)}


def _stored() -> dict[str, set[str]]:
    sqls = {"classlink_users": "SELECT hub_student_key, email_hash FROM core.classlink_users",
            "ps_students": "SELECT ps_key, email_hash FROM core.ps_students",
            "crosswalk": "SELECT hub_student_key, email_hash FROM core.student_crosswalk",
            "star_assessments": "SELECT assessment_key, hub_student_key FROM core.star_assessments",
            "identity_review": "SELECT record_key, record_key FROM ops.identity_review",
            # creates are audited by reference ('*', docs/audit.md); an update's row keeps the key and the old and new hashes
            "field_audit": "SELECT entity_key, old_value, new_value FROM ops.field_audit WHERE entity_key <> '*' "
                           "AND (field IN ('hub_student_key', 'email_hash') OR field IS NULL)"}
    return {name: {v for row in query(sql) for v in row if v is not None} for name, sql in sqls.items()}


def test_stored_identifiers_resist_a_dictionary_and_are_the_same_on_a_reimport(tmp_path: Path, warehouse_url: str,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUB_HASH_KEY", SECRET)
    defs, instance, folders = belleville(tmp_path, warehouse_url, monkeypatch)
    r = roster(12)
    users, students = classlink_users(r), ps_students(r)
    load_identity(defs, instance, folders, users, students.drop(index=11))  # 11: a Star row to review
    sm = star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM")
    assert [run.success for run in star(defs, instance, folders, {"SM.csv": sm}).runs] == [True]
    moved = "moved.0@belleville.example.org"  # an update: the audit keeps the old and the new address's hashes
    users.loc[0, "email"] = moved
    put(folders["classlink"] / "users.csv", users)
    assert [run.success for run in tick(defs, instance, "classlink__deliveries").runs] == [True]
    stored = _stored()
    assert all(stored.values()), {k: len(v) for k, v in stored.items()}

    known = [*r["sourced_id"], *r["number"], *r["email"], moved, *students[EMAIL], *sm["AssessmentID"]]
    dictionary = _dictionary([str(v) for v in known])
    every = set().union(*stored.values())
    assert not every & dictionary
    assert all(len(v) == 64 for v in every)  # HMAC-SHA256, hex
    key = SECRET.encode()
    assert {keyed_hash(f"belleville:classlink:{s}", key) for s in r["sourced_id"]} == stored["classlink_users"] - {
        keyed_hash(e.lower(), key) for e in [*r["email"], moved]}
    assert {keyed_hash(str(a), key) for a in sm["AssessmentID"]} >= stored["identity_review"]

    day = query("SELECT max(partition_date) FROM ops.deliveries WHERE integration_id = 'classlink_belleville'")[0][0]
    audited = query("SELECT count(*) FROM ops.field_audit")
    assert rematerialize(defs, instance, "classlink_import", "belleville", str(day)).success  # a re-import
    assert _stored() == stored and query("SELECT count(*) FROM ops.field_audit") == audited
    assert _stored() == stored


def test_an_older_warehouse_is_rekeyed_in_place_and_a_changed_key_is_refused(warehouse_url: str,
                                                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUB_HASH_KEY", SECRET)
    wh = Warehouse(warehouse_url)
    hub_schema.ensure_tables(wh, FEEDS.values())
    old = {t: hashlib.md5(t.encode()).hexdigest() for t in ("d1:0001", "d1:classlink:u1", "ada@example.org", "A-1")}
    with wh.begin() as conn:  # as an older hub stored them: unkeyed md5, no key recorded
        conn.exec_driver_sql("DROP TABLE ops.hash_key")
        conn.exec_driver_sql("DROP TABLE ops.hash_key_rekeyed")
        conn.execute(sa.text("INSERT INTO core.students (student_key, district_id, state_student_id, status, "
                             "created_at, updated_at) VALUES (:k, 'd1', '0001', 'active', :t, :t)"),
                     {"k": old["d1:0001"], "t": "2026-01-01 00:00:00"})
        conn.execute(sa.text("INSERT INTO core.classlink_users (hub_student_key, district_id, sourced_id, email_hash, "
                             "created_at, updated_at) VALUES (:k, 'd1', 'u1', :e, :t, :t)"),
                     {"k": old["d1:classlink:u1"], "e": old["ada@example.org"], "t": "2026-01-01 00:00:00"})
        conn.execute(sa.text("INSERT INTO ops.field_audit (district_id, entity, entity_key, action, field, old_value, "
                             "new_value, changed_at) VALUES ('d1', 'core.star_assessments', :a, 'update', "
                             "'hub_student_key', NULL, :k, :t), ('d1', 'core.students', :s, 'update', 'grade', "
                             "'0123456789abcdef0123456789abcdef', NULL, :t)"),
                     {"a": old["A-1"], "k": old["d1:classlink:u1"], "s": old["d1:0001"], "t": "2026-01-01 00:00:00"})
    hub_schema._ready.clear()
    hub_schema.ensure_tables(wh, FEEDS.values())  # the hub starts: re-keyed once
    key = SECRET.encode()
    with wh.begin() as conn:
        assert conn.exec_driver_sql("SELECT student_key FROM core.students").scalar_one() == keyed_hash("d1:0001", key)
        assert tuple(conn.exec_driver_sql("SELECT hub_student_key, email_hash FROM core.classlink_users").one()) == (
            keyed_hash("d1:classlink:u1", key), keyed_hash("ada@example.org", key))
        audit = conn.exec_driver_sql("SELECT entity_key, field, old_value, new_value FROM ops.field_audit "
                                     "ORDER BY field").all()
        assert [tuple(a) for a in audit] == [  # a grade that looks like a digest is not a key: left as it is
            (keyed_hash("d1:0001", key), "grade", "0123456789abcdef0123456789abcdef", None),
            (keyed_hash("A-1", key), "hub_student_key", None, keyed_hash("d1:classlink:u1", key))]
    hub_schema._ready.clear()
    hub_schema.ensure_tables(wh, FEEDS.values())  # a second start changes nothing
    with wh.begin() as conn:
        assert conn.exec_driver_sql("SELECT student_key FROM core.students").scalar_one() == keyed_hash("d1:0001", key)

    other = "another-key-of-at-least-32-characters-xyz"
    monkeypatch.setenv("HUB_HASH_KEY", other)
    hub_schema._ready.clear()
    with pytest.raises(HashKeyError, match="HUB_HASH_KEY is not the key this warehouse") as err:
        hub_schema.ensure_tables(wh, FEEDS.values())
    assert other not in str(err.value) and SECRET not in str(err.value)


def test_production_without_a_key_stops_with_the_variable_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.delenv("HUB_HASH_KEY")
    with pytest.raises(HashKeyError, match="HUB_HASH_KEY is not set"):
        hash_key()
    assert not (tmp_path / "hash.key").exists()  # production never generates a key
    short = "too-short-secret"
    monkeypatch.setenv("HUB_HASH_KEY", short)
    with pytest.raises(HashKeyError, match="HUB_HASH_KEY is too short") as err:
        hash_key()
    assert short not in str(err.value)
    env = {"HUB_ENV": "production", "DAGSTER_PG_URL": "postgresql://x", "HUB_WAREHOUSE_URL": "postgresql://x"}
    assert any(p.startswith("HUB_HASH_KEY") for p in check_environment(env))  # `make prod` names it before starting
    monkeypatch.delenv("HUB_HASH_KEY")
    registry = tmp_path / "registry.yaml"
    registry.write_text("districts: []\nintegrations: []\n")
    with pytest.raises(HashKeyError, match="HUB_HASH_KEY is not set"):  # the code server does not load
        build_definitions(registry)


def test_the_demo_generates_a_private_key_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HUB_HASH_KEY")
    monkeypatch.delenv("HUB_ENV", raising=False)
    first = hash_key()
    path = tmp_path / "home" / "hash.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    assert hash_key() == first and keyed_hash("x") == keyed_hash("x", first)
    assert os.environ.get("HUB_HASH_KEY") is None
