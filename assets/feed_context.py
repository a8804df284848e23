"""What every asset of a feed shares: owners and pool, its partition, its warehouse, and database errors withheld."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as sa

from hub.intake.fetch import ReuseConfig
from hub.registry.declarations import Feed
from hub.store.schema import ensure_tables
from resources.warehouse import Warehouse, WarehouseResource

WAREHOUSE_POOL = "hub_warehouse"
OWNERS = ["team:district-data"]


@contextmanager
def protected_errors(what: str) -> Iterator[None]:
    """Database errors can quote row values (student data); re-raise them without their details. Bulk loads and
    log streams use the driver's connection directly, so its own errors are covered too."""
    try:
        yield
    except _database_errors() as exc:
        orig = getattr(exc, "orig", None)
        kind = type(orig).__name__ if orig is not None else type(exc).__name__
        raise dg.Failure(f"{what}: the warehouse refused the change ({kind}); nothing was written. Details are "
                         "withheld because they may quote student data; see the database server's log.") from None


def _database_errors() -> tuple[type[BaseException], ...]:
    """SQLAlchemy's and the loaded drivers' own errors: a driver this process never imported raised none (and a run on
    DuckDB does not import psycopg for it)."""
    drivers = (sys.modules.get(name) for name in ("psycopg", "duckdb"))
    return (sa.exc.DBAPIError, *(driver.Error for driver in drivers if driver is not None))


def partition_of(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """(district, day) of the run's partition."""
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    return keys["district"], keys["date"]


def reuse(feed: Feed, config: ReuseConfig) -> bool:
    """Reusing the last downloaded files suits snapshot feeds only (a delta day or an append file stands alone)."""
    return config.reuse_latest and feed.load == "snapshot"


def open_warehouse(warehouse: WarehouseResource, feed: Feed) -> Warehouse:
    wh = warehouse.get()
    ensure_tables(wh, [feed])
    return wh
