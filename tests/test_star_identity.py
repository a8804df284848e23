"""The ClassLink -> PowerSchool -> Star identity chain on both warehouses: the spec's PowerSchool headers, links that
follow later fixes (crosswalk, scores with their audit, the review queue), loose Star files, ClassLink roles and the
Historical Enterprise layout the hub does not read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from demo.star_files import classlink_users, ps_students, roster, star_rows
from hub.store.keyed import keyed_hash
from tests import star_layouts
from tests.harness import rematerialize, tick
from tests.test_star_pipeline import RENAISSANCE_NAME, belleville, header, load_identity, put, query, star

EMAIL = "U_StudentsUserFields.StudentEmail"


@pytest.fixture
def chain(tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch):
    """Belleville on DuckDB and on PostgreSQL."""
    return belleville(tmp_path, warehouse_url, monkeypatch)


def hashed(text: str) -> str:
    """The keyed hash the hub stores for `text` (the tests' HUB_HASH_KEY)."""
    return keyed_hash(text)


def student(sourced_id: str) -> str:
    """The hub student key of a ClassLink user."""
    return hashed(f"belleville:classlink:{sourced_id}")


def deliver(defs, instance, folders, feed: str, name: str, frame: pd.DataFrame) -> None:
    put(folders[feed] / name, frame)
    assert [r.success for r in tick(defs, instance, f"{feed}__deliveries").runs] == [True], feed


@pytest.mark.parametrize("number, email", [("STUDENTS STUDENT_NUMBER", "STUDENTS EMAIL"),
                                           ("students.student_number", "Students.Email"),
                                           ("STUDENTS.STUDENT_NUMBER", "STUDENTS.EMAIL")])
def test_powerschool_students_with_the_specs_headers_import(chain, number: str, email: str):
    defs, instance, folders = chain
    r = roster(5)
    students = ps_students(r).rename(columns={"STUDENT_NUMBER": number, EMAIL: email})
    load_identity(defs, instance, folders, classlink_users(r), students)
    assert query("SELECT count(*) FROM core.ps_students WHERE email_hash IS NOT NULL") == [(5,)]
    assert query("SELECT system, count(*) FROM core.student_crosswalk GROUP BY 1 ORDER BY 1") == [
        ("classlink", 5), ("powerschool", 5)]


def owner(assessment_id: str) -> list[tuple]:
    return query("SELECT hub_student_key FROM core.star_assessments WHERE assessment_id = :a", a=assessment_id)


def renaissance(number: str) -> list[tuple]:
    return query("SELECT hub_student_key FROM core.student_crosswalk WHERE system = 'renaissance' AND system_id = :n",
                 n=number)


def review() -> list[tuple]:
    return query("SELECT record_key, reason FROM ops.identity_review ORDER BY record_key")


def score_changes() -> list[tuple]:
    return query("SELECT entity_key, action, field, old_value, new_value FROM ops.field_audit WHERE "
                 "entity = 'core.star_assessments' AND action <> 'create' ORDER BY action, entity_key")


def test_a_powerschool_or_classlink_fix_moves_scores_crosswalk_and_review_at_once(chain):
    defs, instance, folders = chain
    r, other = roster(30), roster(2, seed=9)  # `other`: ClassLink students PowerSchool does not point to yet
    users, students = pd.concat([classlink_users(r), classlink_users(other)], ignore_index=True), ps_students(r)
    load_identity(defs, instance, folders, users, students.drop(index=29))  # 605029: not in PowerSchool yet
    sm = star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM")
    aid = sm["AssessmentID"]
    assert [run.success for run in star(defs, instance, folders, {"SM.csv": sm}).runs] == [True]
    assert [run.success for run in star(defs, instance, folders, {"SM.csv": sm.drop(index=5)}).runs] == [True]
    assert review() == [(hashed(aid[29]), "no_student_number_match")]
    assert owner(aid[0]) == renaissance("605000") == [(student("cl-0-00000"),)]
    # PowerSchool fixes: 605000 and 605005 (a score only the first zip had) are `other`'s students; 605001's email
    # is one no ClassLink user has; 605029 arrives
    students.loc[[0, 5], EMAIL] = other["email"].to_numpy()
    students.loc[1, EMAIL] = "left@belleville.example.org"
    deliver(defs, instance, folders, "powerschool", "students.csv", students)
    moved = ((0, "605000", "cl-9-00000"), (5, "605005", "cl-9-00001"), (29, "605029", "cl-0-00029"))
    for i, number, sourced_id in moved:
        assert owner(aid[i]) == renaissance(number) == [(student(sourced_id),)], number
    assert owner(aid[1]) == renaissance("605001") == []  # no longer linked: points at no student
    assert review() == [(hashed(aid[1]), "no_email_match")]  # 605029's row links now: out of the queue
    assert score_changes() == sorted([
        (hashed(aid[1]), "delete", "hub_student_key", student("cl-0-00001"), None),
        (hashed(aid[0]), "update", "hub_student_key", student("cl-0-00000"), student("cl-9-00000")),
        (hashed(aid[5]), "update", "hub_student_key", student("cl-0-00005"), student("cl-9-00001"))],
        key=lambda a: (a[1], a[0]))
    assert query("SELECT count(*) FROM core.star_assessments t JOIN ops.field_audit a ON a.delivery_id = "
                 "t.created_delivery_id AND a.changed_at = t.created_at AND a.action = 'create' AND a.entity = "
                 "'core.star_assessments' WHERE t.assessment_key = :k", k=hashed(aid[29])) == [(1,)]  # created once
    # ClassLink: student 2's email changes, so PowerSchool 605002 no longer reaches a ClassLink user
    users.loc[2, "email"] = "renamed@belleville.example.org"
    deliver(defs, instance, folders, "classlink", "users.csv", users)
    assert owner(aid[2]) == renaissance("605002") == []
    assert review() == sorted([(hashed(aid[1]), "no_email_match"), (hashed(aid[2]), "no_email_match")])
    assert query("SELECT count(*) FROM core.star_assessments") == [(28,)]


def test_each_zip_relinks_its_rows_and_leaves_one_open_item_per_record(chain):
    defs, instance, folders = chain
    r = roster(30)
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    sm = star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM")
    aid = sm["AssessmentID"]
    first = sm.copy()
    first.loc[[3, 7], "StudentIdentifier"] = ["999999", "777777"]  # no PowerSchool student has these
    assert [run.success for run in star(defs, instance, folders, {"SM.csv": first}).runs] == [True]
    queued = dict(query("SELECT record_key, queued_at FROM ops.identity_review"))
    # The next zip repeats the year's rows: 3 is corrected, 4 gets an unknown number, 5 is another student's test
    later = sm.copy()
    later.loc[[4, 5, 7], "StudentIdentifier"] = ["888888", "605006", "777777"]
    t = star(defs, instance, folders, {"SM.csv": later})
    assert [run.success for run in t.runs] == [True]
    assert review() == sorted([(hashed(aid[4]), "no_student_number_match"), (hashed(aid[7]), "no_student_number_match")])
    newest = query("SELECT delivery_id FROM ops.deliveries WHERE file_name = 'SM.csv' ORDER BY mtime DESC")[0][0]
    assert query("SELECT DISTINCT delivery_id FROM ops.identity_review") == [(newest,)]
    still_open = query("SELECT queued_at FROM ops.identity_review WHERE record_key = :k", k=hashed(aid[7]))
    assert still_open == [(queued[hashed(aid[7])],)]  # first queued with the first zip
    assert owner(aid[3]) == [(student("cl-0-00003"),)] and owner(aid[4]) == []
    assert owner(aid[5]) == [(student("cl-0-00006"),)]
    assert score_changes() == [
        (hashed(aid[4]), "delete", "hub_student_key", student("cl-0-00004"), None),
        (hashed(aid[5]), "update", "hub_student_key", student("cl-0-00005"), student("cl-0-00006"))]
    md = t.runs[0].asset_materializations_for_node("renaissance_star__assessments")[0].metadata
    assert f"{hashed(aid[4])}, delete, hub_student_key" in Path(md["import log (sm)"].value).read_text()
    assert "| records deleted | 1 |" in md["import log preview (sm)"].value
    assert renaissance("888888") == [] and renaissance("605003") == [(student("cl-0-00003"),)]
    before = query("SELECT * FROM ops.identity_review ORDER BY source_row") + query(
        "SELECT count(*), max(updated_at) FROM core.star_assessments") + query("SELECT count(*) FROM ops.field_audit")
    day = t.result.run_requests[0].partition_key.keys_by_dimension["date"]
    assert rematerialize(defs, instance, "renaissance_star_import", "belleville", day).success
    assert query("SELECT * FROM ops.identity_review ORDER BY source_row") + query(
        "SELECT count(*), max(updated_at) FROM core.star_assessments") + query(
        "SELECT count(*) FROM ops.field_audit") == before  # re-importing the same file changes nothing


def test_loose_star_files_are_a_delivery_too(chain):
    defs, instance, folders = chain
    r = roster(12)
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    for name, code in (("SM.csv", "SM"), ("SR.csv", "SR"), ("SEL.csv", "SEL")):
        put(folders["renaissance_star"] / name, star_rows(r, RENAISSANCE_NAME, header(name), code))
    t = tick(defs, instance, "renaissance_star__deliveries")
    assert [run.success for run in t.runs] == [True]
    assert query("SELECT subject, count(*) FROM core.star_assessments GROUP BY 1 ORDER BY 1") == [
        ("early_literacy", 12), ("math", 12), ("reading", 12)]
    assert query("SELECT file_name, status FROM ops.deliveries WHERE feed = 'renaissance_star' ORDER BY 1") == [
        ("SEL.csv", "applied"), ("SM.csv", "applied"), ("SR.csv", "applied")]


def test_only_classlink_students_are_hub_students(chain):
    defs, instance, folders = chain
    r, staff = roster(6), roster(4, seed=7)
    adults = classlink_users(staff).assign(role=["teacher", "Teacher", "administrator", "parent"])
    users = pd.concat([classlink_users(r), adults], ignore_index=True)
    students = pd.concat([ps_students(r), ps_students(staff)], ignore_index=True)  # staff emails in PowerSchool too
    load_identity(defs, instance, folders, users, students)
    assert query("SELECT count(*) FROM core.classlink_users") == [(6,)]
    assert query("SELECT count(*) FROM core.student_crosswalk WHERE system_id LIKE 'cl-7-%' OR system_id LIKE '612%'"
                 ) == [(0,)]
    assert query("SELECT system, count(*) FROM core.student_crosswalk GROUP BY 1 ORDER BY 1") == [
        ("classlink", 6), ("powerschool", 6)]


def test_the_historical_enterprise_layout_is_rejected_whole(chain):
    defs, instance, folders = chain
    r = roster(3)
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    put(folders["renaissance_star"] / "SM.csv", star_rows(r, RENAISSANCE_NAME, star_layouts.HISTORICAL_ENTERPRISE))
    t = tick(defs, instance, "renaissance_star__deliveries")
    assert [run.success for run in t.runs] == [False]
    assert query("SELECT count(*) FROM core.star_assessments") == [(0,)]
    gate, reason = query("SELECT gate, reason FROM ops.ingest_errors")[0]
    assert gate == "schema" and "row 1, column assessment_id: required column missing" in reason


def test_excels_float_rendering_of_a_student_number_links_and_leading_zeros_stay(chain):
    defs, instance, folders = chain
    r = roster(10)
    r.loc[0, "number"] = "00605000"  # a district whose numbers carry leading zeros
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    sm = star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM")
    sm.loc[1:4, "StudentIdentifier"] = sm.loc[1:4, "StudentIdentifier"] + ".0"  # 605001.0: a float in Excel
    assert [run.success for run in star(defs, instance, folders, {"SM.csv": sm}).runs] == [True]
    assert review() == []
    assert query("SELECT count(*) FROM core.star_assessments") == [(10,)]
    assert sorted(n for (n,) in query("SELECT system_id FROM core.student_crosswalk WHERE system = 'renaissance'")
                  ) == sorted(r["number"])  # stored as the text PowerSchool has: 00605000 and 605001, not 605001.0
    assert owner(sm["AssessmentID"][0]) == [(student("cl-0-00000"),)]
