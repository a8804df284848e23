"""Fetch inside a run: download an integration's new files now and record them for the run's partition day.

Scheduled runs fetch (the spec's "Download & Import"); a run with `fetch_from_transport: false` in its run
config, or a plain re-materialization, re-imports the partition's archived files ("Don't fetch files").
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg

from hub.declarations import Feed
from hub.intake import make_transport, scan
from hub.registry import Integration, Registry
from resources.archive import Archive
from resources.warehouse import Warehouse


class FetchConfig(dg.Config):
    """Run config of a feed's file assets."""

    fetch_from_transport: bool = False  # download new files from SFTP / the drop folder before staging


def fetch_config(feed: Feed, fetch: bool = True) -> dict:
    """Run config that sets `fetch_from_transport` on every file asset of `feed`."""
    return {"ops": {f"{feed.name}__{ft.name}": {"config": {"fetch_from_transport": fetch}} for ft in feed.files}}


def fetch_now(registry: Registry, feed: Feed, integration: Integration, warehouse: Warehouse, archive: Archive,
              base_dir: Path | None, day: str) -> str:
    """Download and archive new stable files for `day`; a transport problem fails the run with its message."""
    tick = scan(registry=registry, feed=feed, integration=integration, transport=make_transport(integration, base_dir),
                archive=archive, warehouse=warehouse, cursor={}, now=time.time(), day=day)
    if tick.error:
        raise dg.Failure(description=f"Fetching files for integration {integration.id} failed: {tick.error}")
    return tick.skip_reason
