"""Renaissance Star behind the identity chain and the district gates, end to end on PostgreSQL:
ClassLink users -> PowerSchool students -> a Star zip (SM, SR 2021-22 layout, SEL)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.star_files import classlink_users, ps_students, roster, star_rows, star_zip
from hub.cli.main import main as hub_cli
from tests import star_layouts
from tests.conftest import write_registry
from tests.harness import rematerialize, tick

HEADERS = {"SM.csv": star_layouts.SM_V2, "SR.csv": star_layouts.SR_2021_22, "SEL.csv": star_layouts.SEL_V2}
ELSI = Path(__file__).resolve().parents[1] / "reference/nces_elsi_district_directory_2021-22.csv"
NJ = [{"id": "belleville", "name": "Belleville Public School District", "state": "NJ", "nces_leaid": "3401350",
       "account_id": "107873", "aliases": ["Belleville PD"]}]
RENAISSANCE_NAME = "Belleville Public Schools"


def header(file_name: str) -> list[str]:
    return HEADERS[file_name]


def integration(feed: str, folder: Path, **extra: object) -> dict:
    return {"id": f"{feed}_belleville", "district": "belleville", "feed": feed, "source": feed, "destination": "hub",
            "transport": {"kind": "folder", "path": str(folder)}, "contact": {"role": "Data coordinator"},
            "start_date": "2024-01-01", "quiet_period_seconds": 0, "holds": {"first_file": False}, **extra}


def belleville(tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch):
    """Belleville with ClassLink, PowerSchool and Star drop folders: definitions, instance and the folders."""
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setenv("HUB_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("HUB_DISTRICT_DIRECTORY", str(ELSI))
    folders = {f: tmp_path / f for f in ("classlink", "powerschool", "renaissance_star")}
    for f in folders.values():
        f.mkdir()
    registry = write_registry(tmp_path / "registry.yaml", NJ, [integration(f, p) for f, p in folders.items()])
    return build_definitions(registry), dg.DagsterInstance.ephemeral(), folders


@pytest.fixture
def hub(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch):
    return belleville(tmp_path, pg_url, monkeypatch)


def query(sql: str, **params: object) -> list[tuple]:
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def put(path: Path, data: pd.DataFrame | bytes) -> None:
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        data.to_csv(path, index=False)
    mtime = time.time()  # modified after any import before it, as a new upload is
    os.utime(path, (mtime, mtime))


def load_identity(defs, instance, folders, users: pd.DataFrame, students: pd.DataFrame) -> list[str]:
    """Load ClassLink and PowerSchool; returns their district-check results."""
    put(folders["classlink"] / "users.csv", users)
    put(folders["powerschool"] / "students.csv", students)
    results = []
    for feed in ("classlink", "powerschool"):
        runs = tick(defs, instance, f"{feed}__deliveries").runs
        assert [r.success for r in runs] == [True]
        results += [str(e.metadata["result"].value) for e in runs[0].get_asset_check_evaluations()
                    if e.check_name == "district"]
    return results


def star(defs, instance, folders, files: dict[str, pd.DataFrame]):
    put(folders["renaissance_star"] / "Belleville Public Schools.zip", star_zip(files))
    return tick(defs, instance, "renaissance_star__deliveries")


def checks(run: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {(e.asset_key.path[-1], e.check_name): e.passed for e in run.get_asset_check_evaluations()}


def test_chain_links_every_layout_from_a_zip_and_reimport_changes_nothing(hub):
    defs, instance, folders = hub
    r = roster(25)
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    files = {"SM.csv": star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM"),
             "SR.csv": star_rows(r, RENAISSANCE_NAME, header("SR.csv"), "SR", old_timestamps=True),
             "SEL.csv": star_rows(r, RENAISSANCE_NAME, header("SEL.csv"), "SEL")}
    t = star(defs, instance, folders, files)
    assert [run.success for run in t.runs] == [True]
    assert all(checks(t.runs[0]).values()) and len(checks(t.runs[0])) == 10  # 3 per file type, the apply's hold
    assert query("SELECT subject, count(*) FROM core.star_assessments GROUP BY 1 ORDER BY 1") == [
        ("early_literacy", 25), ("math", 25), ("reading", 25)]
    sm = files["SM.csv"].iloc[0]
    row = query("SELECT CAST(completed_at AS VARCHAR), scaled_score, percentile_rank, grade_equivalent, "
                "benchmark_category, benchmark_level, screening_window FROM core.star_assessments "
                "WHERE assessment_id = :a", a=sm["AssessmentID"])[0]
    assert row == ("2023-09-01 17:16:48.415", int(sm["ScaledScore"]), int(sm["PercentileRank"]), sm["GradeEquivalent"],
                   sm["RenaissanceBenchmarkCategoryName"], int(sm["RenaissanceBenchmarkCategoryLevel"]), "Fall")
    assert query("SELECT CAST(completed_at AS VARCHAR) FROM core.star_assessments WHERE subject = 'reading' "
                 "ORDER BY 1 LIMIT 1") == [("2022-09-01 10:15:00",)]
    ge = {g for (g,) in query("SELECT grade_equivalent FROM core.star_assessments")}
    assert ge & {"< 1", "> 12.9"}  # kept as text
    cols = {c for (c,) in query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' "
                                "AND table_name = 'star_assessments'")}
    assert not cols & {"student_first_name", "student_last_name", "district_name", "email"}
    walk = query("SELECT system, match_method, count(*), min(confidence) FROM core.student_crosswalk GROUP BY 1, 2 "
                 "ORDER BY 1")
    assert walk == [("classlink", "source", 25, 1.0), ("powerschool", "email", 25, 1.0),
                    ("renaissance", "student_number", 25, 1.0)]
    assert query("SELECT count(DISTINCT hub_student_key) FROM core.student_crosswalk") == [(25,)]
    assert query("SELECT count(*) FROM ops.identity_review") == [(0,)]
    before = query("SELECT count(*), max(updated_at) FROM core.star_assessments") + query(
        "SELECT count(*) FROM ops.field_audit")
    day = t.result.run_requests[0].partition_key.keys_by_dimension["date"]
    assert rematerialize(defs, instance, "renaissance_star_import", "belleville", day).success
    assert query("SELECT count(*), max(updated_at) FROM core.star_assessments") + query(
        "SELECT count(*) FROM ops.field_audit") == before
    again = star(defs, instance, folders, files)  # the same zip re-uploaded
    assert again.runs == [] and "identical bytes" in again.skip_reason


def test_unlinked_rows_go_to_the_review_queue_with_their_reason(hub):
    defs, instance, folders = hub
    r = roster(60)
    users, students = classlink_users(r), ps_students(r)
    users = users.drop(index=0)  # student 0: PowerSchool email matches no ClassLink user
    students.loc[2, "U_StudentsUserFields.StudentEmail"] = students.loc[1, "U_StudentsUserFields.StudentEmail"]
    users.loc[7, "email"] = users.loc[6, "email"]  # two ClassLink users share student 6's email; 7's has none
    load_identity(defs, instance, folders, users, students)  # PowerSchool students 1 and 2 share an email
    sm = star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM")
    sm.loc[3, "StudentIdentifier"] = "999999"  # no PowerSchool student has this number
    t = star(defs, instance, folders, {"SM.csv": sm})
    assert [run.success for run in t.runs] == [True]
    assert query("SELECT source_row, reason FROM ops.identity_review ORDER BY source_row") == [
        (2, "no_email_match"), (3, "ambiguous_email"), (4, "ambiguous_email"), (5, "no_student_number_match"),
        (8, "ambiguous_email"), (9, "no_email_match")]
    assert query("SELECT count(*) FROM core.star_assessments") == [(54,)]
    keys = {k for (k,) in query("SELECT record_key FROM ops.identity_review")}
    assert not keys & set(sm["AssessmentID"]) and all(len(k) == 64 for k in keys)  # keyed hashes, never the id
    md = next(e for e in t.runs[0].get_asset_check_evaluations() if e.check_name == "match_rate").metadata
    assert md["match rate"].value == 0.9 and md["rows no_email_match"].value == 2
    assert "999999" not in str(md) and "@" not in str(md)


def test_a_file_below_the_match_rate_is_blocked_whole(hub):
    defs, instance, folders = hub
    r = roster(20)
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    good = star_rows(r, RENAISSANCE_NAME, header("SR.csv"), "SR")
    bad = star_rows(r, RENAISSANCE_NAME, header("SM.csv"), "SM").assign(StudentIdentifier=lambda f: "9" + f["StudentIdentifier"])
    bad.loc[:14, "StudentIdentifier"] = r["number"][:15].to_numpy()  # 15 of 20 linked: 75% < 90%
    t = star(defs, instance, folders, {"SM.csv": bad, "SR.csv": good})
    assert len(t.runs) == 1 and not t.runs[0].success
    assert checks(t.runs[0])[("sm", "match_rate")] is False and checks(t.runs[0])[("sr", "match_rate")] is True
    assert query("SELECT count(*) FROM core.star_assessments") == [(0,)]  # the apply step did not run
    assert query("SELECT count(*) FROM staging.renaissance_star__sm") == [(0,)]
    gate, name, district, reason = query("SELECT gate, file_name, district_id, reason FROM ops.ingest_errors")[0]
    assert (gate, name, district) == ("match_rate", "SM.csv", "belleville")
    assert "15 of 20 rows linked (75.0%)" in reason and "9605" not in reason
    assert query("SELECT status FROM ops.deliveries WHERE file_name = 'SM.csv'") == [("rejected",)]


def test_a_file_naming_another_district_is_blocked_and_logged(hub):
    defs, instance, folders = hub
    r = roster(10)
    attached = load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    assert all("names no district; attached the integration's district belleville" in a for a in attached)
    t = star(defs, instance, folders, {"SM.csv": star_rows(r, "Newark Public Schools", header("SM.csv"))})
    assert not t.runs[0].success and checks(t.runs[0])[("sm", "district")] is False
    assert checks(t.runs[0])[("sm", "match_rate")] is False  # not evaluated once the district failed
    assert query("SELECT count(*) FROM core.star_assessments") == [(0,)]
    assert query("SELECT count(*) FROM staging.renaissance_star__sm") == [(0,)]
    gate, name, district, at, reason = query("SELECT gate, file_name, district_id, occurred_at, reason "
                                             "FROM ops.ingest_errors")[0]
    assert (gate, name, district, at is not None) == ("district", "SM.csv", "belleville", True)
    assert "'Newark Public Schools' is NCES 3411340, not belleville (NCES 3401350)" in reason


def test_an_unsure_district_name_is_blocked_until_a_person_confirms_it_once(hub):
    defs, instance, folders = hub
    r = roster(10)
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    unsure = "Belleville Board of Education"  # fuzzy best is another NJ district: review, not accepted
    t = star(defs, instance, folders, {"SR.csv": star_rows(r, unsure, header("SR.csv"), "SR")})
    assert not t.runs[0].success and checks(t.runs[0])[("sr", "district")] is False
    assert query("SELECT count(*) FROM core.star_assessments") == [(0,)]
    gate, reason = query("SELECT gate, reason FROM ops.ingest_errors")[0]
    assert gate == "district" and "review" in reason and "hub districts confirm" in reason
    assert hub_cli(["districts", "confirm", "--name", unsure, "--state", "NJ", "--leaid", "3401350",
                    "--by", "data team"]) == 0
    day = t.result.run_requests[0].partition_key.keys_by_dimension["date"]
    assert rematerialize(defs, instance, "renaissance_star_import", "belleville", day).success
    assert query("SELECT count(*) FROM core.star_assessments WHERE subject = 'reading'") == [(10,)]
    later = star_rows(roster(10), unsure, header("SEL.csv"), "SEL")  # accepted from then on
    assert [run.success for run in star(defs, instance, folders, {"SEL.csv": later}).runs] == [True]


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", star_zip({"Math.csv": pd.DataFrame({"x": ["1"]})})])
def test_an_unreadable_zip_or_one_without_star_files_is_logged_and_starts_nothing(hub, content: bytes):
    defs, instance, folders = hub
    put(folders["renaissance_star"] / "Belleville Public Schools.zip", content)
    t = tick(defs, instance, "renaissance_star__deliveries")
    assert t.runs == [] and "containers without files of this feed" in t.skip_reason
    assert query("SELECT gate, file_name, district_id FROM ops.ingest_errors") == [
        ("container", "Belleville Public Schools.zip", "belleville")]
    assert query("SELECT file_type, status FROM ops.deliveries") == [("container", "rejected")]
