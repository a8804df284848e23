"""School entities per district (core.schools) and how a delivered school code resolves to one of them.

Several entities may share one 7-digit code (programs without their own CDE code). A delivered code resolves to
the entity whose site code matches, else to the entity marked default, else to the only entity with that code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from hub.store.tables import metadata

schools = sa.Table(
    "schools", metadata,
    sa.Column("district_id", sa.String, primary_key=True),
    sa.Column("entity_id", sa.String, primary_key=True),  # the hub's id of the school entity
    sa.Column("school_code", sa.String, nullable=False),  # 7-digit CDE code, possibly shared
    sa.Column("site_code", sa.String),  # unique per district when given; told apart in files by SITE_CODE
    sa.Column("name", sa.String, nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False, default=False),  # the entity a shared code resolves to
    schema="core",
)


def resolve_sql(district_lit: str, code: str, site: str) -> str:
    """SQL expression: the entity a (code, site) pair of a source row resolves to, or NULL."""
    where = f"e.district_id = {district_lit} AND e.school_code = {code}"
    return (f"COALESCE((SELECT MIN(e.entity_id) FROM core.schools e WHERE {where} AND e.site_code = {site}), "
            f"(SELECT MIN(e.entity_id) FROM core.schools e WHERE {where} AND e.is_default), "
            f"(SELECT MIN(e.entity_id) FROM core.schools e WHERE {where} HAVING COUNT(*) = 1))")


def has_schools_sql(district_lit: str) -> str:
    """SQL predicate: the district has school entities registered (else codes are taken as delivered)."""
    return f"EXISTS (SELECT 1 FROM core.schools e WHERE e.district_id = {district_lit})"


def replace_schools(conn: sa.Connection, district_id: str, rows: Iterable[Mapping[str, object]]) -> None:
    """Set a district's school entities (reference data maintained by operators). A code shared by several entities
    needs exactly one default (the spec: SIRAS assigns one of the same-coded entities as the default)."""
    values = [{"district_id": district_id, "site_code": None, "is_default": False, **r} for r in rows]
    by_code: dict[object, list[bool]] = {}
    for v in values:
        by_code.setdefault(v["school_code"], []).append(bool(v["is_default"]))
    for code, defaults in sorted(by_code.items()):
        if len(defaults) > 1 and sum(defaults) != 1:
            raise ValueError(f"district {district_id}: school code {code} is shared by {len(defaults)} entities and "
                             f"{sum(defaults)} are marked is_default; mark exactly one")
    conn.execute(sa.delete(schools).where(schools.c.district_id == district_id))
    if values:
        conn.execute(sa.insert(schools), values)
