"""Benchmark: an EdReflect delta touching 1% of keys vs a full reload, on tables of N rows (PostgreSQL).

    python bench/edreflect.py [--rows 1000000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Tables: observations (upsert by key) and ratings (dropped by Observation_Modified, then inserted), N rows each.
The delta lists 1% of observation ids as modified and delivers their new rows. The full reload empties the org's rows
and applies a complete N-row delivery. Last line: delta_s=… full_s=… ratio=…
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.edreflect import FEED  # noqa: E402
from feeds.edreflect.targets import ensure_targets  # noqa: E402
from hub.apply.upsert import ApplyContext  # noqa: E402
from hub.intake.ledger import Delivery  # noqa: E402
from hub.registry.loading import parse_registry  # noqa: E402
from hub.store.schema import ensure_tables  # noqa: E402
from resources.warehouse import Warehouse  # noqa: E402

STAGE = {
    "observations": ("observation_group_id, observation_status", "'o' || g, {status}"),
    "ratings": ("observation_group_id, indicator_id, rating", "'o' || g, 'i1', {rating}"),
    "observation_modified": ("observation_group_id, observation_modified_date", "'o' || g, '2026-03-02'"),
}


def _stage(conn: sa.Connection, did: str, ids: str, values: dict[str, str], types: tuple[str, ...]) -> dict:
    out = {}
    for ft in types:
        cols, select = STAGE[ft]
        conn.exec_driver_sql(f"INSERT INTO staging.edreflect__{ft} (delivery_id, source_row, {cols}) "
                             f"SELECT '{did}', g, {select.format(**values)} FROM {ids} g")
        out[ft] = Delivery(did, "bench", "bench_org", "edreflect", ft, f"{ft}.csv", None, None, "2026-03-01",
                           "staged", dt.datetime(2026, 3, 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    admin, name = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT"), f"hub_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        run(args.pg.rsplit("/", 1)[0] + "/" + name, args.rows)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(url: str, n: int) -> None:
    wh = Warehouse(url)
    ensure_tables(wh, [FEED])
    registry = parse_registry({
        "districts": [{"id": "bench_org", "name": "Bench", "state": "CA", "nces_leaid": "0600001"}],
        "integrations": [{"id": "bench", "district": "bench_org", "feed": "edreflect", "source": "EdReflect",
                          "destination": "hub", "transport": {"kind": "folder", "path": "/tmp"},
                          "contact": {"role": "x"}, "start_date": "2026-01-01"}]})
    district, integration = registry.districts[0], registry.integrations[0]
    everything, one_pct = f"generate_series(1, {n})", f"generate_series(1, {n}, 100)"
    with wh.begin() as conn:
        ensure_targets(conn)
        full = _stage(conn, "full", everything, {"status": "'open'", "rating": "'1'"}, ("observations", "ratings"))
        delta = _stage(conn, "delta", one_pct, {"status": "'closed'", "rating": "'2'"},
                       ("observations", "ratings", "observation_modified"))
    with wh.begin() as conn:
        conn.exec_driver_sql("ANALYZE")

    def apply(files: dict, reload: bool) -> float:
        started = time.monotonic()
        with wh.begin() as conn:
            if reload:
                for table in FEED.target_tables:
                    conn.execute(sa.text(f"DELETE FROM {table} WHERE district_id = 'bench_org'"))
            FEED.apply(ApplyContext(conn, wh, FEED, registry, integration, district, files,
                                    FEED.options_model(), "bench"))
        return time.monotonic() - started

    apply(full, reload=True)  # the tables now hold n rows each
    with wh.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")  # steady state, as autovacuum leaves it after a load
    delta_s = apply(delta, reload=False)
    full_s = apply(full, reload=True)
    print(f"tables: observations, ratings ({n} rows each); delta: {len(range(1, n + 1, 100))} modified observations")
    print(f"delta_s={delta_s:.3f} full_s={full_s:.3f} ratio={delta_s / full_s:.3f}")


if __name__ == "__main__":
    main()
