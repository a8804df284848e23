"""Database errors quote row values; what reaches run logs must not."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from assets.feed_assets import protected_errors


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
