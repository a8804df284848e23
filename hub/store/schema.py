"""The warehouse schema: staging tables built from feed declarations, and creating or upgrading every table."""

from __future__ import annotations

from collections.abc import Iterable

import threading

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable

from hub.registry.declarations import Feed, FileType
from hub.store.keyed import ensure_hash_key
from hub.store.statuses import FINAL, HEALTH, STATUSES
from hub.store.tables import SCHEMAS, delivery_statuses, metadata
from resources.warehouse import Warehouse


def staging_table_name(feed: Feed, ft: FileType) -> str:
    return f"staging.{feed.name}__{ft.name}"


def staging_table(feed: Feed, ft: FileType) -> sa.Table:
    """All-text staging table for one file type, rows keyed by delivery (its quarantine table is made with it)."""
    name = f"{feed.name}__{ft.name}"
    if (key := f"staging.{name}") in metadata.tables:
        return metadata.tables[key]
    quarantine_table(feed, ft)
    return sa.Table(
        name, metadata,
        sa.Column("delivery_id", sa.String, nullable=False, index=True),
        sa.Column("source_row", sa.BigInteger, nullable=False),  # spreadsheet row (header = 1)
        sa.Column("source_line", sa.BigInteger),  # CSV: the physical line where the record starts
        *[sa.Column(c.name, sa.String) for c in ft.columns],
        *[sa.Column(k.name, sa.String) for k in ft.keyed],  # keyed hashes (KeyedColumn), staged rows only
        *[_unfilled(name, k.name, k.source) for k in ft.keyed],
        schema="staging",
    )


@compiles(CreateTable, "postgresql")
def _unlogged_staging(create: CreateTable, compiler: sa.sql.compiler.DDLCompiler, **kw: object) -> str:
    """PostgreSQL: staging tables are created unlogged (rebuilt from the archive at will: no WAL), not altered to
    unlogged afterwards, which rewrites each table."""
    sql = compiler.visit_create_table(create, **kw)
    return sql.replace("CREATE TABLE", "CREATE UNLOGGED TABLE", 1) if create.element.schema == "staging" else sql


def _unfilled(table: str, keyed: str, source: str) -> sa.Index:
    """PostgreSQL: the rows staged without their keyed hash (by an older hub) found without reading the others (the
    apply looks for them in every delivery: hub.apply.upsert.ApplyContext); empty but for those rows. DuckDB reads
    the two columns alone and has no partial index."""
    name = f"ix_{table}_{keyed}_unfilled"
    if len(name) > 63:  # PostgreSQL would cut it and add_missing would not find it again
        raise ValueError(f"index name {name} is longer than PostgreSQL's 63 characters")
    index = sa.Index(name, "delivery_id", postgresql_where=sa.text(f"{keyed} IS NULL AND {source} IS NOT NULL"))
    index.info["dialect"] = "postgresql"  # add_missing
    return index.ddl_if(dialect="postgresql")  # create_all


def quarantine_table(feed: Feed, ft: FileType) -> sa.Table:
    """Rows of a file type that were not applied because of row errors (`on_row_error: skip_rows`), with their
    errors (column: rule; never applied). A record whose fields could not be told apart has no values here."""
    name = f"{feed.name}__{ft.name}__rejected"
    if (key := f"staging.{name}") in metadata.tables:
        return metadata.tables[key]
    return sa.Table(
        name, metadata,
        sa.Column("delivery_id", sa.String, nullable=False, index=True),
        sa.Column("source_row", sa.BigInteger, nullable=False),
        sa.Column("source_line", sa.BigInteger),
        sa.Column("errors", sa.String, nullable=False),
        *[sa.Column(c.name, sa.String) for c in ft.columns],
        schema="staging",
    )


_ready: set[str] = set()
# one thread at a time registers tables in the shared metadata and brings the warehouse up to it: the sensors run
# in threads, and a table another thread declared between create_all and add_missing looked like an old one
_declaring = threading.Lock()
DDL_LOCK = "the hub's tables (DDL)"  # not an integration id: those have no spaces


def add_missing(conn: sa.Connection, tables: Iterable[sa.Table]) -> None:
    """Bring tables an older hub created up to their declarations: add new columns and indexes.

    Additive only: nothing is dropped or retyped. A new NOT NULL column without a default cannot be added to
    rows that exist, so it is refused with the table and column named. Reads the catalog once and touches only
    what is missing, so a running import's tables are not locked.
    """
    columns: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in conn.exec_driver_sql(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns"):
        columns.setdefault((schema, table), set()).add(column)
    indexes = {tuple(r) for r in conn.exec_driver_sql(
        "SELECT schema_name, index_name FROM duckdb_indexes()" if conn.dialect.name == "duckdb"
        else "SELECT schemaname, indexname FROM pg_indexes")}
    for table in tables:
        name, present = f"{table.schema}.{table.name}", columns.get((table.schema, table.name), set())
        for col in (c for c in table.columns if c.name not in present):
            default = col.server_default.arg if isinstance(col.server_default, sa.DefaultClause) else None
            if not col.nullable and default is None:
                raise RuntimeError(f"{name} was created by an older hub and lacks the required column {col.name}; "
                                   "add it with a value for existing rows, then start the hub again")
            ddl = f"ALTER TABLE {name} ADD COLUMN {col.name} {col.type.compile(dialect=conn.dialect)}"
            if default is not None:
                ddl += f" DEFAULT '{default}'" + ("" if col.nullable else " NOT NULL")
            conn.exec_driver_sql(ddl)
        for index in (i for i in table.indexes if i.info.get("dialect", conn.dialect.name) == conn.dialect.name):
            if (table.schema, conn.dialect.identifier_preparer.format_index(index).strip('"')) not in indexes:
                conn.execute(sa.schema.CreateIndex(index))


def _tables_present(conn: sa.Connection) -> set[tuple[str, str]]:
    """(schema, name) of every table and view of the warehouse, read from its catalog in one query (not
    information_schema: on PostgreSQL it lists only what the connecting role may read)."""
    sql = ("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() UNION ALL "
           "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = current_database()"
           if conn.dialect.name == "duckdb" else
           "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')")
    return {(schema, name) for schema, name in conn.exec_driver_sql(sql)}


def _write_statuses(conn: sa.Connection) -> None:
    """ops.delivery_statuses = hub.store.statuses.STATUSES (only when they differ: no write, no lock, on most starts)."""
    declared = {(s, m, s in FINAL, HEALTH[s]) for s, m in STATUSES.items()}
    if {tuple(r) for r in conn.execute(sa.select(delivery_statuses))} != declared:
        conn.execute(sa.delete(delivery_statuses))
        conn.execute(sa.insert(delivery_statuses), [dict(zip(("status", "meaning", "final", "health"), r))
                                                    for r in declared])


def ensure_tables(warehouse: Warehouse, feeds: Iterable[Feed]) -> None:
    """Create schemas and tables that do not exist yet, upgrade older ones (once per process and URL)."""
    feeds = list(feeds)
    token = warehouse.url + "|" + ",".join(sorted(f.name for f in feeds))
    if token in _ready:
        return
    with _declaring:
        for feed in feeds:
            for ft in feed.files:
                staging_table(feed, ft)
        with warehouse.begin(lock=DDL_LOCK) as conn:  # other processes start too: one brings the tables up at once
            for schema in SCHEMAS:
                conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            present = _tables_present(conn)
            missing = [t for t in metadata.sorted_tables if (t.schema, t.name) not in present]
            metadata.create_all(conn, tables=missing, checkfirst=False)  # one catalog read, not one per table
            add_missing(conn, [t for t in metadata.sorted_tables if t not in missing])
            ensure_hash_key(conn, warehouse, metadata.sorted_tables)
            _write_statuses(conn)
            if conn.dialect.name == "postgresql":  # staging an older hub created logged: skip the WAL from now on
                logged = conn.exec_driver_sql(  # only those still logged: SET UNLOGGED locks the table exclusively
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'staging' AND c.relkind = 'r' AND c.relpersistence = 'p'").scalars().all()
                for table in logged:
                    conn.exec_driver_sql(f"ALTER TABLE staging.{table} SET UNLOGGED")
        _ready.add(token)
