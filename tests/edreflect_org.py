"""Test helper: EdReflect delivery days staged straight into staging + the ledger, or delivered as files through the
intake (hub.intake.tick.scan, what the sensor runs each tick), then the ordered apply."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from feeds.edreflect import FEED
from feeds.edreflect.targets import TARGETS, ensure_targets
from hub.apply.delta import OrderResult, apply_in_order
from hub.apply.upsert import ApplyContext
from hub.intake import ledger
from hub.intake.tick import scan
from hub.load.staging import stage_delivery
from hub.registry.loading import parse_registry
from hub.store.schema import ensure_tables
from resources.archive import Archive
from resources.transport import FolderTransport
from resources.warehouse import Warehouse

_clock = itertools.count(1)


class Org:
    """One EdReflect org (integration) in its own district of a throwaway registry."""

    def __init__(self, wh: Warehouse, name: str, cadence_days: int = 1, landing: Path | None = None) -> None:
        self.wh, self.district, self.landing = wh, name, landing
        self.registry = parse_registry({
            "districts": [{"id": name, "name": name, "state": "CA", "nces_leaid": "0600001",
                           "timezone": "America/Los_Angeles"}],
            "integrations": [{"id": f"er_{name}", "district": name, "feed": "edreflect", "source": "EdReflect",
                              "destination": "hub", "transport": {"kind": "folder", "path": str(landing or "/tmp")},
                              "contact": {"role": "x"}, "start_date": "2026-01-01", "quiet_period_seconds": 0,
                              "window": None, "pause": None, "max_file_age_days": 3650,
                              "options": {"cadence_days": cadence_days}}]})
        self._arrivals = itertools.count()
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

    def send(self, day: str, files: dict[str, pd.DataFrame], folder_name: str = "",
             modified: str | None = None) -> OrderResult:
        """Drop one day's files into the org's folder (in `folder_name`; modified at noon of `modified` or `day`,
        later for each re-send), then do what a sensor tick and its runs do: receive them through the intake, stage
        each new delivery, apply."""
        assert self.landing is not None, "an org that receives files needs a landing folder"
        n = next(self._arrivals)
        folder = self.landing / f"arrival_{n:03d}" / folder_name
        folder.mkdir(parents=True)
        noon = dt.datetime.fromisoformat(modified or day).replace(hour=12,
                                                                  tzinfo=dt.timezone(dt.timedelta(hours=-8)))
        mtime = noon.timestamp() + n
        for ft, frame in files.items():
            path = folder / next(f for f in FEED.files if f.name == ft).patterns[0]
            frame.to_csv(path, index=False)
            os.utime(path, (mtime, mtime))
        tick = scan(registry=self.registry, feed=FEED, integration=self.integration,
                    transport=FolderTransport(self.integration.id, self.landing), archive=Archive(self.landing.parent /
                    f"archive_{self.district}"), warehouse=self.wh, cursor={}, now=mtime + 3600)
        assert tick.error is None, tick.error
        ids = [i for run in tick.runs for i in run.delivery_ids]
        for did in ids:
            with self.wh.begin() as conn:
                d = ledger.get(conn, did)
            ft = next(f for f in FEED.files if f.name == d.file_type)
            staged = stage_delivery(self.wh, FEED, ft, d, date_formats=FEED.date_formats, value_maps={})
            with self.wh.begin() as conn:
                ledger.set_status(conn, [did], "staged" if staged.passed else "rejected")
        return self.run()

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
