"""Properties: EdReflect deltas applied as they arrive — out of order, with re-imports — equal one in-order replay,
and every table stays unique by its file's declared key after each arrival."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.edreflect.layout import BY_NAME
from resources.warehouse import Warehouse
from tests.edreflect_org import Org, frame

IDS = st.sampled_from(["1", "2", "3"])
TABLES = ("goals", "goal_posts", "goals_questions", "user_affiliations", "user_roles", "ratings", "observations",
          "slos", "slo_assessments", "rubrics", "indicators")
_orgs = itertools.count()


def _opt(strategy):  # noqa: ANN001, ANN202
    return st.one_of(st.none(), strategy)


@st.composite
def day_files(draw, day: str) -> dict:  # noqa: ANN001
    """One day's delta over a few ids: a random subset of files with random rows."""
    files = {
        "goals": _opt(st.dictionaries(IDS, st.sampled_from(["a", "b"]), max_size=3).map(
            lambda d: frame(goal_id=list(d), goal_status=list(d.values())))),
        "goals_modified": _opt(st.lists(IDS, unique=True, max_size=2).map(
            lambda ids: frame(goal_id=ids, goal_modified_date=[day] * len(ids)))),
        "goals_questions": _opt(st.lists(st.tuples(IDS, IDS), unique=True, max_size=3).map(
            lambda ps: frame(goal_id=[p[0] for p in ps], question_id=[p[1] for p in ps], answer=[day] * len(ps)))),
        "goal_posts": _opt(st.dictionaries(IDS, IDS, max_size=3).map(
            lambda d: frame(goal_post_id=list(d), goal_id=list(d.values())))),
        "goals_deleted": _opt(st.lists(IDS, unique=True, max_size=1).map(lambda ids: frame(goal_id=ids))),
        "user_modified": _opt(st.lists(IDS, unique=True, max_size=2).map(
            lambda ids: frame(employee_id=ids, user_modified_date=[day] * len(ids)))),
        "user_roles": _opt(st.lists(st.tuples(IDS, st.sampled_from(["coach", "teacher"])), unique=True, max_size=3)
                           .map(lambda ps: frame(employee_id=[p[0] for p in ps], role=[p[1] for p in ps]))),
        "user_affiliations": _opt(st.dictionaries(st.tuples(IDS, IDS), st.sampled_from([None, day]), max_size=3).map(
            lambda d: frame(learner_employee_id=[k[0] for k in d], observer_employee_id=[k[1] for k in d],
                            affiliation_type=["coach"] * len(d), date_deleted=list(d.values())))),
        "observation_modified": _opt(st.lists(IDS, unique=True, max_size=2).map(
            lambda ids: frame(observation_group_id=ids, observation_modified_date=[day] * len(ids)))),
        "ratings": _opt(st.dictionaries(st.tuples(IDS, IDS), st.sampled_from(["1", "2"]), max_size=3).map(
            lambda d: frame(observation_group_id=[k[0] for k in d], indicator_id=[k[1] for k in d],
                            rating=list(d.values())))),
        "observations": _opt(st.dictionaries(IDS, st.sampled_from(["open", "closed"]), max_size=2).map(
            lambda d: frame(observation_group_id=list(d), observation_status=list(d.values())))),
        "slos": _opt(st.lists(IDS, unique=True, max_size=2).map(lambda ids: frame(slo_id=ids))),
        "slo_assessments": _opt(st.dictionaries(IDS, IDS, max_size=3).map(  # an assessment may move to another slo
            lambda d: frame(slo_assessment_id=list(d), slo_id=list(d.values()), slo_assessment_name=[day] * len(d)))),
        "rubrics": _opt(st.lists(IDS, unique=True, max_size=1).map(lambda ids: frame(rubric_id=ids))),
        "indicators": _opt(st.dictionaries(IDS, st.sampled_from([None, "1"]), max_size=2).map(  # blank rubric_id
            lambda d: frame(indicator_id=list(d), rubric_id=list(d.values()), indicator_name=[day] * len(d)))),
    }
    return {ft: f for ft, s in files.items() if (f := draw(s)) is not None}


@st.composite
def scenarios(draw) -> tuple[list[str], list[tuple[str, dict]]]:  # noqa: ANN001
    """Consecutive delivery days, each delivered 1-2 times (re-imports), in a random arrival order."""
    days = [(dt.date(2026, 3, 1) + dt.timedelta(days=n)).isoformat() for n in range(draw(st.integers(2, 3)))]
    tokens = [d for d in days for _ in range(draw(st.integers(1, 2)))]
    arrivals = draw(st.permutations(tokens))
    return days, [(day, draw(day_files(day).filter(bool))) for day in arrivals]


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def wh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    url = (f"duckdb:///{tmp_path_factory.mktemp('prop') / 'w.duckdb'}" if request.param == "duckdb"
           else request.getfixturevalue("pg_server_url"))
    w = Warehouse(url)
    yield w
    with w.begin() as conn:
        for schema in ("edreflect", "staging", "ops"):
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    from hub import tables
    tables._ready.clear()


def repeated_keys(wh: Warehouse, district: str) -> dict[str, int]:
    """Per table, how many keys the org holds more than once."""
    out = {}
    with wh.begin() as conn:
        for table in TABLES:
            key = ", ".join(BY_NAME[table].key)
            n = conn.execute(sa.text(f"SELECT count(*) FROM (SELECT {key} FROM edreflect.{table} WHERE "
                                     f"district_id = :d GROUP BY {key} HAVING count(*) > 1) x"),
                             {"d": district}).scalar_one()
            if n:
                out[table] = n
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(scenario=scenarios())
def test_incremental_out_of_order_with_reimports_equals_replay(wh, scenario):
    days, arrivals = scenario
    n = next(_orgs)
    live, replay = Org(wh, f"live_{n}"), Org(wh, f"replay_{n}")
    last = {}
    for day, files in arrivals:
        live.deliver(day, files)
        assert repeated_keys(wh, live.district) == {}
        last.setdefault(day, {}).update(files)  # a re-upload replaces its file types of that day
    for day in days:  # from scratch: each day's final files once, in date order
        replay.deliver(day, last[day])
    for table in TABLES:
        assert live.rows(table) == replay.rows(table), table
