"""The PostgreSQL bench scripts run end to end on small files and store what they claim to time.

Nothing is timed here (speed is read from the scripts' own output by hand): these keep them from rotting.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> tuple[str, dict[str, float]]:
    """The script's output and its last line's `key=value` figures."""
    out = subprocess.run([sys.executable, f"bench/{script}", *args], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=300).stdout
    return out, {k: float("nan") if v == "n/a" else float(v)
                 for k, v in (kv.split("=") for kv in out.strip().splitlines()[-1].split())}


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb"])
def test_ingest_bench_imports_every_row_then_the_next_nights_changes(pg_server_url: str, warehouse: str):
    scattered = ["--scattered"] if warehouse == "postgres" else []  # SSIDs out of order: the same counts
    out, last = run("ingest.py", "--rows", "3000", "--pg", pg_server_url, "--warehouse", warehouse, *scattered)
    assert "students: 3000  updated the next night: 30 " in out
    assert set(last) == {"hub_rows_per_s", "copy_rows_per_s", "ratio", "night_ratio", "dlt_ratio", "peak_rss_mb"}
    assert 0 < last["ratio"] and 0 < last["night_ratio"] and 0 < last["peak_rss_mb"] < 4096


def test_edreflect_bench_applies_a_delta(pg_server_url: str):
    out, last = run("edreflect.py", "--rows", "2000", "--pg", pg_server_url)
    assert "delta: 20 modified observations" in out
    assert set(last) == {"delta_s", "full_s", "ratio"} and last["delta_s"] > 0


def test_scale_bench_counts_what_a_small_consortium_shows():
    out, last = run("scale.py", "--districts", "3", "--files", "2", "--history", "3")
    assert set(last) == {"defs_load_s", "defs_rss_mb", "sweep_s", "assets", "sensors", "run_ledger_ms"}
    assert last["defs_load_s"] > 0 and last["defs_rss_mb"] > 0 and last["sweep_s"] > 0 and last["run_ledger_ms"] > 0
    rows = (re.split(r"\s{2,}", line.strip()) for line in out.splitlines()[1:-1])
    table = {label: value for label, _unit, value in rows}
    assert table["districts x feeds (integrations)"] == "12"
    # empty folders request nothing; a file in two districts' SIRAS folders requests two runs
    assert table["run requests (2 folders with a file)"] == "2"
    # a delivery sensor per feed (it walks the feed's integrations), beside the reporting and notification sensors
    assert last["sensors"] == 4 + 2
