"""First start of a hub on an empty warehouse: the code server evaluates every feed's delivery sensor in a thread of
its own, and the daemon and runs are other processes; each brings the warehouse's tables up at once. A table another
thread had just declared looked like one an older hub made without its columns ("was created by an older hub"), and
PostgreSQL refused two `CREATE SCHEMA IF NOT EXISTS` at once: the first ticks failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Each feed's ensure_tables in a thread of its own, released at random moments within 0.3 s; prints the errors.
STARTUP = """
import json, random, sys, threading, time
from feeds import FEEDS
from hub.store.schema import ensure_tables
from resources.warehouse import Warehouse
wh, errors = Warehouse(sys.argv[1]), []
def start(feed, delay):
    time.sleep(delay)
    try:
        ensure_tables(wh, [feed])
    except Exception as exc:
        errors.append(f"{feed.name}: {type(exc).__name__}")
threads = [threading.Thread(target=start, args=(f, random.random() * 0.3)) for f in FEEDS.values()]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(errors))
"""


def test_every_feeds_sensor_starting_at_once_on_an_empty_warehouse_finds_its_tables(warehouse_url: str):
    out = subprocess.run([sys.executable, "-c", STARTUP, warehouse_url], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=True)  # a new process: its metadata has declared no feed's tables yet
    errors = json.loads(out.stdout.strip().splitlines()[-1])
    assert errors == [], f"first ticks failed: {errors}"
