"""Database errors quote row values; what reaches run logs must not."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from assets.feed_context import protected_errors
from resources.warehouse import Warehouse


def test_integrity_error_details_are_withheld(pg_url: str):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t_ferpa (ssid text PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO t_ferpa VALUES ('1234567890')")
    with pytest.raises(dg.Failure) as err:
        with protected_errors("applying demo"), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t_ferpa VALUES ('1234567890')")
    assert "1234567890" not in str(err.value) and "UniqueViolation" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE t_ferpa")


def test_bulk_load_error_from_the_driver_is_withheld(warehouse_url: str):
    # BulkLoad's COPY (and DuckDB's insert) run on the driver connection: the error names the refused value
    wh = Warehouse(warehouse_url)
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t_ferpa_copy (row_no integer)")
    with pytest.raises(dg.Failure) as err:
        with protected_errors("staging demo"), wh.begin() as conn:
            wh.load_frame(conn, "t_ferpa_copy", pd.DataFrame({"row_no": ["1234567890x"]}))
    assert "1234567890x" not in str(err.value) and "refused" in str(err.value)
    with wh.begin() as conn:
        conn.exec_driver_sql("DROP TABLE t_ferpa_copy")
