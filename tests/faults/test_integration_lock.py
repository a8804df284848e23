"""Transactions of one integration run one after the other in the warehouse itself (issue 15 item 4), on both
warehouses; on PostgreSQL other integrations are not held up (DuckDB has one writer at a time)."""

from __future__ import annotations

import threading
import time

from resources.warehouse import Warehouse


def _two(wh: Warehouse, first: str, second: str) -> list[str]:
    """The first transaction holds its lock a while; the order in which both entered and left."""
    order: list[str] = []
    inside = threading.Event()

    def hold() -> None:
        with wh.begin(lock=first):
            order.append("first in")
            inside.set()
            time.sleep(0.5)  # the second would enter now if nothing held it
            order.append("first out")

    def then() -> None:
        inside.wait()
        with wh.begin(lock=second):
            order.append("second in")

    threads = [threading.Thread(target=hold), threading.Thread(target=then)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return order


def test_one_integration_waits_for_itself_not_for_others(warehouse_url: str):
    wh = Warehouse(warehouse_url)
    assert _two(wh, "siras_abc_unified", "siras_abc_unified") == ["first in", "first out", "second in"]
    # PostgreSQL: another integration is not held up. DuckDB admits one writing process at a time, and within a
    # process the hub runs its transactions one after the other (a second writer would fail, not wait:
    # tests/test_duckdb_threads.py), so there the other integration waits too.
    others = ["first in", "first out", "second in"] if wh.is_duckdb else ["first in", "second in", "first out"]
    assert _two(wh, "siras_abc_unified", "star_abc_unified") == others
