"""PEER's own rules (Focus import): only active students outside excluded schools; the environment group
all-or-nothing; log fields mirror the PEER file. Which columns fill which fields is declared in layout.yaml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from feeds.peer.layout import FieldSpec, load_layout
from hub.apply.fields import LOGS, VALUES, apply_values, sync_logs
from hub.apply.upsert import ApplyContext, ApplyStats, lit

LAYOUT = load_layout()
SPLIT_MAX = 9  # "Exceptionality, Other": up to 9 one-letter codes, Z-filled


class PeerOptions(BaseModel):
    """Per-integration PEER options (registry `options:`)."""

    model_config = ConfigDict(extra="forbid")
    excluded_schools: tuple[str, ...] = ("3518", "3900", "9997", "ZZZZ", "YYYY", "WWWW", "9995", "TRAN")


def _v(column: str) -> str:
    return f"NULLIF(TRIM(s.{column}), '')"


def _eligible(ctx: ApplyContext) -> str:
    """Students the import may touch: currently active and not primarily enrolled at an excluded school."""
    opts: PeerOptions = ctx.options  # type: ignore[assignment]
    excluded = ", ".join(lit(s.upper()) for s in opts.excluded_schools) or "''"
    return (f"SELECT student_key, state_student_id FROM core.students WHERE district_id = {lit(ctx.district.id)} "
            f"AND status = 'active' AND UPPER(COALESCE(school_code, '')) NOT IN ({excluded})")


def _rows(ctx: ApplyContext, file_type: str, value: str, field_id: str, where: str = "TRUE") -> str:
    d = ctx.deliveries[file_type]
    return (f"SELECT {lit(ctx.district.id)} AS district_id, e.student_key, {lit(field_id)} AS field_id, {value} AS value, "
            f"{lit(d.file_name)} AS source_file, s.delivery_id FROM {ctx.staged(file_type)} s "
            f"JOIN ({_eligible(ctx)}) e ON e.state_student_id = s.fleid WHERE {value} IS NOT NULL AND {where}")


def _complete(group: str | None) -> str:
    members = [f.column for f in LAYOUT.fields.values() if group and f.group == group]
    return " AND ".join(f"{_v(c)} IS NOT NULL" for c in members) or "TRUE"


def _log_rows(ctx: ApplyContext, fid: str, f: FieldSpec) -> str:
    where = " AND ".join(f"s.{c} = {lit(v)}" for c, v in f.where.items()) or "TRUE"
    if not f.split:
        return _rows(ctx, f.file, _v(f.column), fid, where)
    return " UNION ALL ".join(
        _rows(ctx, f.file, f"NULLIF(NULLIF(SUBSTR(COALESCE(s.{f.column}, ''), {n}, 1), ''), 'Z')", fid, where)
        for n in range(1, SPLIT_MAX + 1))


def apply(ctx: ApplyContext) -> ApplyStats:
    """Apply one day's PEER files to the students' fields and log fields."""
    fields = {fid: f for fid, f in LAYOUT.fields.items() if f.file in ctx.deliveries}
    values = [_rows(ctx, f.file, _v(f.column), fid, _complete(f.group))
              for fid, f in fields.items() if f.kind == "value"]
    stats: ApplyStats = {}
    if values:
        stats[VALUES] = apply_values(ctx, " UNION ALL ".join(values))
        stats[VALUES].skipped = _skips(ctx)
    logs = {fid: f for fid, f in fields.items() if f.kind == "log"}
    if logs:
        source = " UNION ALL ".join(_log_rows(ctx, fid, f) for fid, f in logs.items())
        stats[LOGS] = sync_logs(ctx, source, f"SELECT student_key FROM ({_eligible(ctx)}) el", tuple(logs))
    return stats


def _skips(ctx: ApplyContext) -> dict[str, int]:
    """Per-student skips of the ESE-type file(s): unknown or not eligible students, incomplete groups."""
    out: dict[str, int] = {}
    for ft in sorted({f.file for f in LAYOUT.fields.values() if f.kind == "value" and f.file in ctx.deliveries}):
        groups = sorted({f.group for f in LAYOUT.fields.values() if f.file == ft and f.group})
        incomplete = " + ".join(f"CASE WHEN e.student_key IS NOT NULL AND NOT ({_complete(g)}) THEN 1 ELSE 0 END"
                                for g in groups) or "0"
        row = ctx.conn.exec_driver_sql(
            f"SELECT COALESCE(SUM(CASE WHEN t.student_key IS NULL THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM(CASE WHEN t.student_key IS NOT NULL AND e.student_key IS NULL THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM({incomplete}), 0) FROM {ctx.staged(ft)} s "
            f"LEFT JOIN core.students t ON t.district_id = {lit(ctx.district.id)} AND t.state_student_id = s.fleid "
            f"LEFT JOIN ({_eligible(ctx)}) e ON e.student_key = t.student_key").one()
        for what, n in zip(("unknown student", "inactive or excluded school", "incomplete group"), row):
            out[what] = out.get(what, 0) + int(n)
    return out
