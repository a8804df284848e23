"""The per-delivery import log: a text file kept in the archive next to the delivered file.

It lists counts, every rejected row (row, column, rule) and every created or updated record by hashed key with
the names of the fields changed. It never holds values, so the UI may link it; the preview holds counts only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa

from hub.ledger import Delivery

_BATCH = 10_000


@dataclass(frozen=True)
class ImportLog:
    path: Path
    rejected: int
    created: int
    updated: int

    def preview(self, counts: Mapping[str, object]) -> str:
        """Short markdown for the materialization: counts only, and where the full log is."""
        lines = ["| | |", "|---|---:|", *(f"| {k} | {v} |" for k, v in counts.items()),
                 f"| rows rejected | {self.rejected} |", f"| records created | {self.created} |",
                 f"| records updated | {self.updated} |"]
        return "\n".join(lines) + f"\n\nFull log (row numbers, hashed keys, field names): `{self.path}`"


def log_path(delivery: Delivery, run_id: str) -> Path:
    """<archived file>.<run id prefix>.import-log.txt: one log per delivery and run."""
    return Path(f"{delivery.archive_path}.{run_id[:8]}.import-log.txt")


def write_import_log(conn: sa.Connection, delivery: Delivery, *, run_id: str, trigger: str,
                     counts: Mapping[str, object]) -> ImportLog:
    """Write (or rewrite) the import log of one delivery in one run, streaming rows from ops tables."""
    path = log_path(delivery, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = {"d": delivery.delivery_id, "r": run_id}
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(f"Import log\nfile: {delivery.file_name}\ndelivery: {delivery.delivery_id}\n"
                  f"district: {delivery.district_id}\nintegration: {delivery.integration_id}\nrun: {run_id}\n"
                  f"trigger: {trigger}\nwritten: {dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n\n")
        for k, v in counts.items():
            out.write(f"{k}: {v}\n")
        out.write("\n[rejected rows] row, column, rule\n")
        rejected = _stream(conn, out, "SELECT row_number, column_name, rule FROM ops.row_errors WHERE delivery_id = :d "
                                      "ORDER BY row_number, column_name", params)
        out.write("\n[records] hashed key, action, fields changed\n")
        actions = _stream(conn, out, _RECORDS, params, count_by=1)
    tmp.replace(path)
    return ImportLog(path, rejected[""], actions.get("create", 0), actions.get("update", 0))


_RECORDS = ("SELECT entity_key, action, STRING_AGG(field, ' ' ORDER BY field) FROM ops.field_audit "
            "WHERE delivery_id = :d AND run_id = :r AND action IN ('create', 'update', 'loose_match') "
            "GROUP BY entity, entity_key, action ORDER BY action, entity_key")


def _stream(conn: sa.Connection, out: TextIO, sql: str, params: dict, count_by: int | None = None) -> dict[str, int]:
    """Write each row as a CSV-like line; return row counts (by column `count_by`, or under '')."""
    counts: dict[str, int] = {"": 0}
    result = conn.execution_options(yield_per=_BATCH).execute(sa.text(sql), params)
    for row in result:
        out.write(", ".join("" if v is None else str(v) for v in row) + "\n")
        key = "" if count_by is None else str(row[count_by])
        counts[key] = counts.get(key, 0) + 1
    return counts
