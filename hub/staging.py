"""Parse an archived file in chunks, validate it, and stage it — all or nothing, in one transaction."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from hub.declarations import Feed, FileType
from hub.ledger import Delivery
from hub.minimisation import record_dropped_columns
from hub.parsing import ROW, FileFormatError, open_table
from hub.tables import row_errors, staging_table
from hub.validation import RowError, build_schema, missing_columns, prepare_chunk
from resources.warehouse import Warehouse

FIRST_ERRORS = 20


@dataclass
class StageResult:
    """What staging one delivery found; `errors` counts row errors (all stored in ops.row_errors)."""

    file_name: str
    rows: int = 0
    errors: int = 0
    first_errors: list[RowError] = field(default_factory=list)
    encoding: str | None = None
    columns: list[str] = field(default_factory=list)
    unmatched_headers: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.errors == 0

    def add_errors(self, conn: sa.Connection, warehouse: Warehouse, delivery_id: str, errs: Sequence[RowError]) -> None:
        if not errs:
            return
        self.errors += len(errs)
        self.first_errors += list(errs[: max(0, FIRST_ERRORS - len(self.first_errors))])
        frame = pd.DataFrame({"delivery_id": delivery_id, "file_name": self.file_name,
                              "row_number": [e.row_number for e in errs], "column_name": [e.column for e in errs],
                              "rule": [e.rule for e in errs]})
        warehouse.load_frame(conn, "ops.row_errors", frame)


def stage_delivery(warehouse: Warehouse, feed: Feed, ft: FileType, delivery: Delivery, *,
                   date_formats: Sequence[str], value_maps: Mapping[str, Mapping[str, str]],
                   chunk_rows: int = 50_000) -> StageResult:
    """Stage `delivery`'s archived file into its staging table; on any row error nothing stays staged."""
    started = time.monotonic()
    table = staging_table(feed, ft)
    target = f"staging.{table.name}"
    result = StageResult(file_name=delivery.file_name)
    schema = build_schema(ft)
    with warehouse.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.delivery_id == delivery.delivery_id))
        conn.execute(sa.delete(row_errors).where(row_errors.c.delivery_id == delivery.delivery_id))
        try:
            reader = open_table(Path(delivery.archive_path or ""), ft.aliases(), chunk_rows=chunk_rows)
            result.encoding, result.columns = reader.encoding, list(reader.columns)
            result.unmatched_headers = list(reader.unmatched_headers)
            record_dropped_columns(conn, delivery, result.unmatched_headers)
            result.add_errors(conn, warehouse, delivery.delivery_id, missing_columns(ft, result.columns))
            for chunk in reader.chunks():
                chunk, errs = prepare_chunk(ft, chunk, schema, date_formats, value_maps)
                result.rows += len(chunk)
                result.add_errors(conn, warehouse, delivery.delivery_id, errs)
                if result.passed:
                    _load(warehouse, conn, target, chunk, delivery.delivery_id)
        except FileFormatError as exc:
            result.add_errors(conn, warehouse, delivery.delivery_id, [RowError(exc_row(exc), "*", str(exc))])
        if result.passed and ft.unique_key:
            result.add_errors(conn, warehouse, delivery.delivery_id, _duplicates(conn, target, ft, delivery.delivery_id))
        if not result.passed:
            conn.execute(sa.delete(table).where(table.c.delivery_id == delivery.delivery_id))
    result.seconds = round(time.monotonic() - started, 3)
    return result


def exc_row(exc: FileFormatError) -> int:
    """The row a whole-file error points at (0 when it concerns the file as a whole)."""
    return int(getattr(exc, "row", 0) or 0)


def _load(warehouse: Warehouse, conn: sa.Connection, target: str, chunk: pd.DataFrame, delivery_id: str) -> None:
    frame = chunk.rename(columns={ROW: "source_row"})
    frame.insert(0, "delivery_id", delivery_id)
    warehouse.load_frame(conn, target, frame)


def _duplicates(conn: sa.Connection, target: str, ft: FileType, delivery_id: str) -> list[RowError]:
    """Rows repeating an earlier row's unique key within the same file."""
    key = ", ".join(ft.unique_key)
    repeated = conn.execute(sa.text(f"SELECT 1 FROM {target} WHERE delivery_id = :d GROUP BY {key} HAVING count(*) > 1 "
                                    "LIMIT 1"), {"d": delivery_id}).first()
    if repeated is None:  # the common case: one cheap aggregate, no window over the file
        return []
    rows = conn.execute(sa.text(
        f"SELECT source_row FROM (SELECT source_row, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY source_row) AS n "
        f"FROM {target} WHERE delivery_id = :d AND {' AND '.join(f'{k} IS NOT NULL' for k in ft.unique_key)}) x "
        "WHERE n > 1 ORDER BY source_row"), {"d": delivery_id}).scalars().all()
    rule = f"duplicate {'/'.join(ft.unique_key)}: repeats an earlier row of this file"
    return [RowError(int(r), ft.unique_key[0], rule) for r in rows]
