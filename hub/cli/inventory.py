"""`hub inventory`: the integration inventory as a table, CSV or a self-contained HTML page."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from hub.cli.commands import UsageError, subcommand
from hub.inventory.build import DEFAULT_STALE_DAYS, build_inventory
from hub.inventory.report import to_csv, to_html
from hub.registry.registry import RegistryError
from resources.warehouse import Warehouse


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", type=Path, metavar="FILE", help="registry YAML (default: $HUB_REGISTRY or the demo)")
    parser.add_argument("--format", choices=("text", "csv", "html"), default="text")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--stale-days", type=int, default=DEFAULT_STALE_DAYS,
                        help=f"flag enabled integrations with no file for more days (default {DEFAULT_STALE_DAYS})")
    parser.add_argument("--warehouse", metavar="URL", help="warehouse URL for delivery activity (default: the one "
                        "the UI uses: $HUB_WAREHOUSE_URL, else .hub/warehouse.duckdb; none there: the registry alone)")


@subcommand("inventory", "List every integration: who, what, when, where, why and how data moves.", _arguments)
def inventory(args: argparse.Namespace) -> int:
    from dagster_project.definitions import load_hub_registry, warehouse_url  # the registry and warehouse of the UI
    from feeds import FEEDS
    if args.stale_days < 0:
        raise UsageError("--stale-days must be >= 0")
    try:
        registry = load_hub_registry(args.registry.resolve() if args.registry else None)
    except RegistryError as exc:
        raise UsageError(str(exc)) from exc
    url = args.warehouse or warehouse_url()
    if url.startswith("duckdb:///") and not Path(url.removeprefix("duckdb:///")).exists():
        url = ""  # no hub has run here yet: nothing delivered, and no empty warehouse file made by a listing
    rows = build_inventory(registry, FEEDS, Warehouse(url) if url else None, stale_days=args.stale_days)
    if args.format == "csv":
        text = to_csv(rows)
    elif args.format == "html":
        text = to_html(rows, stale_days=args.stale_days, generated=dt.datetime.now().isoformat(timespec="minutes"))
    else:
        text = "\n".join(f"{r.integration.id:<28} {'on ' if r.integration.enabled else 'off'} "
                         f"{r.integration.source} -> {r.integration.destination}"
                         f"{'  [candidate to disable]' if r.disable_candidate else ''}" for r in rows) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} integrations to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
