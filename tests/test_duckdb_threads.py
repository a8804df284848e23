"""The embedded DuckDB warehouse under threads: a code server evaluates the delivery sensors in a thread each
(deploy/dagster.yaml `sensors.use_threads`), and DuckDB does not make two writers of one process wait for each other —
the second gets a write-write conflict (or, at a checkpoint, an error that invalidates the database). Transactions of
one process on one DuckDB file therefore run one after the other."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from resources.warehouse import Warehouse


@pytest.fixture
def duck(tmp_path) -> Warehouse:
    wh = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (1, 0)")
    return wh


def test_two_threads_writing_one_row_both_commit(duck):
    first_open, second_done, errors = threading.Event(), threading.Event(), []

    def first() -> None:
        with duck.begin() as conn:
            conn.exec_driver_sql("UPDATE counter SET n = n + 1 WHERE id = 1")
            first_open.set()
            second_done.wait(timeout=3)  # on a hub without the fix the second writer fails at once, inside this wait

    def second() -> None:
        first_open.wait()
        try:
            with duck.begin() as conn:
                conn.exec_driver_sql("UPDATE counter SET n = n + 1 WHERE id = 1")
        except sa.exc.DBAPIError as exc:
            errors.append(type(exc.orig).__name__)
        finally:
            second_done.set()

    _run_together([first, second])
    assert errors == [] and _count(duck) == 2


def test_a_transaction_may_open_another_in_the_same_thread(duck):
    with duck.begin() as outer:
        outer.exec_driver_sql("SELECT 1")
        with duck.begin() as inner:
            assert inner.exec_driver_sql("SELECT n FROM counter").scalar_one() == 0


def test_many_threads_of_short_transactions(duck):
    errors: list[str] = []

    def bump() -> None:
        for _ in range(10):
            try:
                with duck.begin() as conn:
                    conn.exec_driver_sql("UPDATE counter SET n = n + 1 WHERE id = 1")
            except sa.exc.DBAPIError as exc:
                errors.append(type(exc.orig).__name__)

    _run_together([bump] * 4)
    assert errors == [] and _count(duck) == 40


def _run_together(targets: list) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)


def _count(duck: Warehouse) -> int:
    with duck.begin() as conn:
        return conn.exec_driver_sql("SELECT n FROM counter").scalar_one()
