"""Per-student custom fields (Focus's custom_### model): single-value fields and log fields, with a field audit.

Source relations yield district_id, student_key, field_id, value, source_file, delivery_id. Set-based SQL,
run inside the caller's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.apply.upsert import AUDIT_COLUMNS, LIMITED, LIMITED_DELETE, ApplyContext, TableStats, lit
from hub.store.keyed import KEYED
from hub.store.tables import metadata

student_fields = sa.Table(
    "student_fields", metadata,
    sa.Column("district_id", sa.String, primary_key=True),
    sa.Column("student_key", sa.String, primary_key=True, info=KEYED),  # core.students.student_key
    sa.Column("field_id", sa.String, primary_key=True),  # e.g. custom_879
    sa.Column("value", sa.String),
    sa.Column("last_delivery_id", sa.String),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    schema="core",
)

student_field_logs = sa.Table(
    "student_field_logs", metadata,
    sa.Column("district_id", sa.String, primary_key=True),
    sa.Column("student_key", sa.String, primary_key=True, info=KEYED),
    sa.Column("field_id", sa.String, primary_key=True),
    sa.Column("value", sa.String, primary_key=True),  # one log record; never stored twice
    sa.Column("last_delivery_id", sa.String),
    sa.Column("created_at", sa.DateTime, nullable=False),
    schema="core",
)

VALUES, LOGS = "core.student_fields", "core.student_field_logs"


def _run(ctx: ApplyContext, sql: str) -> sa.CursorResult:
    return ctx.conn.execute(sa.text(sql), {"run_id": ctx.run_id, "now": ctx.now})


def apply_values(ctx: ApplyContext, source_sql: str) -> TableStats:
    """Set field values (one row per student and field); audit each changed value."""
    chg = "_changed_student_fields"
    ctx.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {chg}")
    ctx.conn.exec_driver_sql(
        f"CREATE TEMP TABLE {chg} AS SELECT s.*, t.value AS _old, t.student_key IS NULL AS _new FROM ({source_sql}) s "
        f"LEFT JOIN {VALUES} t ON t.district_id = s.district_id AND t.student_key = s.student_key "
        f"AND t.field_id = s.field_id WHERE t.student_key IS NULL OR t.value IS DISTINCT FROM s.value")
    total = _run(ctx, f"SELECT count(*) FROM ({source_sql}) s").scalar_one()
    limited = _run(ctx, f"DELETE FROM {chg} WHERE NOT _new").rowcount if ctx.limited else 0  # only creates
    _run(ctx, f"INSERT INTO ops.field_audit ({AUDIT_COLUMNS}) SELECT district_id, {lit(VALUES)}, student_key, "
              f"CASE WHEN _new THEN 'create' ELSE 'update' END, field_id, _old, value, source_file, delivery_id, "
              f":run_id, :now, NULL FROM {chg}")
    updated = _run(ctx, f"UPDATE {VALUES} AS t SET value = c.value, last_delivery_id = c.delivery_id, updated_at = :now "
                        f"FROM {chg} c WHERE NOT c._new AND t.district_id = c.district_id "
                        f"AND t.student_key = c.student_key AND t.field_id = c.field_id").rowcount
    inserted = _run(ctx, f"INSERT INTO {VALUES} (district_id, student_key, field_id, value, last_delivery_id, "
                         f"created_at, updated_at) SELECT district_id, student_key, field_id, value, delivery_id, :now, "
                         f":now FROM {chg} WHERE _new ORDER BY district_id, student_key, field_id").rowcount
    ctx.conn.exec_driver_sql(f"DROP TABLE {chg}")
    return TableStats(inserted=inserted, updated=updated, unchanged=int(total) - inserted - updated - limited,
                      skipped={LIMITED: limited} if limited else {})


def sync_logs(ctx: ApplyContext, source_sql: str, scope_sql: str, field_ids: tuple[str, ...]) -> TableStats:
    """Make the log records of the students in `scope_sql` (student_key column) for `field_ids` equal the source:
    new records inserted, records no longer delivered deleted, a record delivered twice stored once."""
    if not field_ids:
        return TableStats()
    src = (f"SELECT district_id, student_key, field_id, value, MIN(source_file) AS source_file, "
           f"MIN(delivery_id) AS delivery_id FROM ({source_sql}) x GROUP BY district_id, student_key, field_id, value")
    ids = ", ".join(lit(f) for f in field_ids)
    gone = (f"FROM {LOGS} t WHERE t.district_id = {lit(ctx.district.id)} AND t.field_id IN ({ids}) "
            f"AND t.student_key IN ({scope_sql}) AND NOT EXISTS (SELECT 1 FROM ({src}) s WHERE s.district_id = "
            f"t.district_id AND s.student_key = t.student_key AND s.field_id = t.field_id AND s.value = t.value)")
    file_names = ", ".join(sorted(d.file_name for d in ctx.deliveries.values()))
    kept = deleted = 0
    if ctx.limited:  # limited imports delete nothing
        kept = _run(ctx, f"SELECT count(*) {gone}").scalar_one()
    else:
        _run(ctx, f"INSERT INTO ops.field_audit ({AUDIT_COLUMNS}) SELECT t.district_id, {lit(LOGS)}, t.student_key, "
                  f"'delete', t.field_id, t.value, NULL, {lit(file_names)}, NULL, :run_id, :now, NULL {gone}")
        deleted = _run(ctx, f"DELETE {gone.replace(f'FROM {LOGS} t', f'FROM {LOGS} AS t', 1)}").rowcount
    new = (f"FROM ({src}) s WHERE NOT EXISTS (SELECT 1 FROM {LOGS} t WHERE t.district_id = s.district_id AND "
           f"t.student_key = s.student_key AND t.field_id = s.field_id AND t.value = s.value)")
    _run(ctx, f"INSERT INTO ops.field_audit ({AUDIT_COLUMNS}) SELECT s.district_id, {lit(LOGS)}, s.student_key, 'create', "
              f"s.field_id, NULL, s.value, s.source_file, s.delivery_id, :run_id, :now, NULL {new}")
    inserted = _run(ctx, f"INSERT INTO {LOGS} (district_id, student_key, field_id, value, last_delivery_id, created_at) "
                         f"SELECT s.district_id, s.student_key, s.field_id, s.value, s.delivery_id, :now {new} "
                         f"ORDER BY 1, 2, 3, 4").rowcount
    total = _run(ctx, f"SELECT count(*) FROM ({src}) s").scalar_one()
    return TableStats(inserted=inserted, deleted=deleted, unchanged=int(total) - inserted,
                      skipped={LIMITED_DELETE: int(kept)} if kept else {})
