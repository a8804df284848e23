"""What every asset of a feed shares: owners and pool, its partition, its warehouse, and database errors withheld."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
import psycopg
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
    except (sa.exc.DBAPIError, psycopg.Error, duckdb.Error) as exc:
        orig = getattr(exc, "orig", None)
        kind = type(orig).__name__ if orig is not None else type(exc).__name__
        raise dg.Failure(f"{what}: the warehouse refused the change ({kind}); nothing was written. Details are "
                         "withheld because they may quote student data; see the database server's log.") from None


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
