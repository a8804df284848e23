"""Rows a delivery sets aside under `on_row_error: skip_rows`: rows with errors and rows whose unique key repeats go
to the file type's quarantine table with their errors, never applied (hub/load/staging.py stages the rest)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from hub.load.validation import RowError
from hub.read.parsing import LINE, ROW
from hub.registry.declarations import FileType
from resources.warehouse import Warehouse


def quarantine_rows(conn: sa.Connection, warehouse: Warehouse, quarantine: sa.Table, delivery_id: str,
                    rows: pd.DataFrame, errs: Sequence[RowError], unread: Sequence[RowError]) -> None:
    """Keep rows with errors aside with their errors: rows of the chunk with their values, records that could not
    be read (another field count) without values."""
    said: dict[int, list[str]] = {}
    for e in errs:
        said.setdefault(e.row_number, []).append(f"{e.column}: {e.rule}")
    frame = staged_rows(rows, delivery_id)
    lines = {e.row_number: e.line for e in unread}
    blank = pd.DataFrame({"delivery_id": delivery_id, "source_row": np.array(sorted(lines), dtype=np.int64),
                          "source_line": pd.array([lines[r] for r in sorted(lines)], dtype="Int64")})
    for part in (frame, blank):
        if len(part):
            part["errors"] = ["; ".join(said[int(r)]) for r in part["source_row"]]
            warehouse.load_frame(conn, f"{quarantine.schema}.{quarantine.name}", part)


def quarantine_staged(conn: sa.Connection, target: str, quarantine: sa.Table, ft: FileType, delivery_id: str,
                      dups: Sequence[RowError]) -> None:
    """Move staged rows whose key is duplicated into the quarantine table (rows already there get the error too)."""
    cols = ", ".join(c.name for c in ft.columns)
    q = f"{quarantine.schema}.{quarantine.name}"
    p = {"d": delivery_id, "e": f"{dups[0].column}: {dups[0].rule}"}
    conn.execute(sa.text(f"UPDATE {q} SET errors = errors || '; ' || :e WHERE delivery_id = :d AND "
                         f"{_dup_filter(ft, q)}"), p)
    conn.execute(sa.text(
        f"INSERT INTO {q} (delivery_id, source_row, source_line, errors, {cols}) SELECT delivery_id, source_row, "
        f"source_line, :e, {cols} FROM {target} WHERE delivery_id = :d AND {_dup_filter(ft, target)}"), p)
    conn.execute(sa.text(f"DELETE FROM {target} WHERE delivery_id = :d AND {_dup_filter(ft, target)}"), p)
    conn.exec_driver_sql("DROP TABLE _dup_keys")


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


def staged_rows(chunk: pd.DataFrame, delivery_id: str) -> pd.DataFrame:
    frame = chunk.rename(columns={ROW: "source_row", LINE: "source_line"})
    if "source_line" not in frame:
        frame["source_line"] = pd.array([None] * len(frame), dtype="Int64")
    frame.insert(0, "delivery_id", delivery_id)
    return frame


def _keys_of(relation: str, ft: FileType) -> str:
    key = ", ".join(ft.unique_key)
    filled = " AND ".join(f"{k} IS NOT NULL" for k in ft.unique_key)
    return f"SELECT {key} FROM {relation} WHERE delivery_id = :d AND {filled}"


def _dup_filter(ft: FileType, relation: str) -> str:
    """SQL: the row of `relation` has one of the delivery's duplicated keys (`_dup_keys`, a temporary table)."""
    on = " AND ".join(f"k.{c} = {relation}.{c}" for c in ft.unique_key)
    return f"EXISTS (SELECT 1 FROM _dup_keys k WHERE {on})"


def set_aside_duplicates(conn: sa.Connection, target: str, quarantine: sa.Table, ft: FileType, delivery_id: str,
                         skip: bool) -> list[RowError]:
    """Every row of the file sharing its unique key with another (none of them can be trusted); with `skip` the
    quarantined rows count too. Leaves the duplicated keys in the temporary table _dup_keys."""
    key = ", ".join(ft.unique_key)
    rows = _keys_of(target, ft)
    if skip:
        rows += f" UNION ALL {_keys_of(f'{quarantine.schema}.{quarantine.name}', ft)}"
    conn.exec_driver_sql("DROP TABLE IF EXISTS _dup_keys")
    conn.execute(sa.text(f"CREATE TEMP TABLE _dup_keys AS SELECT {key}, count(*) AS n FROM ({rows}) x GROUP BY {key} "
                         "HAVING count(*) > 1"), {"d": delivery_id})
    found = conn.execute(sa.text(
        f"SELECT s.source_row, s.source_line FROM (SELECT source_row, source_line, {key} FROM {target} "
        "WHERE delivery_id = :d"
        + (f" UNION ALL SELECT source_row, source_line, {key} FROM {quarantine.schema}.{quarantine.name} "
           "WHERE delivery_id = :d" if skip else "")
        + f") s JOIN _dup_keys k ON {' AND '.join(f'k.{c} = s.{c}' for c in ft.unique_key)} ORDER BY s.source_row"),
        {"d": delivery_id}).all()
    if not skip or not found:
        conn.exec_driver_sql("DROP TABLE _dup_keys")
    rule = f"duplicate {'/'.join(ft.unique_key)}: another row of this file has the same (none of them is applied)"
    return [RowError(int(r), ft.unique_key[0], rule, None if n is None else int(n)) for r, n in found]
