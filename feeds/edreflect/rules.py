"""EdReflect's own apply rules for one delivery day, inside the caller's single transaction.

1. "Drop all rows keyed by X in Y.csv": rows of dependent tables whose X is listed in the reference file go.
2. Each delivered file replaces its rows: tables with a drop rule first by X (the delivered rows' X count as
   modified), then every table by its key (an upsert), so rows stay unique by key.
3. Goals_Deleted.csv removes goals and their goal-keyed rows.
4. User_Affiliations.csv: only date_deleted of existing pairs changes; User_Modified.csv closes the listed users'
   open pairs the day's User_Affiliations.csv (absent: no rows) does not list; see `_affiliations`.
5. export/all/*_ids.csv upsert into the legacy-id crosswalk.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from feeds.edreflect.layout import LEGACY_MODELS, LOWERCASE_CODES, REFERENCE_KEY, TABLES, Table
from feeds.edreflect.targets import CROSSWALK, SCHEMA, ensure_targets, legacy_ids
from hub.apply.upsert import ApplyContext, ApplyStats, TableStats, lit

GOAL_DEPENDENTS = ("goals", "goal_posts", "goals_questions", "goals_indicators")
AFFILIATIONS = "user_affiliations"
USERS_MODIFIED = "user_modified"
_PAIR = "s.learner_employee_id = t.learner_employee_id AND s.observer_employee_id = t.observer_employee_id"


class EdreflectOptions(BaseModel):
    """Per-integration options (registry `options:`)."""

    model_config = ConfigDict(extra="forbid")
    cadence_days: int = Field(1, ge=1, le=31)  # a later delivery more than this many days after the previous is held


def apply(ctx: ApplyContext) -> ApplyStats:
    """Apply one delivery day's staged files to the edreflect tables."""
    ensure_targets(ctx.conn)
    stats: ApplyStats = {}
    existed = {t.name: _existed(ctx, t) for t in TABLES if t.name in ctx.deliveries and t.drop_by}
    for t in TABLES:
        if t.drop_by and t.drop_by.lower() in ctx.deliveries:
            started = time.monotonic()
            s = stats.setdefault(f"{SCHEMA}.{t.name}", TableStats())
            s.deleted += _delete_by(ctx, t, ctx.staged(t.drop_by.lower()), REFERENCE_KEY[t.drop_by], (t.drop_column,))
            s.seconds += time.monotonic() - started
    for t in TABLES:
        if t.name in ctx.deliveries and t.name != AFFILIATIONS:
            started = time.monotonic()
            s = stats.setdefault(f"{SCHEMA}.{t.name}", TableStats())
            _replace(ctx, t, s, existed.get(t.name))
            s.seconds += time.monotonic() - started
    if "goals_deleted" in ctx.deliveries:
        for name in GOAL_DEPENDENTS:
            s = stats.setdefault(f"{SCHEMA}.{name}", TableStats())
            s.deleted += ctx.conn.execute(sa.text(
                f"DELETE FROM {SCHEMA}.{name} t WHERE t.district_id = :d AND "
                f"{_matching(ctx.conn, ctx.staged('goals_deleted'), [('goal_id', 'goal_id')])}"),
                {"d": ctx.district.id}).rowcount
    if AFFILIATIONS in ctx.deliveries or USERS_MODIFIED in ctx.deliveries:
        stats[f"{SCHEMA}.{AFFILIATIONS}"] = _affiliations(ctx)
    if any(f"{m}_ids" in ctx.deliveries for m in LEGACY_MODELS):
        stats[CROSSWALK] = _crosswalk(ctx)
    return stats


def _delete_by(ctx: ApplyContext, t: Table, source: str, source_col: str, cols: tuple[str, ...]) -> int:
    """Delete the district's rows of `t` matching the source on `cols` (indexed columns)."""
    pairs = [(source_col if len(cols) == 1 else c, c) for c in cols]
    return ctx.conn.execute(sa.text(f"DELETE FROM {SCHEMA}.{t.name} t WHERE t.district_id = :d AND "
                                    f"{_matching(ctx.conn, source, pairs)}"), {"d": ctx.district.id}).rowcount


def _matching(conn: sa.Connection, source: str, pairs: list[tuple[str, str]]) -> str:
    """Predicate on target rows `t`: a source row `s` matches on every (source column, target column) pair.

    On PostgreSQL the first target column is also compared with an array of the source's values, so the planner
    probes the (district_id, column) index once per source row: costed by default, a semi-join of 10,000 delivered
    rows scans the whole table (1M rows: 1 s instead of 0.1 s), and a day's cost would grow with the table."""
    exists = "EXISTS (SELECT 1 FROM {} s WHERE {})".format(source, " AND ".join(f"s.{a} = t.{b}" for a, b in pairs))
    if conn.dialect.name != "postgresql":
        return exists
    probe = f"t.{pairs[0][1]} = ANY(ARRAY(SELECT s.{pairs[0][0]} FROM {source} s))"
    return probe if len(pairs) == 1 else f"{probe} AND {exists}"


def _existed(ctx: ApplyContext, t: Table) -> int:
    """Delivered rows whose key the table held before this delivery (they count as updated); counted before a drop
    rule removes rows."""
    on = " AND ".join(f"s.{k} = t.{k}" for k in t.key)
    return int(ctx.conn.execute(sa.text(
        f"SELECT count(*) FROM {ctx.staged(t.name)} s WHERE EXISTS (SELECT 1 FROM {SCHEMA}.{t.name} t "
        f"WHERE t.district_id = :d AND {on})"), {"d": ctx.district.id}).scalar_one())


def _replace(ctx: ApplyContext, t: Table, s: TableStats, existed: int | None) -> None:
    """Replace the delivered rows (by drop-rule id if any, then by key) and count inserted, updated and deleted rows.
    Without a drop rule (`existed` None) the rows deleted by key are those that existed: keys are unique."""
    src, target = ctx.staged(t.name), f"{SCHEMA}.{t.name}"
    removed = _delete_by(ctx, t, src, t.drop_column, (t.drop_column,)) if t.drop_column else 0
    if t.drop_column != t.key[0]:  # else the drop rule already removed every row of a delivered key
        removed += _delete_by(ctx, t, src, t.key[0], t.key)
    existed = removed if existed is None else existed
    values = ", ".join(f"LOWER(s.{c})" if c in LOWERCASE_CODES else f"s.{c}" for c in t.columns)
    inserted = ctx.conn.execute(sa.text(
        f"INSERT INTO {target} (district_id, {', '.join(t.columns)}, last_delivery_id) SELECT CAST(:d AS VARCHAR), "
        f"{values}, s.delivery_id FROM {src} s ORDER BY {', '.join(t.key)}"), {"d": ctx.district.id}).rowcount
    s.updated += existed
    s.inserted += inserted - existed
    s.deleted += removed - existed


def _affiliations(ctx: ApplyContext) -> TableStats:
    """Key (learner, observer): existing pairs only get date_deleted; new pairs are inserted. For each user in
    User_Modified, their open pairs (as learner or observer) that the day's User_Affiliations.csv does not list (all
    of them when the day has no such file) close on user_modified_date."""
    started, stats = time.monotonic(), TableStats()
    if AFFILIATIONS in ctx.deliveries:
        stats.updated, stats.inserted = _upsert_affiliations(ctx)
    if USERS_MODIFIED in ctx.deliveries:
        closed = _close_affiliations(ctx)
        stats.skipped["closed (date_deleted set)"] = closed
        stats.updated += closed
    stats.seconds = time.monotonic() - started
    return stats


def _upsert_affiliations(ctx: ApplyContext) -> tuple[int, int]:
    """Set date_deleted of delivered existing pairs and insert new pairs; returns (updated, inserted)."""
    d, src, target = {"d": ctx.district.id}, ctx.staged(AFFILIATIONS), f"{SCHEMA}.{AFFILIATIONS}"
    updated = ctx.conn.execute(sa.text(
        f"UPDATE {target} t SET date_deleted = s.date_deleted, last_delivery_id = s.delivery_id FROM {src} s "
        f"WHERE t.district_id = :d AND {_PAIR} AND t.date_deleted IS DISTINCT FROM s.date_deleted"), d).rowcount
    inserted = ctx.conn.execute(sa.text(
        f"INSERT INTO {target} (district_id, learner_employee_id, observer_employee_id, affiliation_type, "
        f"date_deleted, last_delivery_id) SELECT CAST(:d AS VARCHAR), s.learner_employee_id, s.observer_employee_id, "
        f"s.affiliation_type, s.date_deleted, s.delivery_id FROM {src} s WHERE NOT EXISTS "
        f"(SELECT 1 FROM {target} t WHERE t.district_id = :d AND {_PAIR})"), d).rowcount
    return updated, inserted


def _close_affiliations(ctx: ApplyContext) -> int:
    """Close the open pairs of the users in User_Modified that the day's User_Affiliations.csv does not list."""
    users, target = ctx.staged(USERS_MODIFIED), f"{SCHEMA}.{AFFILIATIONS}"
    listed = (f" AND NOT EXISTS (SELECT 1 FROM {ctx.staged(AFFILIATIONS)} s WHERE {_PAIR})"
              if AFFILIATIONS in ctx.deliveries else "")
    of_user = "m.employee_id IN (t.learner_employee_id, t.observer_employee_id)"
    return ctx.conn.execute(sa.text(
        f"UPDATE {target} t SET date_deleted = (SELECT max(m.user_modified_date) FROM {users} m WHERE {of_user}), "
        f"last_delivery_id = {lit(ctx.deliveries[USERS_MODIFIED].delivery_id)} WHERE t.district_id = :d "
        f"AND t.date_deleted IS NULL AND EXISTS (SELECT 1 FROM {users} m WHERE {of_user}){listed}"),
        {"d": ctx.district.id}).rowcount


def _crosswalk(ctx: ApplyContext) -> TableStats:
    """Upsert each delivered legacy-id join table into the crosswalk as (model, legacy_id, new_id); (model,
    legacy_id) is unique, so the rows replaced are those that existed."""
    started, stats = time.monotonic(), TableStats()
    for model in LEGACY_MODELS:
        if (ft := f"{model}_ids") not in ctx.deliveries:
            continue
        src, p = ctx.staged(ft), {"d": ctx.district.id, "m": model}
        existed = ctx.conn.execute(sa.text(f"DELETE FROM {CROSSWALK} t WHERE t.district_id = :d AND t.model = :m "
                                           f"AND {_matching(ctx.conn, src, [('legacy_id', 'legacy_id')])}"), p).rowcount
        added = ctx.conn.execute(sa.insert(legacy_ids).from_select(
            ["district_id", "model", "legacy_id", "new_id", "last_delivery_id"],
            sa.text(f"SELECT CAST(:d AS VARCHAR), :m, s.legacy_id, s.new_id, s.delivery_id FROM {src} s").columns()), p).rowcount
        stats.updated += existed
        stats.inserted += added - existed
    stats.seconds = time.monotonic() - started
    return stats
