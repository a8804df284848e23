"""The per-delivery import log: a text file kept in the archive next to the delivered file.

It lists counts, every rejected row (row, line, column, rule) and every created, updated or deleted record by hashed key
with the names of the fields changed (created records in the order they were stored, up to CREATES_LISTED per table,
else one line with their count; changed ones by key). It never holds values, so the UI may link it; the preview holds
counts only. The row errors are also written as a CSV beside it (row, line, column, rule), for a coordinator to fix
the SIS by.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

import sqlalchemy as sa

from hub.apply.upsert import lit
from hub.intake.ledger import Delivery
from hub.store.tables import CREATED_BY_REFERENCE, metadata
from resources.archive import open_text, write_file
from resources.warehouse import Warehouse

HEAD_LINES = 200  # shown in the UI; the full log stays beside the archived file
CREATES_LISTED = 10_000  # created records listed by key per table; above: one line with their count


@dataclass(frozen=True)
class ImportLog:
    path: str  # its location in the archive (a local path or an s3:// URL)
    errors_csv: str  # the row errors as CSV, beside it
    rejected: int
    created: int
    updated: int
    deleted: int

    def preview(self, counts: Mapping[str, object]) -> str:
        """Short markdown for the materialization: counts only, and where the full log is."""
        lines = ["| | |", "|---|---:|", *(f"| {k} | {v} |" for k, v in counts.items()),
                 f"| rows rejected | {self.rejected} |", f"| records created | {self.created} |",
                 f"| records updated | {self.updated} |", f"| records deleted | {self.deleted} |"]
        return "\n".join(lines) + (f"\n\nFull log (row numbers, hashed keys, field names): `{self.path}`\n\n"
                                   f"Row errors (CSV: row, line, column, rule): `{self.errors_csv}`")

    def head(self, lines: int = HEAD_LINES) -> str:
        """The log's first `lines` lines (read as a stream), saying where the rest is when there is more."""
        with open_text(self.path) as log:
            text = list(itertools.islice(log, lines + 1))
        more = f"... more lines in the full log: {self.path}\n" if len(text) > lines else ""
        return "".join(text[:lines]) + more


def log_path(delivery: Delivery, run_id: str) -> str:
    """<archived file>.<run id prefix>.import-log.txt: one log per delivery and run."""
    return f"{delivery.archive_path}.{run_id[:8]}.import-log.txt"


def errors_csv_path(delivery: Delivery, run_id: str) -> str:
    """<archived file>.<run id prefix>.row-errors.csv, beside the import log."""
    return f"{delivery.archive_path}.{run_id[:8]}.row-errors.csv"


ROW_NUMBERS = ("row = the row a spreadsheet shows (header = row 1; 0 = the file as a whole); line = for CSV, the "
               "physical line where the record starts (they differ after a value holding a line break)")
_ERRORS = "FROM ops.row_errors WHERE delivery_id = {d} ORDER BY row_number, column_name"


def _csv(text: str) -> str:
    """SQL: a text expression as one quoted CSV field."""
    return f"'\"' || REPLACE({text}, '\"', '\"\"') || '\"'"


def write_errors_csv(conn: sa.Connection, warehouse: Warehouse, delivery: Delivery, run_id: str) -> str:
    """Every row error of the delivery as CSV (row, line, column, rule; never values), streamed out of ops."""
    path = errors_csv_path(delivery, run_id)
    with write_file(path) as out:
        out.write(b"row,line,column,rule\n")
        warehouse.copy_lines(conn, (
            f"SELECT CAST(row_number AS VARCHAR) || ',' || COALESCE(CAST(line_number AS VARCHAR), '') || ',' || "
            f"{_csv('column_name')} || ',' || {_csv('rule')} " + _ERRORS.format(d=lit(delivery.delivery_id))), out)
    return path


def _created(conn: sa.Connection, warehouse: Warehouse, d: str, r: str, out: BinaryIO, listed: int) -> int:
    """Lines of the records the delivery created in the run by reference (their keys are on the created rows); a
    table that got more than `listed` of them has one line saying how many and how to list them (writing a million
    keys costs more than the rest of the log, and no one reads them there)."""
    audit = (f"FROM ops.field_audit WHERE delivery_id = {d} AND run_id = {r} AND action = 'create' "
             f"AND entity_key = '{CREATED_BY_REFERENCE}'")
    refs = conn.exec_driver_sql(f"SELECT entity, field, SUM(CAST(new_value AS BIGINT)) {audit} GROUP BY entity, field "
                                "ORDER BY 1").all()
    total = 0
    for entity, key, n in refs:
        if entity not in metadata.tables or key not in metadata.tables[entity].c:
            continue
        if n > listed:
            out.write(f"({n} records of {entity}), create, keys not listed above {listed} records: SELECT {key} FROM "
                      f"{entity} WHERE created_delivery_id = {d}\n".encode())
            total += int(n)
            continue
        total += warehouse.copy_lines(conn, (  # the run's own creates: one apply, one timestamp
            f"SELECT {key} || ', create, ' FROM {entity} WHERE created_delivery_id = {d} "
            f"AND created_at IN (SELECT changed_at {audit} AND entity = {lit(entity)})"), out)
    return total


def write_import_log(conn: sa.Connection, warehouse: Warehouse, delivery: Delivery, *, run_id: str, trigger: str,
                     counts: Mapping[str, object], creates_listed: int = CREATES_LISTED) -> ImportLog:
    """Write (or rewrite) the import log of one delivery in one run, streaming lines out of the ops tables; a table
    that got more than `creates_listed` records from it has one summary line of its creates."""
    path = log_path(delivery, run_id)
    d, r = lit(delivery.delivery_id), lit(run_id)
    with write_file(path) as out:
        head = (f"Import log\nfile: {delivery.file_name}\ndelivery: {delivery.delivery_id}\n"
                f"district: {delivery.district_id}\nintegration: {delivery.integration_id}\nrun: {run_id}\n"
                f"trigger: {trigger}\nwritten: {dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n\n")
        out.write((head + "".join(f"{k}: {v}\n" for k, v in counts.items())).encode())
        out.write(f"\n[rejected rows] row, line, column, rule ({ROW_NUMBERS})\n".encode())
        rejected = warehouse.copy_lines(conn, (
            "SELECT CAST(row_number AS VARCHAR) || ', ' || COALESCE(CAST(line_number AS VARCHAR), '-') || ', ' || "
            "column_name || ', ' || rule " + _ERRORS.format(d=d)), out)
        out.write(b"\n[records] hashed key, action, fields changed\n")
        records = {"create": _created(conn, warehouse, d, r, out, creates_listed)}
        for action in ("create", "loose_match", "update", "delete"):  # a create is one audit row: nothing to group
            fields, group = ("''", "") if action == "create" else (
                "COALESCE(STRING_AGG(field, ' ' ORDER BY field), '')", " GROUP BY entity, entity_key ORDER BY entity_key")
            records[action] = records.get(action, 0) + warehouse.copy_lines(conn, (
                f"SELECT entity_key || ', {action}, ' || {fields} FROM ops.field_audit WHERE delivery_id = {d} "
                f"AND run_id = {r} AND action = '{action}' AND entity_key <> '{CREATED_BY_REFERENCE}'{group}"), out)
    return ImportLog(path, write_errors_csv(conn, warehouse, delivery, run_id), rejected, records["create"],
                     records["update"], records["delete"])
