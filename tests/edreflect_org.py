"""Test helper: stage EdReflect delivery days straight into staging + the ledger and run the ordered apply."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pandas as pd
import sqlalchemy as sa

from feeds.edreflect import FEED
from feeds.edreflect.targets import TARGETS, ensure_targets
from hub import ledger
from hub.apply import ApplyContext
from hub.delta import OrderResult, apply_in_order
from hub.registry import parse_registry
from hub.tables import ensure_tables
from resources.warehouse import Warehouse

_clock = itertools.count(1)


class Org:
    """One EdReflect org (integration) in its own district of a throwaway registry."""

    def __init__(self, wh: Warehouse, name: str, cadence_days: int = 1) -> None:
        self.wh, self.district = wh, name
        self.registry = parse_registry({
            "districts": [{"id": name, "name": name, "state": "CA", "nces_leaid": "0600001"}],
            "integrations": [{"id": f"er_{name}", "district": name, "feed": "edreflect", "source": "EdReflect",
                              "destination": "hub", "transport": {"kind": "folder", "path": "/tmp"},
                              "contact": {"role": "x"}, "start_date": "2026-01-01",
                              "options": {"cadence_days": cadence_days}}]})
        self.integration = self.registry.integrations[0]
        ensure_tables(wh, [FEED])
        with wh.begin() as conn:
            ensure_targets(conn)

    def stage(self, day: str, files: dict[str, pd.DataFrame], status: str = "staged") -> None:
        """Record and stage one delivery (all files of one day) without applying it."""
        mtime = dt.datetime(2026, 1, 1) + dt.timedelta(seconds=next(_clock))
        with self.wh.begin() as conn:
            for ft, frame in files.items():
                did = uuid.uuid4().hex[:24]
                ledger.record(conn, delivery_id=did, integration_id=self.integration.id, district_id=self.district,
                              feed=FEED.name, file_type=ft, remote_path=f"{day}/{ft}.csv", file_name=f"{ft}.csv",
                              size=0, mtime=mtime, sha256=did, archive_path=None, partition_date=day, status=status)
                cols = [c.name for c in next(f for f in FEED.files if f.name == ft).columns]
                out = frame.reindex(columns=cols).astype(object).where(frame.reindex(columns=cols).notna(), "")
                out.insert(0, "source_row", range(2, len(out) + 2))
                out.insert(0, "delivery_id", did)
                self.wh.load_frame(conn, f"staging.edreflect__{ft}", out.astype({"source_row": "int64"}))

    def run(self) -> OrderResult:
        """What the apply asset does after staging: apply what may be applied, in order."""
        opts = FEED.options_model.model_validate(self.integration.options)
        district = self.registry.districts[0]
        with self.wh.begin() as conn:
            def one(files):  # noqa: ANN001, ANN202
                return FEED.apply(ApplyContext(conn, self.wh, FEED, self.registry, self.integration, district,
                                               files, opts, "test"))
            return apply_in_order(conn, FEED, self.integration.id, self.district, opts.cadence_days, one, "test")

    def deliver(self, day: str, files: dict[str, pd.DataFrame]) -> OrderResult:
        self.stage(day, files)
        return self.run()

    def rows(self, table: str) -> list[tuple]:
        """The org's rows of an edreflect table, sorted, without district and lineage columns."""
        t = TARGETS[table]
        cols = [c for c in t.c if c.name not in ("district_id", "last_delivery_id")]
        with self.wh.begin() as conn:
            rows = conn.execute(sa.select(*cols).where(t.c.district_id == self.district)).all()
        return sorted((tuple(r) for r in rows), key=repr)


def frame(**cols: list) -> pd.DataFrame:
    return pd.DataFrame(cols)
