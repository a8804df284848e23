"""The warehouse: one SQLAlchemy URL. DuckDB file by default, PostgreSQL in production.

Bulk loads use PostgreSQL COPY or DuckDB's native DataFrame scan, never row-by-row inserts.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa

DEFAULT_URL = "duckdb:///.hub/warehouse.duckdb"
_LOCK_WAIT_SECONDS = 120.0
_PG_WORK_MEM = "256MB"


@lru_cache(maxsize=8)
def _engine(url: str) -> sa.Engine:
    if url.startswith("duckdb:///"):
        Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
        # Short-lived connections: the DuckDB file lock is held only while a transaction runs.
        return sa.create_engine(url, poolclass=sa.pool.NullPool)
    return sa.create_engine(url, pool_pre_ping=True)


class Warehouse:
    """Connections and bulk loading for one warehouse URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)

    @property
    def is_duckdb(self) -> bool:
        return self.engine.dialect.name == "duckdb"

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """One transaction. On DuckDB, waits while another process holds the file lock."""
        conn = self._connect()
        try:
            with conn.begin():
                if not self.is_duckdb:
                    conn.exec_driver_sql(f"SET LOCAL work_mem = '{_PG_WORK_MEM}'")  # sorts and hash joins stay in memory
                yield conn
        finally:
            conn.close()

    def _connect(self) -> sa.Connection:
        deadline = time.monotonic() + _LOCK_WAIT_SECONDS
        while True:
            try:
                return self.engine.connect()
            except sa.exc.DBAPIError as exc:
                if not (self.is_duckdb and "lock" in str(exc).lower()) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def load_frame(self, conn: sa.Connection, table: str, df: pd.DataFrame, columns: Sequence[str] | None = None) -> int:
        """Append a DataFrame of strings to `table` (schema-qualified) inside `conn`'s transaction; '' becomes NULL."""
        cols = list(columns or df.columns)
        if df.empty:
            return 0
        if self.is_duckdb:
            raw = conn.connection.driver_connection
            view = f"_load_{id(df)}"
            raw.register(view, df[cols])
            try:
                select = ", ".join(f'NULLIF(CAST("{c}" AS VARCHAR), \'\')' if _is_text(df[c]) else f'"{c}"' for c in cols)
                conn.exec_driver_sql(f"INSERT INTO {table} ({_names(cols)}) SELECT {select} FROM {view}")
            finally:
                raw.unregister(view)
            return len(df)
        text_cols = [c for c in cols if _is_text(df[c])]
        buf = io.BytesIO()
        pa_csv.write_csv(pa.Table.from_pandas(df[cols], preserve_index=False), buf,
                         pa_csv.WriteOptions(include_header=False))
        force_null = f", FORCE_NULL ({_names(text_cols)})" if text_cols else ""
        with conn.connection.driver_connection.cursor() as cur:
            with cur.copy(f"COPY {table} ({_names(cols)}) FROM STDIN (FORMAT csv{force_null})") as copy:
                copy.write(buf.getbuffer())
        return len(df)


def _is_text(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s.dtype)


def _names(cols: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in cols)


class WarehouseResource(dg.ConfigurableResource):
    """The hub's warehouse (HUB_WAREHOUSE_URL; default a DuckDB file under .hub/)."""

    url: str = DEFAULT_URL

    def get(self) -> Warehouse:
        return Warehouse(self.url)
