"""Applying staged rows to target tables in set-based SQL, with a field-level audit trail.

Everything here runs inside the caller's transaction: a delivery is applied whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from pydantic import BaseModel

from hub.declarations import Feed
from hub.ledger import Delivery, utcnow
from hub.registry import District, Integration, Registry
from resources.warehouse import Warehouse


@dataclass
class TableStats:
    """Per-table outcome, shown as materialization metadata."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


ApplyStats = dict[str, TableStats]


@dataclass
class ApplyContext:
    """What a feed's apply rules get: an open transaction and the staged deliveries of one partition."""

    conn: sa.Connection
    warehouse: Warehouse
    feed: Feed
    registry: Registry
    integration: Integration
    district: District
    deliveries: dict[str, Delivery]  # file type -> staged delivery
    options: BaseModel
    run_id: str
    now: object = field(default_factory=utcnow)

    def staged(self, file_type: str) -> str:
        """SQL relation of the staged rows of `file_type` for this partition's delivery."""
        d = self.deliveries[file_type]
        return f"(SELECT * FROM staging.{self.feed.name}__{file_type} WHERE delivery_id = {lit(d.delivery_id)})"


def lit(value: str | None) -> str:
    """A SQL string literal (for values the hub itself controls: ids, file names, codes)."""
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class UpsertPlan:
    """Keyed upsert of a source relation into a target table.

    `source_sql` yields target column names plus `source_file` and `delivery_id`. NULL in the
    source means "no value delivered": the target keeps what it has.
    """

    target: sa.Table
    key: tuple[str, ...]  # target columns that identify a row
    entity_key: str  # target column written to the audit trail (a hub key, never a raw id)
    source_sql: str
    update_columns: tuple[str, ...]
    insert_columns: tuple[str, ...]
    can_insert: str | None = None  # predicate over `s`; None: never create
    can_update: str = "TRUE"  # predicate over `t`


def upsert_with_audit(ctx: ApplyContext, plan: UpsertPlan) -> TableStats:
    """Audit, update and insert in set-based SQL; returns the per-table counts."""
    conn, t = ctx.conn, plan.target
    target = f"{t.schema}.{t.name}"
    src = f"_src_{t.name}"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {src}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {src} AS {plan.source_sql}")
    on = " AND ".join(f"t.{k} = s.{k}" for k in plan.key)
    exists = f"EXISTS (SELECT 1 FROM {target} t WHERE {on})"
    params = {"run_id": ctx.run_id, "now": ctx.now}
    differs = [f"(s.{c} IS NOT NULL AND t.{c} IS DISTINCT FROM s.{c})" for c in plan.update_columns]
    stats = TableStats()

    def count(sql: str) -> int:
        return int(conn.execute(sa.text(sql), params).scalar_one())

    matched = f"FROM {src} s JOIN {target} t ON {on}"
    stats.skipped["inactive"] = count(f"SELECT count(*) {matched} WHERE NOT ({plan.can_update})")
    if differs:
        audit_cols = "district_id, entity, entity_key, action, field, old_value, new_value, source_file, delivery_id, run_id, changed_at"
        selects = [
            f"SELECT t.district_id, {lit(target)}, t.{plan.entity_key}, 'update', {lit(c)}, CAST(t.{c} AS VARCHAR), "
            f"CAST(s.{c} AS VARCHAR), s.source_file, s.delivery_id, :run_id, :now {matched} "
            f"WHERE ({plan.can_update}) AND {d}"
            for c, d in zip(plan.update_columns, differs)
        ]
        conn.execute(sa.text(f"INSERT INTO ops.field_audit ({audit_cols}) " + " UNION ALL ".join(selects)), params)
        sets = ", ".join(f"{c} = COALESCE(s.{c}, t.{c})" for c in plan.update_columns)
        upd = conn.execute(sa.text(
            f"UPDATE {target} AS t SET {sets}, updated_at = :now FROM {src} s "
            f"WHERE {on} AND ({plan.can_update}) AND ({' OR '.join(differs)})"), params)
        stats.updated = upd.rowcount
    matched_total = count(f"SELECT count(*) {matched}")
    stats.unchanged = matched_total - stats.updated - stats.skipped["inactive"]
    not_created = f"SELECT count(*) FROM {src} s WHERE NOT {exists}"
    if plan.can_insert:
        new_rows = f"FROM {src} s WHERE ({plan.can_insert}) AND NOT {exists}"
        conn.execute(sa.text(
            "INSERT INTO ops.field_audit (district_id, entity, entity_key, action, source_file, delivery_id, run_id, changed_at) "
            f"SELECT s.district_id, {lit(target)}, s.{plan.entity_key}, 'create', s.source_file, s.delivery_id, :run_id, :now {new_rows}"),
            params)
        cols = ", ".join(plan.insert_columns)
        ins = conn.execute(sa.text(
            f"INSERT INTO {target} ({cols}, created_at, updated_at) SELECT {', '.join('s.' + c for c in plan.insert_columns)}, "
            f":now, :now {new_rows}"), params)
        stats.inserted = ins.rowcount
    stats.skipped["not_created"] = count(not_created)
    conn.exec_driver_sql(f"DROP TABLE {src}")
    return stats
