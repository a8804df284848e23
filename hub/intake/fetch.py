"""Fetch inside a run: download an integration's new files now and record them for the run's partition day.

Scheduled runs fetch (the spec's "Download & Import") and, for snapshot feeds, import the files last downloaded
when none is new, so every night's run brings the target up to date; a run with `fetch_from_transport: false`, or a
plain re-materialization, re-imports archived files ("Don't fetch files").
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg

from hub.intake.tick import make_transport, scan
from hub.registry.declarations import Feed
from hub.registry.registry import Integration, Registry
from resources.archive import Archive
from resources.warehouse import Warehouse


class ReuseConfig(dg.Config):
    """Run config of a feed's apply asset."""

    reuse_latest: bool = False  # snapshot feeds: a day without a file imports the newest earlier one
    # re-apply this archived delivery on purpose (audited in ops.reapplications), whatever newer files exist;
    # requested_by (who asks) is then required. `hub deliveries reapply ID --by NAME` sets both.
    delivery_id: str | None = None
    requested_by: str | None = None


class FetchConfig(ReuseConfig):
    """Run config of a feed's file assets."""

    fetch_from_transport: bool = False  # download new files from SFTP / the drop folder before staging


def fetch_config(feed: Feed, fetch: bool = True, reuse_latest: bool = False) -> dict:
    """Run config of every file asset of `feed` (`fetch_from_transport`, `reuse_latest`) and of its apply asset."""
    reuse = reuse_latest and feed.load == "snapshot"
    ops = {f"{feed.name}__{ft.name}": {"config": {"fetch_from_transport": fetch, "reuse_latest": reuse}}
           for ft in feed.files}
    return {"ops": {**ops, f"{feed.name}__{feed.apply_asset}": {"config": {"reuse_latest": reuse}}}}


def fetch_now(registry: Registry, feed: Feed, integration: Integration, warehouse: Warehouse, archive: Archive,
              base_dir: Path | None, day: str) -> str:
    """Download and archive new stable files for `day`; a transport problem fails the run with its message."""
    tick = scan(registry=registry, feed=feed, integration=integration, transport=make_transport(integration, base_dir),
                archive=archive, warehouse=warehouse, cursor={}, now=time.time(), day=day)
    if tick.error:
        raise dg.Failure(description=f"Fetching files for integration {integration.id} failed: {tick.error}")
    return tick.skip_reason
