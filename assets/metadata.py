"""Materialization and check metadata a district data person can read (counts and hashed keys only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg
import sqlalchemy as sa

from hub.registry.declarations import FileType
from hub.store.tables import CREATED_BY_REFERENCE, audited_records

if TYPE_CHECKING:  # the definitions use column_schema; the steps' types stay out of their imports
    from hub.apply.upsert import ApplyStats
    from hub.load.staging import StageResult
    from hub.load.validation import RowError


def errors_markdown(errors: Sequence[RowError]) -> dg.MetadataValue:
    lines = ["| row | line | column | rule |", "|---:|---:|---|---|"]
    lines += [f"| {e.row_number} | {'' if e.line is None else e.line} | {e.column} | {e.rule.replace('|', '/')} |"
              for e in errors]
    return dg.MetadataValue.md("\n".join(lines))


def stage_outcome(staged: StageResult) -> str:
    """'staged', 'staged with N rows rejected' (skip_rows) or 'rejected: <why>'."""
    if not staged.passed:
        return f"rejected: {staged.reason}"
    return f"staged with {staged.skipped} rows rejected" if staged.skipped else "staged"


def stage_metadata(ft: FileType, staged: StageResult, table: str) -> dict[str, object]:
    return {
        "file": staged.file_name,
        "encoding": staged.encoding or "unreadable",
        "result": stage_outcome(staged),
        f"{table} rows inserted": dg.MetadataValue.int(staged.rows - staged.skipped - staged.unchanged if staged.passed else 0),
        "rows read": dg.MetadataValue.int(staged.rows),
        "rows unchanged since the last applied file (not staged)": dg.MetadataValue.int(staged.unchanged),
        "rows rejected": dg.MetadataValue.int(staged.rows_rejected),
        "row errors": dg.MetadataValue.int(staged.errors),
        "on row error": staged.on_row_error,
        "footer rows": ", ".join(map(str, staged.footers)) or "none",
        "seconds": dg.MetadataValue.float(staged.seconds),
        "columns matched": dg.MetadataValue.int(len(staged.columns)),
        "headers not used": ", ".join(staged.unmatched_headers) or "none",
    }


def apply_metadata(stats: ApplyStats, seconds: float) -> dict[str, object]:
    md: dict[str, object] = {"seconds": dg.MetadataValue.float(round(seconds, 3))}
    rows = ["| table | inserted | updated | deleted | unchanged | skipped |", "|---|---:|---:|---:|---:|---|"]
    for table, s in stats.items():
        skipped = ", ".join(f"{k}: {v}" for k, v in s.skipped.items() if v) or "0"
        rows.append(f"| {table} | {s.inserted} | {s.updated} | {s.deleted} | {s.unchanged} | {skipped} |")
        for what in ("inserted", "updated", "deleted", "unchanged"):
            md[f"{table} rows {what}"] = dg.MetadataValue.int(getattr(s, what))
        md[f"{table} seconds"] = dg.MetadataValue.float(round(s.seconds, 3))
        for k, v in s.skipped.items():
            md[f"{table} rows skipped ({k})"] = dg.MetadataValue.int(v)
    md["summary"] = dg.MetadataValue.md("\n".join(rows))
    return md


def column_schema(ft: FileType) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, "date" if c.kind == "date" else "string",
                       description=", ".join(filter(None, [c.description, "headers: " + " / ".join(c.headers[1:])])),
                       constraints=dg.TableColumnConstraints(nullable=c.nullable, other=[c.pattern_rule] if c.pattern_rule else []))
        for c in ft.columns
    ])


ROW_ERROR_LIMIT = 500
_ROW_ERRORS = dg.TableSchema(columns=[
    dg.TableColumn("row", "int", description="spreadsheet row (header = row 1; 0: the file as a whole)"),
    dg.TableColumn("line", "int", description="CSV: the physical line where the record starts"),
    dg.TableColumn("column", "string"), dg.TableColumn("rule", "string")])


def row_errors_table(conn: sa.Connection, delivery_id: str, limit: int = ROW_ERROR_LIMIT) -> dg.MetadataValue:
    """The delivery's first `limit` row errors (row, line, column, rule; never values) as a table the UI renders;
    the full list is the CSV beside the import log."""
    rows = conn.execute(sa.text("SELECT row_number, line_number, column_name, rule FROM ops.row_errors "
                                "WHERE delivery_id = :d ORDER BY row_number, column_name LIMIT :n"),
                        {"d": delivery_id, "n": limit})
    return dg.MetadataValue.table([dg.TableRecord({"row": int(r), "line": None if n is None else int(n), "column": c,
                                                   "rule": rule})
                                   for r, n, c, rule in rows], schema=_ROW_ERRORS)


_FIELDS = dg.TableSchema(columns=[dg.TableColumn("table", "string"), dg.TableColumn("action", "string"),
                                  dg.TableColumn("field", "string"), dg.TableColumn("records", "int")])


def fields_changed(conn: sa.Connection, delivery_id: str, run_id: str) -> dg.MetadataValue | None:
    """What one run changed for one delivery: per table, action and field, the number of records (from the field
    audit; names of fields only, never values). None when the run changed nothing for it."""
    rows = conn.execute(sa.text(
        f"SELECT entity, action, CASE WHEN entity_key = '{CREATED_BY_REFERENCE}' THEN '' ELSE COALESCE(field, '') END "
        f"AS f, {audited_records()} FROM ops.field_audit WHERE delivery_id = :d AND run_id = :r "
        "GROUP BY entity, action, 3 ORDER BY entity, action, 3"),
        {"d": delivery_id, "r": run_id}).all()
    if not rows:
        return None
    return dg.MetadataValue.table([dg.TableRecord({"table": e, "action": a, "field": f or "(whole record)",
                                                   "records": int(n)}) for e, a, f, n in rows], schema=_FIELDS)
