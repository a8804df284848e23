"""The district's rows in a feed's target tables as they were before an apply: the share rules of the hold rules
(hub/apply/holds.py) weigh what the apply did against them, counting no further than a rule can need."""

from __future__ import annotations

import math

import sqlalchemy as sa

from hub.apply.upsert import lit
from hub.registry.declarations import Feed
from hub.registry.hold_rules import HoldRules


FEW = 1_000  # a district with fewer rows in a target table before the apply has them counted then, exactly


def few_rows(conn: sa.Connection, feed: Feed, district_id: str) -> dict[str, int]:
    """Before the apply of an integration's first delivery: the district's rows in each target table that has fewer
    than FEW of them (a table not made yet has none), each count stopped at FEW. Its million creates are then not
    counted again after it."""
    inspector, out = sa.inspect(conn), {}
    for table in feed.target_tables:
        schema, name = table.split(".")
        if not inspector.has_table(name, schema=schema):
            out[table] = 0
            continue
        if (n := _count(conn, table, district_id, FEW)) < FEW:
            out[table] = n
    return out


def rows_before(conn: sa.Connection, feed: Feed, district_id: str, totals: dict[str, dict[str, int]],
                 few: dict[str, int], enough: dict[str, int] | None = None) -> dict[str, int]:
    """The district's rows in each target table the apply changed, as they were before it: those `few` counted
    before it, else counted after it, less the rows it created, plus those it deleted (tables a feed creates on
    first use exist by then). With `enough` (table -> rows), counting stops there: a table with at least that many
    rows is said to have that many."""
    out = {}
    for table in (t for t in totals if t in feed.target_tables):
        if table in few:
            out[table] = few[table]
            continue
        shift = totals[table]["deleted"] - totals[table]["created"]
        limit = max(enough[table] - shift, 0) if enough is not None and table in enough else None
        out[table] = _count(conn, table, district_id, limit) + shift
    return out


def _count(conn: sa.Connection, table: str, district_id: str, limit: int | None) -> int:
    """The district's rows in `table`, counted no further than `limit` (None: all)."""
    rows = f"SELECT 1 FROM {table} WHERE district_id = {lit(district_id)}"
    rows += "" if limit is None else f" LIMIT {limit}"
    return int(conn.execute(sa.text(f"SELECT count(*) FROM ({rows}) r")).scalar_one())


def enough_rows(rules: HoldRules, totals: dict[str, dict[str, int]], identity: dict[str, int]) -> dict[str, int]:
    """Per target table, a number of rows before the delivery from which no share rule can hold it (the night of a
    few changes counts that far, not the district's every row); tables where any number may are left out."""
    out = {}
    for table, counts in totals.items():
        need, exact = max(rules.min_rows, 1), False
        for rule, n in {**counts, "identity_changed": identity.get(table, 0)}.items():
            limit = getattr(rules, rule)
            if limit is None or not n:
                continue
            if limit <= 0:  # any share breaks it: the message says of how many rows
                exact = True
                break
            need = max(need, math.floor(n / limit) + 1)
        if not exact:
            out[table] = need
    return out
