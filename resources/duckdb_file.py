"""A DuckDB warehouse file attached per connection to one DuckDB instance the process keeps.

Opening a DuckDB file as a database of its own builds a new instance each time (its catalog of built-in functions,
buffer manager and threads): about 0.05 CPU-s, 0.15-0.25 s on a busy 2-core machine, paid by every warehouse
transaction, as each one opens and closes the file so that other processes (runs, dbt, the CLI) can take it between
them. ATTACH and DETACH on a kept in-memory instance take and release the same file lock at about a third of that
cost (0.019 against 0.05 CPU-s per transaction on the hub's 167 tables).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import duckdb
from duckdb_engine import ConnectionWrapper

_KEPT: dict[tuple[int, Path], duckdb.DuckDBPyConnection] = {}  # (process, file) -> the instance that attaches it
_OPEN: dict[Path, int] = {}  # file -> this process's open connections to it (a transaction may open another)
_GUARD = threading.Lock()


class _Attached(ConnectionWrapper):
    """A connection of the kept instance using the attached file; closing the last one detaches the file, which
    checkpoints it and releases its lock."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: Path, alias: str) -> None:
        super().__init__(conn)
        self._path, self._alias = path, alias

    def close(self) -> None:
        with _GUARD:
            _OPEN[self._path] -= 1
            last = _OPEN[self._path] == 0
        try:
            self.execute("USE memory")
            if last:
                self.execute(f'DETACH DATABASE IF EXISTS "{self._alias}"')
        finally:
            super().close()


def attach(path: Path) -> Any:
    """A DB-API connection (duckdb_engine's wrapper) to the DuckDB file at `path`. The file is attached under the
    name DuckDB gives a file it opens (its stem), so SQL reads as on a connection to the file itself."""
    path = path.resolve()
    alias = path.stem.replace('"', '""')
    with _GUARD:
        kept = _KEPT.get((os.getpid(), path)) or _KEPT.setdefault((os.getpid(), path), duckdb.connect(":memory:"))
        conn = kept.cursor()
        try:
            if not _OPEN.get(path):
                conn.execute(f'DETACH DATABASE IF EXISTS "{alias}"')  # left by a connection that was never closed
                conn.execute(f"ATTACH '{_quoted(path)}' AS \"{alias}\"")
            conn.execute(f'USE "{alias}"')
        except BaseException:
            conn.close()
            raise
        _OPEN[path] = _OPEN.get(path, 0) + 1
    return _Attached(conn, path, alias)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
