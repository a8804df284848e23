"""The identity chain when real systems misbehave, on both warehouses: an export saved through Excel, students
leaving an export, recycled e-mail addresses, departed students' history."""

from __future__ import annotations

import pandas as pd

from demo.star_files import classlink_users, ps_students, roster, star_rows
from tests.harness import rematerialize, tick
from tests.test_star_identity import chain, hashed, owner, renaissance, review, score_changes, student  # noqa: F401
from tests.test_star_pipeline import RENAISSANCE_NAME, header, load_identity, put, query, star


def snapshot_of_chain() -> list:
    return [query(f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in (
        "core.ps_students", "core.classlink_users", "core.student_crosswalk", "core.star_assessments",
        "ops.identity_review")]


def deliver(defs, instance, folders, feed: str, frame: pd.DataFrame) -> list:
    put(folders[feed] / ("users.csv" if feed == "classlink" else "students.csv"), frame)
    return tick(defs, instance, f"{feed}__deliveries").runs


def last_gate() -> tuple:
    return query("SELECT gate, reason FROM ops.ingest_errors ORDER BY occurred_at DESC")[0]


def test_an_export_saved_through_excel_is_blocked_before_it_changes_anything(chain):
    defs, instance, folders = chain
    r = roster(20).assign(number=lambda f: "0" + f["number"], sourced_id=lambda f: "0" + f["number"])
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    assert [run.success for run in star(defs, instance, folders, {
        "SM.csv": star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM")}).runs] == [True]
    before = snapshot_of_chain()
    lost = ps_students(r).assign(STUDENT_NUMBER=lambda f: f["STUDENT_NUMBER"].str.lstrip("0"))
    assert [run.success for run in deliver(defs, instance, folders, "powerschool", lost)] == [False]
    gate, reason = last_gate()
    assert gate == "identifiers" and reason.startswith(
        "20 of 20 student_number values look damaged by Excel: 20 lost the leading zeros of a stored one")
    assert "605" not in reason  # counts only, never a number
    scientific = ps_students(r)
    scientific.loc[3, "STUDENT_NUMBER"] = "6.05004E+05"
    scientific.loc[4, "STUDENT_NUMBER"] = "605004.5"
    assert [run.success for run in deliver(defs, instance, folders, "powerschool", scientific)] == [False]
    assert last_gate()[1].startswith("2 of 20 student_number values look damaged by Excel: 1 in scientific "
                                     "notation (like 1.2E+05), 1 with decimals")
    users = classlink_users(r).assign(sourcedId=lambda f: f["sourcedId"].str.lstrip("0"))
    assert [run.success for run in deliver(defs, instance, folders, "classlink", users)] == [False]
    assert last_gate() == ("identifiers", "20 of 20 sourced_id values look damaged by Excel: 20 lost the leading "
                                          "zeros of a stored one. The file looks opened and saved in Excel, which "
                                          "turns identifiers into numbers: export it again from the source system "
                                          "and deliver it without opening it in Excel (or import the column as "
                                          "text); nothing was changed")
    assert snapshot_of_chain() == before
    assert query("SELECT file_name, status FROM ops.deliveries WHERE status = 'rejected' ORDER BY 1") == [
        ("students.csv", "rejected"), ("students.csv", "rejected"), ("users.csv", "rejected")]


def test_the_next_good_export_repairs_what_a_damaged_one_left(chain):
    """The first PowerSchool export ever was saved through Excel (no stored numbers to compare with yet): the next
    export replaces it, so its short numbers are no longer linked and the real ones are."""
    defs, instance, folders = chain
    r = roster(20).assign(number=lambda f: "0" + f["number"])
    damaged = ps_students(r).assign(STUDENT_NUMBER=lambda f: f["STUDENT_NUMBER"].str.lstrip("0"))
    load_identity(defs, instance, folders, classlink_users(r), damaged)
    sm = star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM")
    blocked = star(defs, instance, folders, {"SM.csv": sm})
    assert [run.success for run in blocked.runs] == [False]  # below the match rate
    runs = deliver(defs, instance, folders, "powerschool", ps_students(r))
    assert [run.success for run in runs] == [True]
    md = runs[0].asset_materializations_for_node("powerschool__student_records")[0].metadata
    assert md["core.ps_students rows skipped (not in this export (kept, no longer linked))"].value == 20
    assert any(k.startswith("core.ps_students rows skipped (MANY left the export: 20 of the 20 the previous export "
                                  "listed") for k in md)
    assert query("SELECT count(*) FROM core.ps_students") == [(40,)]  # the short numbers are kept, not linked
    assert sorted(n for (n,) in query("SELECT system_id FROM core.student_crosswalk WHERE system = 'powerschool'")
                  ) == sorted(r["number"])
    day = blocked.result.run_requests[0].partition_key.keys_by_dimension["date"]
    assert rematerialize(defs, instance, "renaissance_star_import", "belleville", day).success  # the blocked file
    assert query("SELECT count(*) FROM core.star_assessments") == [(20,)] and review() == []


def test_students_an_export_leaves_out_are_no_longer_linked_and_come_back_with_it(chain):
    defs, instance, folders = chain
    r = roster(20)
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    runs = deliver(defs, instance, folders, "powerschool", ps_students(r).drop(index=[3]))
    md = runs[0].asset_materializations_for_node("powerschool__student_records")[0].metadata
    assert md["core.ps_students rows skipped (not in this export (kept, no longer linked))"].value == 1
    assert not any("MANY" in k for k in md)  # 1 of 20: not many
    assert renaissance("605003") == [] and query(
        "SELECT count(*) FROM core.student_crosswalk WHERE system = 'powerschool'") == [(19,)]
    again = ps_students(r).assign(SCHOOLID="102")  # the next night's export (other bytes)
    assert [run.success for run in deliver(defs, instance, folders, "powerschool", again)] == [True]
    assert query("SELECT count(*) FROM core.student_crosswalk WHERE system = 'powerschool'") == [(20,)]


EMAIL = "U_StudentsUserFields.StudentEmail"


def powerschool_link(number: str) -> list[tuple]:
    return query("SELECT hub_student_key, match_method FROM core.student_crosswalk WHERE system = 'powerschool' AND "
                 "system_id = :n", n=number)


def test_a_recycled_address_never_moves_a_students_scores_to_the_new_holder(chain):
    defs, instance, folders = chain
    r, newcomer = roster(10), roster(1, seed=5)  # newcomer: ClassLink cl-5-00000, PowerSchool 610000
    users, students = classlink_users(r), ps_students(r)
    load_identity(defs, instance, folders, users, students)
    sm = star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM")
    aid = sm["AssessmentID"]
    assert [run.success for run in star(defs, instance, folders, {"SM.csv": sm}).runs] == [True]
    # Student A (0) transfers out; IT renames A's ClassLink account and gives the address to B, not yet in PowerSchool
    students.loc[0, "ENROLL_STATUS"] = "2"
    assert [run.success for run in deliver(defs, instance, folders, "powerschool", students)] == [True]
    b = classlink_users(newcomer).assign(email=users.loc[0, "email"])
    users.loc[0, ["email", "status"]] = ["a.departed@belleville.example.org", "tobedeleted"]
    runs = deliver(defs, instance, folders, "classlink", pd.concat([users, b], ignore_index=True))
    assert [run.success for run in runs] == [True]
    assert owner(aid[0]) == renaissance("605000") == [(student("cl-0-00000"),)]  # never B's
    assert score_changes() == []  # neither moved nor deleted
    assert review() == [(hashed(aid[0]), "email_reassigned")]
    assert powerschool_link("605000") == [(student("cl-0-00000"), "email_reassigned")]
    assert "did the student leave" in query("SELECT to_check FROM ops.identity_review")[0][0]
    # B arrives in PowerSchool with the address: B's number links to B, A's scores stay with A
    b_ps = ps_students(newcomer).assign(**{EMAIL: students.loc[0, EMAIL]})
    assert [run.success for run in deliver(defs, instance, folders, "powerschool",
                                           pd.concat([students, b_ps], ignore_index=True))] == [True]
    assert powerschool_link("610000") == [(student("cl-5-00000"), "email")]
    b_sm = star_rows(newcomer, RENAISSANCE_NAME, header("SM.csv"), "SM", seed=5)
    t = star(defs, instance, folders, {"SM.csv": pd.concat([sm, b_sm], ignore_index=True)})
    assert [run.success for run in t.runs] == [True]
    assert owner(b_sm["AssessmentID"][0]) == [(student("cl-5-00000"),)]
    assert owner(aid[0]) == [(student("cl-0-00000"),)] and score_changes() == []
    assert review() == [(hashed(aid[0]), "email_reassigned")]


def test_a_departed_students_history_stays_when_the_address_is_recycled(chain):
    defs, instance, folders = chain
    r, newcomer = roster(10), roster(1, seed=5)
    users, students = classlink_users(r), ps_students(r)
    load_identity(defs, instance, folders, users, students)
    sm = star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM")
    aid = sm["AssessmentID"]
    assert [run.success for run in star(defs, instance, folders, {"SM.csv": sm}).runs] == [True]
    # A (0) left: the ClassLink account is deleted, PowerSchool no longer exports A; the address goes to B
    b = classlink_users(newcomer).assign(email=users.loc[0, "email"])
    assert [run.success for run in deliver(defs, instance, folders, "powerschool", students.drop(index=0))] == [True]
    assert [run.success for run in deliver(defs, instance, folders, "classlink",
                                           pd.concat([users.drop(index=0), b], ignore_index=True))] == [True]
    assert owner(aid[0]) == [(student("cl-0-00000"),)] and score_changes() == []
    assert review() == []  # A's score is linked to A: nothing to fix
    t = star(defs, instance, folders, {"SM.csv": sm.assign(SchoolYear="2023-2024 ")})  # the next zip repeats it
    assert [run.success for run in t.runs] == [True]
    assert owner(aid[0]) == [(student("cl-0-00000"),)] and score_changes() == []
    md = t.runs[0].asset_materializations_for_node("renaissance_star__assessments")[0].metadata
    assert md["core.star_assessments (sm) rows skipped (kept with a student who left or whose address was "
              "reassigned)"].value == 1
