"""Materialization and check metadata a district data person can read (counts and hashed keys only)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from hub.apply import ApplyStats
from hub.declarations import FileType
from hub.staging import StageResult
from hub.validation import RowError


def errors_markdown(errors: Sequence[RowError]) -> dg.MetadataValue:
    lines = ["| row | column | rule |", "|---:|---|---|"]
    lines += [f"| {e.row_number} | {e.column} | {e.rule.replace('|', '/')} |" for e in errors]
    return dg.MetadataValue.md("\n".join(lines))


def stage_metadata(ft: FileType, staged: StageResult, table: str) -> dict[str, object]:
    return {
        "file": staged.file_name,
        "encoding": staged.encoding or "unreadable",
        f"{table} rows inserted": dg.MetadataValue.int(staged.rows if staged.passed else 0),
        "rows read": dg.MetadataValue.int(staged.rows),
        "rows rejected": dg.MetadataValue.int(staged.errors),
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
