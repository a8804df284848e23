"""The inventory carries the DIG's "why": each integration's purpose and the data-sharing agreement that covers it."""

from __future__ import annotations

import csv
import io

from feeds import FEEDS
from hub.inventory.build import build_inventory
from hub.inventory.report import to_csv, to_html
from tests.test_inventory import DEMO_FULL


def test_inventory_shows_purpose_and_agreement():
    from hub.registry.loading import load_registry
    rows = build_inventory(load_registry(DEMO_FULL, FEEDS), FEEDS)
    by_id = {r["Integration"]: r for r in csv.DictReader(io.StringIO(to_csv(rows)))}
    abc = by_id["siras_abc_unified"]
    assert abc["Why"].startswith("Special-education staff see current demographics")
    assert abc["Data Sharing Agreement"] == "ABC USD / SIRAS Systems data-sharing agreement DSA-2026-014"
    assert by_id["powerschool_belleville"]["Why"] == ""  # not declared yet: shown empty, not invented
    page = to_html(rows, stale_days=30, generated="now")
    assert "<th>Why</th>" in page and "DSA-2026-014" in page
