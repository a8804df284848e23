"""Staging a file streams: a DuckDB transaction that appends chunk after chunk does not hold the chunks it appended.

What DuckDB scans from a DataFrame registered on a connection (its strings; the frame itself is freed) stays held
until the transaction ends: a file staged through registered frames held all of its chunks' until its COMMIT (bench/ingest.py --warehouse duckdb,
first import's peak RSS: 1M rows 962 MB, 2M rows 1535 MB; inserting from a relation over each frame: 693 and 938)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from resources.bulk_load import BulkLoad
from resources.warehouse import Warehouse

CHUNKS, ROWS, COLUMNS = 16, 20_000, 10


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def _chunk(n: int) -> pd.DataFrame:
    """Distinct strings in every chunk, as in a real file (about 12 MB of Python strings per chunk)."""
    return pd.DataFrame({f"c{k}": [f"value {k} {n:03d} {i:07d}" for i in range(ROWS)] for k in range(COLUMNS)})


def test_a_duckdb_transaction_does_not_hold_the_chunks_it_staged(tmp_path):
    wh = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    columns = [f"c{k}" for k in range(COLUMNS)]
    with wh.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE staged ({', '.join(c + ' VARCHAR' for c in columns)})")
    with wh.begin() as conn:
        load = BulkLoad(wh, conn, "staged", columns)
        for n in range(CHUNKS):
            load.write(_chunk(n))
            if n == 3:  # past the first chunks' allocations: from here the process should stay as it is
                settled = _rss_mb()
        load.close()
        grown = _rss_mb() - settled
        assert conn.exec_driver_sql("SELECT count(*), count(DISTINCT c0) FROM staged").one() == (CHUNKS * ROWS,) * 2
    # held chunks cost over 20 MB each (their Python strings: 262 MB over these 12 chunks); what stays is DuckDB's
    # own copy of the values it has not written out yet, about 4.5 MB a chunk (53 MB), bounded by its memory_limit
    assert grown < 10 * (CHUNKS - 4), f"the process grew by {grown:.0f} MB over {CHUNKS - 4} chunks"
