"""EdReflect apply rules and delivery order on DuckDB and PostgreSQL (staged directly; Dagster path elsewhere)."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from feeds.edreflect import FEED
from hub.load.validation import build_schema, prepare_chunk
from hub.read.parsing import ROW
from resources.warehouse import Warehouse
from tests.edreflect_org import Org, frame


@pytest.fixture
def wh(warehouse_url: str):
    w = Warehouse(warehouse_url)
    yield w
    with w.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS edreflect CASCADE")


def test_drop_rules_then_insert(wh):
    org = Org(wh, "org_a")
    org.deliver("2026-03-01", {
        "observations": frame(observation_group_id=["o1", "o2"], observation_status=["open", "open"]),
        "ratings": frame(observation_group_id=["o1", "o1", "o2"], indicator_id=["i1", "i2", "i1"], rating=["1", "2", "3"]),
        "rubrics": frame(rubric_id=["r1"]),
        "indicators": frame(indicator_id=["i1", "i2"], rubric_id=["r1", "r1"]),
    })
    # o1 modified: its ratings are dropped (i2 is gone), the delivered one inserted; o2 untouched.
    res = org.deliver("2026-03-02", {
        "observation_modified": frame(observation_group_id=["o1"], observation_modified_date=["2026-03-02"]),
        "ratings": frame(observation_group_id=["o1"], indicator_id=["i1"], rating=["4"]),
        "rubrics": frame(rubric_id=["r1"]),
        "observations": frame(observation_group_id=["o1"], observation_status=["closed"]),
    })
    ratings = {(r[0], r[1]): r[3] for r in org.rows("ratings")}
    assert ratings == {("o1", "i1"): "4", ("o2", "i1"): "3"}
    assert org.rows("indicators") == []  # Rubrics.csv lists r1: its indicators are dropped, none delivered
    assert {r[0]: r[4] for r in org.rows("observations")} == {"o1": "closed", "o2": "open"}
    s = res.stats["edreflect.ratings"]
    assert (s.inserted, s.updated, s.deleted) == (0, 1, 1)
    assert res.stats["edreflect.indicators"].deleted == 2
    assert res.stats["edreflect.observations"].updated == 1


def test_goals_deleted_and_affiliations(wh):
    org = Org(wh, "org_b")
    org.deliver("2026-03-01", {
        "goals": frame(goal_id=["g1", "g2"]),
        "goal_posts": frame(goal_post_id=["p1", "p2"], goal_id=["g1", "g2"]),
        "user_affiliations": frame(learner_employee_id=["u1", "u1", "u2"], observer_employee_id=["v1", "v2", "v1"],
                                   affiliation_type=["coach", "coach", "coach"]),
    })
    org.deliver("2026-03-02", {
        "goals_deleted": frame(goal_id=["g2"]),
        "user_modified": frame(employee_id=["u1"], user_modified_date=["2026-03-02"]),
        # (u1, v1) kept, its type may not change; (u1, v2) is absent: closed on u1's modified date
        "user_affiliations": frame(learner_employee_id=["u1"], observer_employee_id=["v1"], affiliation_type=["peer"]),
    })
    assert [r[0] for r in org.rows("goals")] == ["g1"]
    assert [r[0] for r in org.rows("goal_posts")] == ["p1"]
    assert org.rows("user_affiliations") == [("u1", "v1", "coach", None), ("u1", "v2", "coach", "2026-03-02"),
                                             ("u2", "v1", "coach", None)]


def test_crosswalk_view_maps_artifact_content_to_artifact(wh):
    org = Org(wh, "org_c")
    org.deliver("2026-03-01", {"artifact_ids": frame(legacy_id=["10"], new_id=["A1"]),
                               "artifact_content_ids": frame(legacy_id=["77"], new_id=["A1"]),
                               "user_ids": frame(legacy_id=["5"], new_id=["U5"])})
    with wh.begin() as conn:
        rows = conn.execute(sa.text("SELECT legacy_model, legacy_id, model, new_id FROM edreflect.legacy_id_map "
                                    "WHERE district_id = 'org_c' ORDER BY 1")).all()
    assert [tuple(r) for r in rows] == [("artifact", "10", "artifact", "A1"), ("artifact_content", "77", "artifact", "A1"),
                                        ("user", "5", "user", "U5")]


def test_gap_holds_later_days_until_the_missing_day_arrives(wh):
    org = Org(wh, "org_d")
    org.deliver("2026-03-01", {"goals": frame(goal_id=["g1"], goal_status=["a"])})
    res = org.deliver("2026-03-03", {"goals": frame(goal_id=["g1"], goal_status=["c"])})
    assert res.applied_days == [] and "2026-03-02 is missing" in res.held["2026-03-03"]
    assert org.rows("goals")[0][3] == "a"
    res = org.deliver("2026-03-02", {"goals": frame(goal_id=["g1"], goal_status=["b"])})
    assert res.applied_days == ["2026-03-02", "2026-03-03"] and not res.replayed
    assert org.rows("goals")[0][3] == "c"
    weekly = Org(wh, "org_e", cadence_days=7)
    weekly.deliver("2026-03-01", {"goals": frame(goal_id=["g1"])})
    assert weekly.deliver("2026-03-06", {"goals": frame(goal_id=["g2"])}).applied_days == ["2026-03-06"]


def test_reimport_of_an_old_day_replays_later_days_and_same_file_changes_nothing(wh):
    org = Org(wh, "org_f")
    org.deliver("2026-03-01", {"goals": frame(goal_id=["g1", "g2"], goal_status=["a", "a"])})
    org.deliver("2026-03-02", {"goals": frame(goal_id=["g2"], goal_status=["b"])})
    before = org.rows("goals")
    res = org.deliver("2026-03-02", {"goals": frame(goal_id=["g2"], goal_status=["b"])})
    assert org.rows("goals") == before and res.replayed and res.applied_days == ["2026-03-01", "2026-03-02"]
    res = org.deliver("2026-03-01", {"goals": frame(goal_id=["g1"], goal_status=["z"])})  # g2 no longer on day 1
    assert res.replayed and res.applied_days == ["2026-03-01", "2026-03-02"]
    assert [(r[0], r[3]) for r in org.rows("goals")] == [("g1", "z"), ("g2", "b")]


def test_school_year_and_id_must_agree():
    ft = next(f for f in FEED.files if f.name == "goals")
    chunk = pd.DataFrame({ROW: [2, 3, 4], "goal_id": ["g1", "g2", "g3"], "school_year": ["2020", "2020", "2021"],
                          "school_year_id": ["11", "12", ""]})
    _, errors = prepare_chunk(ft, chunk, build_schema(ft), FEED.date_formats, {})
    assert [(e.row_number, e.column) for e in errors] == [(3, "school_year_id")]
    assert "2009" in errors[0].rule and "2020" not in errors[0].rule


def test_every_spec_file_is_recognised():
    names = ["Aggregated_Eoy_Snapshots.csv", "Goals.csv", "Goals_Deleted.csv", "User_Rubrics_Modified.csv",
             "Trending_Ratings.csv", "Snapshots.csv", "Observation_Snapshots.csv", "slo_template_ids.csv"]
    assert [FEED.file_type_for(n).name for n in names] == [
        "aggregated_eoy_snapshots", "goals", "goals_deleted", "user_rubrics_modified", "trending_ratings",
        "snapshots", "observation_snapshots", "slo_template_ids"]
    assert len(FEED.files) == 43 + 16 and FEED.file_type_for("Observation_Survey.csv") is None


def test_affiliations_close_when_only_user_modified_arrives(wh):
    """No User_Affiliations.csv that day: the results list no pair, so each open pair of a listed user closes."""
    org = Org(wh, "org_g")
    org.deliver("2026-03-01", {"user_affiliations": frame(
        learner_employee_id=["u1", "v3", "u2"], observer_employee_id=["v1", "u1", "v1"],
        affiliation_type=["coach"] * 3, date_deleted=[None, "2026-02-01", None])})
    res = org.deliver("2026-03-02", {"user_modified": frame(employee_id=["u1"], user_modified_date=["2026-03-02"])})
    assert org.rows("user_affiliations") == [("u1", "v1", "coach", "2026-03-02"), ("u2", "v1", "coach", None),
                                             ("v3", "u1", "coach", "2026-02-01")]  # a closed pair keeps its date
    assert res.stats["edreflect.user_affiliations"].skipped["closed (date_deleted set)"] == 1


def test_rows_stay_unique_by_key_with_drop_rules(wh):
    """A row moved to another drop-rule id, or with a blank drop-rule id, is replaced by its key, not stored twice."""
    org = Org(wh, "org_h")
    org.deliver("2026-03-01", {
        "slo_assessments": frame(slo_assessment_id=["a1"], slo_id=["s1"], slo_assessment_name=["fall"]),
        "indicators": frame(indicator_id=["i1"], rubric_id=[None], indicator_name=["one"]),
    })
    res = org.deliver("2026-03-02", {
        "slo_assessments": frame(slo_assessment_id=["a1"], slo_id=["s2"], slo_assessment_name=["spring"]),
        "indicators": frame(indicator_id=["i1"], rubric_id=[None], indicator_name=["uno"]),
    })
    assert org.rows("slo_assessments") == [("a1", "s2", "spring")]
    assert org.rows("indicators") == [("i1", None, "uno", None)]
    s = res.stats["edreflect.slo_assessments"]
    assert (s.inserted, s.updated, s.deleted) == (0, 1, 0)


def test_reference_files_stay_outside_the_day_order(wh):
    """Legacy-id tables (load="reference") apply when staged: an early one holds no day, a late one starts no
    replay, and a replay of the days keeps them."""
    org = Org(wh, "org_i")
    org.deliver("2026-02-01", {"user_ids": frame(legacy_id=["5"], new_id=["U5"])})
    org.deliver("2026-03-01", {"goals": frame(goal_id=["g1"], goal_status=["a"])})
    res = org.deliver("2026-03-02", {"goals": frame(goal_id=["g2"], goal_status=["a"])})
    assert res.applied_days == ["2026-03-02"] and not res.held
    res = org.deliver("2026-01-15", {"goal_ids": frame(legacy_id=["9"], new_id=["g1"])})  # late, with an old date
    assert not res.replayed and res.applied_days == [] and res.references == ["goal_ids.csv"]
    assert [r[0] for r in org.rows("goals")] == ["g1", "g2"]
    res = org.deliver("2026-03-01", {"goals": frame(goal_id=["g1"], goal_status=["b"])})  # a re-import replays
    assert res.replayed and res.applied_days == ["2026-03-01", "2026-03-02"]
    with wh.begin() as conn:
        mapped = conn.execute(sa.text("SELECT legacy_model, new_id FROM edreflect.legacy_id_map "
                                      "WHERE district_id = 'org_i' ORDER BY 1")).all()
    assert [tuple(r) for r in mapped] == [("goal", "g1"), ("user", "U5")]
