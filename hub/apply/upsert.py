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
from hub.store.keyed import hash_values, lookup_sql
from hub.store.tables import CREATED_BY_REFERENCE
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
    _keys_filled: set[str] = field(default_factory=set, repr=False)

    @property
    def limited(self) -> str | None:
        """Limited imports on this delivery day (a blackout in mode `limited`): only creates, never updates or
        deletes; the blackouts' names, or None. Every apply step that updates or deletes honours it."""
        days = sorted(d.partition_date for d in self.deliveries.values())
        return limited_reason(self.registry, self.integration, dt.date.fromisoformat(days[0])) if days else None

    def staged(self, file_type: str) -> str:
        """SQL relation of the staged rows of `file_type` for this partition's delivery."""
        d = self.deliveries[file_type]
        if file_type not in self._keys_filled:
            self._keys_filled.add(file_type)
            self._fill_keys(file_type)
        return f"(SELECT * FROM staging.{self.feed.name}__{file_type} WHERE delivery_id = {lit(d.delivery_id)})"

    def _fill_keys(self, file_type: str) -> None:
        """Keyed hash columns (KeyedColumn) of rows staged before the file type declared them (an older hub) are
        filled in once; rows staged since carry them (one indexed look over the delivery's rows to tell)."""
        d = self.deliveries[file_type]
        table = f"staging.{self.feed.name}__{file_type}"
        for k in next(f for f in self.feed.files if f.name == file_type).keyed:
            where = f"delivery_id = {lit(d.delivery_id)} AND {k.name} IS NULL AND {k.source} IS NOT NULL"
            if self.conn.exec_driver_sql(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1").first():
                expr = f"{lit(f'{d.district_id}:{k.prefix}')} || {k.source}"
                hash_values(self.conn, self.warehouse, f"SELECT {expr} FROM {table} WHERE {where}")
                self.conn.exec_driver_sql(f"UPDATE {table} SET {k.name} = {lookup_sql(expr)} WHERE {where}")

    def keyed(self, expr: str, relation: str) -> str:
        """SQL: the keyed hash (hub/store/keyed.py) of `expr`, an expression over `s`, a row of `relation`; the hashes
        are computed here (in Python) for the values `relation` holds."""
        hash_values(self.conn, self.warehouse, f"SELECT {expr} FROM {relation} s")
        return lookup_sql(expr)


def lit(value: str | None) -> str:
    """A SQL string literal (for values the hub itself controls: ids, file names, codes)."""
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class UpsertPlan:
    """Keyed upsert of a source relation into a target table.

    `source_sql` yields target column names plus `source_file`, `delivery_id` and `source_row`. NULL in the
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

    The target needs hub.store.tables.lineage_columns() (where each row came from).
    """
    conn, t = ctx.conn, plan.target
    target = f"{t.schema}.{t.name}"
    params = {"run_id": ctx.run_id, "now": ctx.now}

    def run(sql: str) -> sa.CursorResult:
        return conn.execute(sa.text(sql), params)

    on = " AND ".join(f"t.{k} = s.{k}" for k in plan.key)
    found, k = f"t.{plan.key[0]} IS NOT NULL", f"t.{plan.key[0]}"
    changing = f"{found} AND ({plan.can_update}) AND ({_changed(plan)})" if plan.update_columns else "FALSE"
    creating = f"{k} IS NULL AND ({plan.can_insert})" if plan.can_insert else "FALSE"
    # one pass tells what there is to do: a night that changes few rows runs no statement over the others
    total, matched, inactive, changed, creatable = run(
        f"SELECT count(*), count({k}), {_count(f'{found} AND NOT ({plan.can_update})')}, {_count(changing)}, "
        f"{_count(creating)} "
        f"FROM ({plan.source_sql}) s LEFT JOIN {target} t ON {on}").one()
    stats = TableStats(skipped={"inactive": int(inactive)})
    if changed and ctx.limited:  # rows that would change are left as they are
        stats.skipped[LIMITED] = int(changed)
    elif changed:
        stats.updated = _update(ctx, plan, target, on, run)
    stats.unchanged = int(matched) - stats.updated - stats.skipped["inactive"] - stats.skipped.get(LIMITED, 0)
    if creatable:
        stats.inserted = _insert(ctx, plan, target, on, run, anti_join=matched > 0)
    stats.skipped["not_created"] = int(total) - int(matched) - stats.inserted
    return stats


def _insert(ctx: ApplyContext, plan: UpsertPlan, target: str, on: str, run, anti_join: bool) -> int:  # noqa: ANN001
    """Create the source rows that have no target row and may be created (`anti_join` False: no source row has
    one, e.g. a first import: one pass, straight into the target). Creates are audited by reference: each row
    records the delivery and source row that created it, and ops.field_audit gets one 'create' row per delivery
    (run, file, how many; `field` names the entity's key column), not one per record."""
    lineage = "last_delivery_id, created_delivery_id, created_source_row, created_at, updated_at"
    into = f"INSERT INTO {target} ({', '.join(plan.insert_columns)}, {lineage})"
    rows = (f"SELECT {', '.join('s.' + c for c in plan.insert_columns)}, s.delivery_id, s.delivery_id AS _created_by, "
            f"s.source_row, :now AS created_at, :now AS updated_at FROM ({plan.source_sql}) s WHERE ({plan.can_insert})")
    created = f"_created_{plan.target.name}"
    ctx.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {created}")
    if anti_join:
        # The rows to create are set aside first, on both warehouses: an INSERT that reads its own target in the
        # anti-join rescans the pages it is adding when the target's statistics say empty (emptied and vacuumed on
        # PostgreSQL: a nested-loop anti-join, quadratic in the rows; ANALYZE of an empty table plans the same).
        run(f"CREATE TEMP TABLE {created} AS {rows} AND NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})")
        inserted = run(f"{into} SELECT * FROM {created}").rowcount
        counts = f"SELECT delivery_id, count(*) AS n FROM {created} GROUP BY delivery_id"
    else:
        # every row the source may create is new: the counts per delivery are those of the source
        counts = (f"SELECT s.delivery_id, count(*) AS n FROM ({plan.source_sql}) s WHERE ({plan.can_insert}) "
                  "GROUP BY s.delivery_id")
        if ctx.conn.dialect.name == "postgresql":  # PostgreSQL counts what it inserted, no second pass
            run(f"CREATE TEMP TABLE {created} AS WITH i AS ({into} {rows} RETURNING created_delivery_id) "
                "SELECT created_delivery_id AS delivery_id, count(*) AS n FROM i GROUP BY created_delivery_id")
            inserted = int(run(f"SELECT COALESCE(SUM(n), 0) FROM {created}").scalar_one())
            counts = f"SELECT delivery_id, n FROM {created}"
        else:
            inserted = run(f"{into} {rows}").rowcount
    if inserted:
        run(f"INSERT INTO ops.field_audit ({AUDIT_COLUMNS}) SELECT {lit(ctx.district.id)}, {lit(target)}, "
            f"{lit(CREATED_BY_REFERENCE)}, 'create', {lit(plan.entity_key)}, NULL, CAST(c.n AS VARCHAR), d.file_name, "
            f"c.delivery_id, :run_id, :now, NULL FROM ({counts}) c JOIN ops.deliveries d ON d.delivery_id = c.delivery_id")
    ctx.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {created}")
    if inserted > ANALYZE_AFTER_ROWS:
        ctx.warehouse.analyze(ctx.conn, target)  # later statements of this apply plan with its new size
    return inserted


def _count(predicate: str) -> str:
    return f"COALESCE(SUM(CASE WHEN {predicate} THEN 1 ELSE 0 END), 0)"


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
    # one pass over the changed rows: each row's fields side by side (VALUES), an audit row per field it changes,
    # credited to the delivery that supplied the value (field_deliveries: files of one day merged field by field; a
    # field another file supplied has no source row known) or else to the row's own
    merged = plan.field_deliveries
    fields = ", ".join(
        f"({lit(c)}, CAST(x._old_{c} AS VARCHAR), CAST(x.{c} AS VARCHAR), x.{c} IS NOT NULL AND x._old_{c} IS "
        f"DISTINCT FROM x.{c}{f', COALESCE(x.{c}__delivery, x.delivery_id)' if merged else ''})"
        for c in plan.update_columns)
    credit = ("d.file_name, d.delivery_id, :run_id, :now, CASE WHEN d.delivery_id = x.delivery_id THEN x.source_row END"
              if merged else "x.source_file, x.delivery_id, :run_id, :now, x.source_row")
    run(f"INSERT INTO ops.field_audit ({AUDIT_COLUMNS}) SELECT x._district, {lit(target)}, x._entity, 'update', "
        f"v.field, v.old_value, v.new_value, {credit} FROM {chg} x CROSS JOIN LATERAL (VALUES {fields}) "
        f"v(field, old_value, new_value, changed{', credited' if merged else ''})"
        f"{' JOIN ops.deliveries d ON d.delivery_id = v.credited' if merged else ''} WHERE v.changed")
    sets = ", ".join(f"{c} = COALESCE(s.{c}, t.{c})" for c in plan.update_columns)
    updated = run(f"UPDATE {target} AS t SET {sets}, last_delivery_id = s.delivery_id, updated_at = :now "
                  f"FROM {chg} s WHERE {on}").rowcount
    ctx.conn.exec_driver_sql(f"DROP TABLE {chg}")
    return updated


AUDIT_COLUMNS = ("district_id, entity, entity_key, action, field, old_value, new_value, source_file, delivery_id, run_id, "
                 "changed_at, source_row")
