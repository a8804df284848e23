"""Applying staged rows to target tables in set-based SQL, with a field-level audit trail.

Everything here runs inside the caller's transaction: a delivery is applied whole or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from pydantic import BaseModel

from hub.intake.ledger import Delivery, utcnow
from hub.registry.declarations import Feed
from hub.registry.registry import District, Integration, Registry
from hub.registry.schedule_rules import limited_reason
from resources.warehouse import Warehouse


@dataclass
class TableStats:
    """Per-table outcome, shown as materialization metadata."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    seconds: float = 0.0
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

    @property
    def limited(self) -> str | None:
        """Limited imports on this delivery day (a blackout in mode `limited`): only creates, never updates or
        deletes; the blackouts' names, or None. Every apply step that updates or deletes honours it."""
        days = sorted(d.partition_date for d in self.deliveries.values())
        return limited_reason(self.registry, self.integration, dt.date.fromisoformat(days[0])) if days else None

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
    # the source has a `<column>__delivery` per update column: the delivery that supplied the value (files of one day
    # merged field by field); the audit credits that delivery and its file
    field_deliveries: bool = False


ANALYZE_AFTER_ROWS = 10_000  # PostgreSQL: a target that grew by more rows is analyzed inside the apply
LIMITED = "limited import (not updated)"  # skipped counts of rows an update or delete would have changed
LIMITED_DELETE = "limited import (not deleted)"


def upsert_with_audit(ctx: ApplyContext, plan: UpsertPlan) -> TableStats:
    """Audit, update and insert in set-based SQL; returns the per-table counts.

    The target needs created_at, updated_at and last_delivery_id columns (the lineage of each row).
    """
    conn, t = ctx.conn, plan.target
    target = f"{t.schema}.{t.name}"
    params = {"run_id": ctx.run_id, "now": ctx.now}

    def run(sql: str) -> sa.CursorResult:
        return conn.execute(sa.text(sql), params)

    on = " AND ".join(f"t.{k} = s.{k}" for k in plan.key)
    total, matched, inactive = run(
        f"SELECT count(*), count(t.{plan.key[0]}), COALESCE(SUM(CASE WHEN t.{plan.key[0]} IS NOT NULL AND NOT "
        f"({plan.can_update}) THEN 1 ELSE 0 END), 0) FROM ({plan.source_sql}) s LEFT JOIN {target} t ON {on}").one()
    stats = TableStats(skipped={"inactive": int(inactive)})
    if plan.update_columns and matched > inactive and ctx.limited:  # rows that would change are left as they are
        stats.skipped[LIMITED] = run(f"SELECT count(*) FROM ({plan.source_sql}) s JOIN {target} t ON {on} "
                                     f"WHERE ({plan.can_update}) AND ({_changed(plan)})").scalar_one()
    elif plan.update_columns and matched > inactive:
        stats.updated = _update(ctx, plan, target, on, run)
    stats.unchanged = int(matched) - stats.updated - stats.skipped["inactive"] - stats.skipped.get(LIMITED, 0)
    if plan.can_insert and total > matched:
        stats.inserted = _insert(ctx, plan, target, on, run)
    stats.skipped["not_created"] = int(total) - int(matched) - stats.inserted
    return stats


def _insert(ctx: ApplyContext, plan: UpsertPlan, target: str, on: str, run) -> int:  # noqa: ANN001
    """Create the source rows that have no target row and may be created; one 'create' audit row each."""
    into = f"INSERT INTO {target} ({', '.join(plan.insert_columns)}, last_delivery_id, created_at, updated_at)"
    rows = (f"SELECT {', '.join('s.' + c for c in plan.insert_columns)}, s.delivery_id AS last_delivery_id, "
            f":now AS created_at, :now AS updated_at FROM ({plan.source_sql}) s "
            f"WHERE ({plan.can_insert}) AND NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})")

    def audit(created: str) -> str:
        return (f"INSERT INTO ops.field_audit ({AUDIT_COLUMNS}) SELECT t.district_id, {lit(target)}, "
                f"t.{plan.entity_key}, 'create', NULL, NULL, NULL, d.file_name, t.last_delivery_id, :run_id, :now "
                f"FROM {created} t JOIN ops.deliveries d ON d.delivery_id = t.last_delivery_id")

    # The rows to create are set aside first, on both warehouses: an INSERT that reads its own target in the
    # anti-join rescans the pages it is adding when the target's statistics say empty (emptied and vacuumed on
    # PostgreSQL: a nested-loop anti-join, quadratic in the rows; ANALYZE of an empty table plans the same). The
    # target's rows with the same created_at may come from an earlier upsert of this transaction.
    created = f"_created_{plan.target.name}"
    ctx.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {created}")
    run(f"CREATE TEMP TABLE {created} AS {rows}")
    inserted = run(f"{into} SELECT * FROM {created}").rowcount
    run(audit(created))
    ctx.conn.exec_driver_sql(f"DROP TABLE {created}")
    if inserted > ANALYZE_AFTER_ROWS and ctx.conn.dialect.name == "postgresql":
        ctx.conn.exec_driver_sql(f"ANALYZE {target}")  # later statements of this apply plan with its new size
    return inserted


def _changed(plan: UpsertPlan) -> str:
    """SQL over `s` and `t`: a delivered value differs from the stored one (NULL delivers nothing)."""
    return " OR ".join(f"(s.{c} IS NOT NULL AND t.{c} IS DISTINCT FROM s.{c})" for c in plan.update_columns)


def _update(ctx: ApplyContext, plan: UpsertPlan, target: str, on: str, run) -> int:  # noqa: ANN001
    """Collect changed rows, write one audit row per changed field, then update them (NULL keeps the old value)."""
    chg = f"_changed_{plan.target.name}"
    olds = "".join(f", t.{c} AS _old_{c}" for c in plan.update_columns)
    ctx.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {chg}")
    ctx.conn.exec_driver_sql(
        f"CREATE TEMP TABLE {chg} AS SELECT s.*, t.{plan.entity_key} AS _entity, t.district_id AS _district{olds} "
        f"FROM ({plan.source_sql}) s JOIN {target} t ON {on} WHERE ({plan.can_update}) AND ({_changed(plan)})")
    selects = [
        f"SELECT x._district, {lit(target)}, x._entity, 'update', {lit(c)}, CAST(x._old_{c} AS VARCHAR), "
        f"CAST(x.{c} AS VARCHAR), {_credited(plan, c, chg)} WHERE x.{c} IS NOT NULL AND x._old_{c} IS DISTINCT FROM x.{c}"
        for c in plan.update_columns
    ]
    run(f"INSERT INTO ops.field_audit ({AUDIT_COLUMNS}) " + " UNION ALL ".join(selects))
    sets = ", ".join(f"{c} = COALESCE(s.{c}, t.{c})" for c in plan.update_columns)
    updated = run(f"UPDATE {target} AS t SET {sets}, last_delivery_id = s.delivery_id, updated_at = :now "
                  f"FROM {chg} s WHERE {on}").rowcount
    ctx.conn.exec_driver_sql(f"DROP TABLE {chg}")
    return updated


def _credited(plan: UpsertPlan, column: str, changed: str) -> str:
    """SQL from the source file and delivery an update of `column` is credited to, to the FROM clause over the
    changed rows (`x`)."""
    if not plan.field_deliveries:
        return f"x.source_file, x.delivery_id, :run_id, :now FROM {changed} x"
    return (f"d.file_name, d.delivery_id, :run_id, :now FROM {changed} x JOIN ops.deliveries d "
            f"ON d.delivery_id = COALESCE(x.{column}__delivery, x.delivery_id)")


AUDIT_COLUMNS = "district_id, entity, entity_key, action, field, old_value, new_value, source_file, delivery_id, run_id, changed_at"
