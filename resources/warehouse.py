"""The warehouse: one SQLAlchemy URL. DuckDB file by default, PostgreSQL in production.

Bulk loads (resources/bulk_load.py) use PostgreSQL COPY or DuckDB's native DataFrame scan, never row-by-row inserts.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import dagster as dg
import sqlalchemy as sa

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_URL = "duckdb:///.hub/warehouse.duckdb"
_LOCK_WAIT_SECONDS = 120.0
_PG_WORK_MEM = "256MB"
# DuckDB file -> this process's transactions on it, one at a time: DuckDB fails a second writer of one process (a
# write-write conflict, or a checkpoint error that invalidates the database) instead of making it wait, and a code
# server evaluates the delivery sensors in threads. Re-entrant: a transaction may open another in its thread.
_IN_PROCESS: dict[str, threading.RLock] = {}
_IN_PROCESS_GUARD = threading.Lock()
ANALYZE_SAMPLE_TARGET = 10  # Warehouse.analyze: 3,000 sampled rows (PostgreSQL's default target, 100, samples 30,000)


@lru_cache(maxsize=8)
def _engine(url: str) -> sa.Engine:
    if url.startswith("duckdb:///"):
        path = Path(url.removeprefix("duckdb:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Short-lived connections: the DuckDB file lock is held only while a transaction runs. Each connection
        # attaches the file to this process's DuckDB instance and detaches it on close (resources/duckdb_file.py).
        from resources.duckdb_file import attach

        return sa.create_engine("duckdb:///:memory:", poolclass=sa.pool.NullPool, creator=lambda: attach(path))
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
    def begin(self, lock: str | None = None) -> Iterator[sa.Connection]:
        """One transaction. On DuckDB, waits while another process holds the file lock. With `lock` (an integration
        id), transactions holding the same lock run one after the other, whichever run or process opens them."""
        with self._one_at_a_time(), self._duckdb_lock(lock):
            conn = self._connect()
            try:
                with conn.begin():
                    if not self.is_duckdb:
                        conn.exec_driver_sql(f"SET LOCAL work_mem = '{_PG_WORK_MEM}'")  # sorts, hash joins in memory
                        if lock is not None:
                            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(lock)})
                    yield conn
            finally:
                conn.close()

    @contextmanager
    def _one_at_a_time(self) -> Iterator[None]:
        """DuckDB: this process's transactions on the file run one after the other (see _IN_PROCESS)."""
        if not self.is_duckdb:
            yield
            return
        with _IN_PROCESS_GUARD:
            turn = _IN_PROCESS.setdefault(self.url, threading.RLock())
        with turn:
            yield

    @contextmanager
    def _duckdb_lock(self, lock: str | None) -> Iterator[None]:
        """DuckDB: an exclusive lock file beside the database per `lock` (processes and threads alike), taken before
        the connection so that no one waits for it while holding the database."""
        if lock is None or not self.is_duckdb:
            yield
            return
        folder = Path(self.url.removeprefix("duckdb:///") + ".locks")
        folder.mkdir(exist_ok=True)
        with open(folder / hashlib.sha256(lock.encode()).hexdigest()[:16], "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file is closed
            yield

    def _connect(self) -> sa.Connection:
        deadline = time.monotonic() + _LOCK_WAIT_SECONDS
        while True:
            try:
                return self.engine.connect()
            except sa.exc.DBAPIError as exc:
                if not (self.is_duckdb and "lock" in str(exc).lower()) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def load_frame(self, conn: sa.Connection, table: str, df: pd.DataFrame | Mapping[str, Sequence],
                   columns: Sequence[str] | None = None) -> int:
        """Append a DataFrame of strings (or columns of equal length by name) to `table` (schema-qualified) inside
        `conn`'s transaction; '' becomes NULL (resources/bulk_load.py)."""
        from resources.bulk_load import load_frame  # pandas and pyarrow load in the steps that write, not with the definitions

        return load_frame(self, conn, table, df, columns)

    def analyze(self, conn: sa.Connection, table: str, columns: Sequence[str] = ()) -> None:
        """PostgreSQL: ANALYZE `table` (its `columns`, or all) inside the transaction from a small sample
        (ANALYZE_SAMPLE_TARGET), so the statements that follow plan with the size a bulk load just gave it; a full
        ANALYZE of a million-row table took 1.3 s, this one 0.05 s. DuckDB keeps its statistics itself."""
        if self.is_duckdb:
            return
        previous = conn.exec_driver_sql("SHOW default_statistics_target").scalar_one()
        conn.exec_driver_sql(f"SET LOCAL default_statistics_target = {ANALYZE_SAMPLE_TARGET}")
        conn.exec_driver_sql(f"ANALYZE {table}" + (f" ({', '.join(columns)})" if columns else ""))
        conn.execute(sa.text("SELECT set_config('default_statistics_target', :v, true)"), {"v": previous})

    def copy_lines(self, conn: sa.Connection, select: str, out: BinaryIO) -> int:
        """Write each row of `select` (one text column) to `out` as a UTF-8 line; returns the row count.
        PostgreSQL sends the lines with COPY, so no row becomes a Python object."""
        if self.is_duckdb:
            result, rows = conn.exec_driver_sql(select), 0
            while batch := result.fetchmany(10_000):
                out.write("".join(f"{line}\n" for (line,) in batch).encode())
                rows += len(batch)
            return rows
        # CSV with control characters as delimiter and quote: lines come out as they are (text format would
        # escape backslashes)
        sql = f"COPY ({select}) TO STDOUT (FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e')"
        with conn.connection.driver_connection.cursor() as cur:
            with cur.copy(sql) as copy:
                for block in copy:
                    out.write(block)
            return cur.rowcount


def _lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key (signed 64-bit) for a name."""
    return int.from_bytes(hashlib.sha256(f"hub:{name}".encode()).digest()[:8], "big", signed=True)


class WarehouseResource(dg.ConfigurableResource):
    """The hub's warehouse (HUB_WAREHOUSE_URL; default a DuckDB file under .hub/)."""

    url: str = DEFAULT_URL

    def get(self) -> Warehouse:
        return Warehouse(self.url)
