"""Parse an archived file in chunks, validate it, and stage it — all or nothing, in one transaction."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from hub.declarations import Feed, FileType
from hub.ledger import Delivery
from hub.layouts import layout_errors
from hub.minimisation import record_dropped_columns
from hub.parsing import ROW, FileFormatError, open_table
from hub.tables import row_errors, staging_table
from hub.validation import RowError, build_schema, missing_columns, prepare_chunk
from resources.archive import local_copy
from resources.warehouse import BulkLoad, Warehouse

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
                   headers: Mapping[str, Sequence[str]] | None = None, chunk_rows: int = 50_000,
                   max_cells: int | None = None) -> StageResult:
    """Stage `delivery`'s archived file into its staging table; on any row error nothing stays staged.
    `headers` adds the integration's own headers to the declared ones (column -> headers); a spreadsheet with more
    than `max_cells` cells is refused."""
    started = time.monotonic()
    table = staging_table(feed, ft)
    target = f"staging.{table.name}"
    result = StageResult(file_name=delivery.file_name)
    schema = build_schema(ft)
    keys = KeyHashes(ft.unique_key)
    # two runs of one integration: one after the other; the archived file may be in object storage (a local copy)
    with warehouse.begin(lock=delivery.integration_id) as conn, local_copy(delivery.archive_path or "") as source:
        conn.execute(sa.delete(table).where(table.c.delivery_id == delivery.delivery_id))
        conn.execute(sa.delete(row_errors).where(row_errors.c.delivery_id == delivery.delivery_id))
        load = BulkLoad(warehouse, conn, target)
        try:
            aliases = {c: (*hs, *(headers or {}).get(c, ())) for c, hs in ft.aliases().items()}
            reader = open_table(source, aliases, chunk_rows=chunk_rows, max_cells=max_cells)
            result.encoding, result.columns = reader.encoding, list(reader.columns)
            result.unmatched_headers = list(reader.unmatched_headers)
            record_dropped_columns(conn, delivery, result.unmatched_headers)
            result.add_errors(conn, warehouse, delivery.delivery_id,
                              layout_errors(ft, reader) or missing_columns(ft, result.columns))
            for chunk in reader.chunks():
                chunk, errs = prepare_chunk(ft, chunk, schema, date_formats, value_maps)
                result.rows += len(chunk)
                if errs:
                    load.close()  # the COPY ends before errors are written; nothing more is staged
                    result.add_errors(conn, warehouse, delivery.delivery_id, errs)
                if result.passed:
                    load.write(_staged(chunk, delivery.delivery_id))
                    keys.add(chunk)
        except FileFormatError as exc:
            load.close()
            result.add_errors(conn, warehouse, delivery.delivery_id, [RowError(exc_row(exc), "*", str(exc))])
        finally:
            load.close()
        if result.passed and keys.may_repeat():
            result.add_errors(conn, warehouse, delivery.delivery_id, _duplicates(conn, target, ft, delivery.delivery_id))
        if not result.passed:
            conn.execute(sa.delete(table).where(table.c.delivery_id == delivery.delivery_id))
        elif not warehouse.is_duckdb:  # row estimates for the apply's joins (autovacuum would come too late)
            conn.exec_driver_sql(f"ANALYZE {target} (delivery_id)")
    result.seconds = round(time.monotonic() - started, 3)
    return result


class KeyHashes:
    """64-bit hashes of the unique key of the staged rows: the exact, row-numbered duplicate search runs in SQL only
    when two hashes meet, or when the file has more rows than `limit` (memory stays at 8 bytes x limit).
    Rows with a blank key part are not compared."""

    def __init__(self, key: Sequence[str], limit: int = 1_000_000) -> None:  # 1M: more than any district's students
        self.key, self.limit = list(key), limit
        self._parts: list[np.ndarray] = []
        self._count = 0

    def add(self, chunk: pd.DataFrame) -> None:
        if not self.key or not all(k in chunk for k in self.key):
            return
        self._count += len(chunk)
        if self._count > self.limit:
            self._parts = []
            return
        cols = [pa.array(chunk[k].array) for k in self.key]
        filled = np.logical_and.reduce([pc.not_equal(c, "").to_numpy(zero_copy_only=False) for c in cols])
        joined = cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, pa.scalar("\x1f", cols[0].type))
        text = joined.filter(pa.array(filled)).to_numpy(zero_copy_only=False)
        self._parts.append(pd.util.hash_array(text, categorize=False))

    def may_repeat(self) -> bool:
        if self._count > self.limit:
            return True
        if not self._parts:
            return False
        hashes = np.concatenate(self._parts)
        hashes.sort()
        self._parts = [hashes]
        return bool((hashes[1:] == hashes[:-1]).any())


def exc_row(exc: FileFormatError) -> int:
    """The row a whole-file error points at (0 when it concerns the file as a whole)."""
    return int(getattr(exc, "row", 0) or 0)


def _staged(chunk: pd.DataFrame, delivery_id: str) -> pd.DataFrame:
    frame = chunk.rename(columns={ROW: "source_row"})
    frame.insert(0, "delivery_id", delivery_id)
    return frame


def _duplicates(conn: sa.Connection, target: str, ft: FileType, delivery_id: str) -> list[RowError]:
    """Rows repeating an earlier row's unique key within the same file."""
    key = ", ".join(ft.unique_key)
    repeated = conn.execute(sa.text(f"SELECT 1 FROM {target} WHERE delivery_id = :d GROUP BY {key} HAVING count(*) > 1 "
                                    "LIMIT 1"), {"d": delivery_id}).first()
    if repeated is None:  # one aggregate; the window below only when some key repeats
        return []
    rows = conn.execute(sa.text(
        f"SELECT source_row FROM (SELECT source_row, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY source_row) AS n "
        f"FROM {target} WHERE delivery_id = :d AND {' AND '.join(f'{k} IS NOT NULL' for k in ft.unique_key)}) x "
        "WHERE n > 1 ORDER BY source_row"), {"d": delivery_id}).scalars().all()
    rule = f"duplicate {'/'.join(ft.unique_key)}: repeats an earlier row of this file"
    return [RowError(int(r), ft.unique_key[0], rule) for r in rows]
