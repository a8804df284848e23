"""ClassLink users.csv (OneRoster), on both warehouses: every OneRoster 1.1 and 1.2 role and both status
vocabularies import; users who are not students stay out of the student chain and are counted; a real export with
extra columns and blank emails imports and says how many students could not be linked; a OneRoster 1.2 users.csv
(roles in roles.csv) is rejected with the reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from demo.star_files import USERS_HEADER, classlink_users, ps_students, roster
from tests.harness import tick
from tests.test_star_pipeline import belleville, put, query

ROLES_11 = ["administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher"]
ROLES_12 = ["aide", "counselor", "districtAdministrator", "guardian", "parent", "principal", "proctor", "relative",
            "siteAdministrator", "student", "systemAdministrator", "teacher", "ext:librarian"]
STATUSES = ["active", "tobedeleted", "inactive", ""]  # 1.1; 1.2 has the first two; blank in bulk files
EXTRA = ["metadata.classlink.stateid", "metadata.classlink.schoolcode"]  # columns a real export adds


@pytest.fixture
def hub(tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch):
    return belleville(tmp_path, warehouse_url, monkeypatch)


def users(r: pd.DataFrame, roles: list[str]) -> pd.DataFrame:
    """`r` as students, then one user per role (staff, parents, ...), statuses of both vocabularies."""
    staff = roster(len(roles), seed=5)
    frame = pd.concat([classlink_users(r), classlink_users(staff).assign(role=roles)], ignore_index=True)
    frame["status"] = [STATUSES[i % len(STATUSES)] for i in range(len(frame))]
    return frame.assign(**{c: "x" for c in EXTRA})[USERS_HEADER + EXTRA]


def classlink_run(defs, instance, folders, frame: pd.DataFrame):  # noqa: ANN001, ANN201
    put(folders["classlink"] / "users.csv", frame)
    runs = tick(defs, instance, "classlink__deliveries").runs
    assert len(runs) == 1
    return runs[0]


@pytest.mark.parametrize("roles", [ROLES_11, ROLES_12], ids=["oneroster_1_1", "oneroster_1_2"])
def test_every_role_and_status_imports_and_only_students_join_the_chain(hub, roles):
    defs, instance, folders = hub
    r = roster(6)
    run = classlink_run(defs, instance, folders, users(r, roles))
    assert run.success
    assert query("SELECT sourced_id FROM core.classlink_users ORDER BY 1") == [(s,) for s in sorted(
        [*r["sourced_id"], *roster(len(roles), seed=5)["sourced_id"][[i for i, x in enumerate(roles) if x == "student"]]])]
    md = run.asset_materializations_for_node("classlink__hub_students")[0].metadata
    assert md["core.classlink_users rows skipped (not a student)"].value == len(roles) - roles.count("student")


def test_a_real_export_with_extra_columns_and_blank_emails_reports_the_students_it_cannot_link(hub):
    defs, instance, folders = hub
    r = roster(10)
    put(folders["powerschool"] / "students.csv", ps_students(r.iloc[:7]))  # 7, 8, 9 are not in PowerSchool
    assert [x.success for x in tick(defs, instance, "powerschool__deliveries").runs] == [True]
    frame = users(r, ["teacher", "parent"])
    frame.loc[[1, 2], "email"] = ""  # blank emails, as real exports have
    run = classlink_run(defs, instance, folders, frame)
    assert run.success
    md = run.asset_materializations_for_node("classlink__hub_students")[0].metadata
    assert md["core.student_crosswalk rows skipped (student without email)"].value == 2
    assert md["core.student_crosswalk rows skipped (no PowerSchool student with the email)"].value == 3
    assert query("SELECT count(*) FROM core.student_crosswalk WHERE system = 'powerschool'")[0][0] == 5


def test_a_oneroster_1_2_users_file_without_roles_is_rejected_with_the_reason(hub):
    defs, instance, folders = hub
    v12 = users(roster(3), ["teacher"]).drop(columns=["role", "orgSourcedIds"]).assign(
        userMasterIdentifier="", primaryOrgSourcedId="", preferredGivenName="", pronouns="")
    run = classlink_run(defs, instance, folders, v12)
    assert not run.success
    (reason,) = query("SELECT reason FROM ops.ingest_errors")
    assert "OneRoster 1.2" in reason[0] and "roles.csv" in reason[0]
    assert query("SELECT count(*) FROM core.classlink_users")[0][0] == 0
