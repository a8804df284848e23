"""EdReflect warehouse tables: one per exported file in schema `edreflect`, the legacy-id crosswalk and its view."""

from __future__ import annotations

import sqlalchemy as sa

from feeds.edreflect.layout import TABLES
from hub.store.schema import add_missing

SCHEMA = "edreflect"
CROSSWALK = f"{SCHEMA}.legacy_ids"
MAP_VIEW = f"{SCHEMA}.legacy_id_map"
metadata = sa.MetaData()


def _table(name: str, columns: tuple[str, ...], indexes: list[tuple[str, ...]]) -> sa.Table:
    t = sa.Table(name, metadata, sa.Column("district_id", sa.String, nullable=False),
                 *[sa.Column(c, sa.String) for c in columns], sa.Column("last_delivery_id", sa.String), schema=SCHEMA)
    for n, cols in enumerate(indexes):
        sa.Index(f"ix_edreflect_{name}_{n}", t.c.district_id, *[t.c[c] for c in cols])
    return t


TARGETS: dict[str, sa.Table] = {
    t.name: _table(t.name, t.columns, [t.key] + ([(t.drop_column,)] if t.drop_column and t.drop_column not in t.key[:1]
                                                 else []))
    for t in TABLES
}
legacy_ids = _table("legacy_ids", ("model", "legacy_id", "new_id"), [("model", "legacy_id")])

# A legacy artifact_content id maps to the new artifact it was merged into; groups were never mapped.
MAP_VIEW_SQL = (f"CREATE OR REPLACE VIEW {MAP_VIEW} AS SELECT district_id, model AS legacy_model, legacy_id, "
                "CASE WHEN model = 'artifact_content' THEN 'artifact' ELSE model END AS model, new_id FROM " + CROSSWALK)
TARGET_TABLES = tuple(f"{SCHEMA}.{t.name}" for t in (*TARGETS.values(), legacy_ids))


def ensure_targets(conn: sa.Connection) -> None:
    """Create the schema, tables, indexes and view when any is missing, and add the columns and indexes tables an
    older hub created lack (catalog reads only, when nothing is missing)."""
    have = conn.execute(sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                        {"s": SCHEMA}).scalar_one()
    if have != len(metadata.tables) + 1:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        metadata.create_all(conn)
        conn.exec_driver_sql(MAP_VIEW_SQL)
    add_missing(conn, metadata.sorted_tables)
