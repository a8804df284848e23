"""Properties: EdReflect deltas delivered as files through the intake as they arrive — out of order, with re-imports —
equal one in-order replay, and every table stays unique by its file's declared key after each arrival."""

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
    from hub.store import schema as hub_schema
    hub_schema._ready.clear()


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("landing")


def test_a_day_that_arrives_after_a_later_one_is_applied_in_day_order(wh, landing):
    """Day 2 arrives first, then day 1, then day 1 again with corrected bytes: the same as days 1 and 2 in order."""
    n = next(_orgs)
    live, replay = Org(wh, f"late_live_{n}", landing=landing / f"late_live_{n}"), Org(wh, f"late_replay_{n}")
    day1 = {"goals": frame(goal_id=["1", "2"], goal_status=["a", "a"]), "goals_deleted": frame(goal_id=["3"])}
    day2 = {"goals": frame(goal_id=["3"], goal_status=["b"]), "goals_deleted": frame(goal_id=["1"])}
    fixed = {"goals": frame(goal_id=["1", "2"], goal_status=["a", "c"]), "goals_deleted": frame(goal_id=["3"])}
    live.send("2026-03-02", day2)
    live.send("2026-03-01", day1)
    replay.deliver("2026-03-01", day1)
    replay.deliver("2026-03-02", day2)
    assert live.rows("goals") == replay.rows("goals")
    assert [(r[0], r[3]) for r in live.rows("goals")] == [("2", "a"), ("3", "b")]
    live.send("2026-03-01", fixed)  # a corrected day 1, re-sent after day 2
    again = Org(wh, f"late_again_{n}")
    again.deliver("2026-03-01", fixed)
    again.deliver("2026-03-02", day2)
    assert live.rows("goals") == again.rows("goals")
    assert [(r[0], r[3]) for r in live.rows("goals")] == [("2", "c"), ("3", "b")]
    with wh.begin() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ops.deliveries WHERE district_id = :d AND "
                                    "status = 'skipped'"), {"d": live.district}).scalar_one() == 0


def test_a_day_resent_a_week_later_belongs_to_the_exports_own_date(wh, landing):
    """The day is the export's own: a dated folder, else the newest *_modified_date; the modification day only when
    the file carries no date."""
    n = next(_orgs)
    live, replay = Org(wh, f"own_live_{n}", landing=landing / f"own_live_{n}"), Org(wh, f"own_replay_{n}")
    days = {d: {"goals": frame(goal_id=[f"G{d[-1]}"], goal_status=["a"]),
                "goals_modified": frame(goal_id=[f"G{d[-1]}"], goal_modified_date=[d])}
            for d in ("2026-03-01", "2026-03-02", "2026-03-03")}
    for day, files in days.items():
        live.send(day, files, folder_name=day)
    fixed = {"goals": frame(goal_id=["G2"], goal_status=["b"]), "goals_modified": days["2026-03-02"]["goals_modified"]}
    live.send("2026-03-02", fixed, folder_name="2026-03-02", modified="2026-03-09")  # re-sent a week later
    live.send("2026-03-02", {"goals_modified": frame(goal_id=["G2", "G3"], goal_modified_date=["2026-03-02"] * 2)},
              modified="2026-03-10")  # no dated folder: its goal_modified_date says the day
    with wh.begin() as conn:
        got = conn.execute(sa.text("SELECT DISTINCT partition_date FROM ops.deliveries WHERE district_id = :d "
                                   "ORDER BY 1"), {"d": live.district}).scalars().all()
    assert got == ["2026-03-01", "2026-03-02", "2026-03-03"]
    for day, files in days.items():
        replay.deliver(day, fixed if day == "2026-03-02" else files)
    replay.deliver("2026-03-02", {"goals_modified": frame(goal_id=["G2", "G3"], goal_modified_date=["2026-03-02"] * 2)})
    assert live.rows("goals") == replay.rows("goals")
    assert live.rows("goals_modified") == replay.rows("goals_modified")


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


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(scenario=scenarios())
def test_incremental_out_of_order_with_reimports_equals_replay(wh, landing, scenario):
    days, arrivals = scenario
    n = next(_orgs)
    live, replay = Org(wh, f"live_{n}", landing=landing / f"live_{n}"), Org(wh, f"replay_{n}")
    last = {}
    for day, files in arrivals:
        live.send(day, files)  # through the intake, as the sensor receives them
        assert repeated_keys(wh, live.district) == {}
        last.setdefault(day, {}).update(files)  # a re-upload replaces its file types of that day
    for day in days:  # from scratch: each day's final files once, in date order
        replay.deliver(day, last[day])
    for table in TABLES:
        assert live.rows(table) == replay.rows(table), table
