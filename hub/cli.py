"""The `hub` command: onboarding and audit tools beside the Dagster UI, on the same core code.

Add a subcommand with a function decorated by @subcommand("group action", help, arguments); it receives the
parsed arguments and returns the exit code.  Raise UsageError for input a person must fix (exit code 2).
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import yaml

from hub.district_match import DistrictMatcher, DistrictRecord, MatchResult, load_district_records

if TYPE_CHECKING:
    from hub.registry import Registry
    from resources.warehouse import Warehouse

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Subcommand:
    words: tuple[str, ...]  # ("districts", "match") -> `hub districts match`
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Handler


SUBCOMMANDS: list[Subcommand] = []


class UsageError(Exception):
    """Bad arguments or an unreadable file: reported on stderr, exit code 2."""


def subcommand(words: str, help: str, arguments: Callable[[argparse.ArgumentParser], None]
               ) -> Callable[[Handler], Handler]:
    """Register a handler as `hub <words>`."""
    def register(handler: Handler) -> Handler:
        SUBCOMMANDS.append(Subcommand(tuple(words.split()), help, arguments, handler))
        return handler
    return register


def hub_arguments(parser: argparse.ArgumentParser) -> None:
    """--registry and --warehouse, for subcommands that open the hub (open_hub)."""
    parser.add_argument("--registry", type=Path, metavar="FILE",
                        help="registry YAML (default: $HUB_REGISTRY or the demo)")
    parser.add_argument("--warehouse", metavar="URL", help="warehouse URL (default: $HUB_WAREHOUSE_URL)")


def open_hub(args: argparse.Namespace) -> "tuple[Registry, Warehouse]":
    """The registry as the UI loads it and the warehouse, with its tables brought up to date."""
    from dagster_project.definitions import load_hub_registry
    from hub.registry import RegistryError
    from hub.tables import ensure_tables
    from resources.warehouse import Warehouse
    try:
        registry = load_hub_registry(args.registry.resolve() if args.registry else None)
    except RegistryError as exc:
        raise UsageError(str(exc)) from exc
    url = args.warehouse or os.environ.get("HUB_WAREHOUSE_URL")
    if not url:
        raise UsageError("no warehouse: pass --warehouse or set HUB_WAREHOUSE_URL")
    wh = Warehouse(url)
    ensure_tables(wh, [])
    return registry, wh


def build_parser() -> argparse.ArgumentParser:
    """One argparse tree from SUBCOMMANDS; groups ('districts') are created on first use."""
    parser = argparse.ArgumentParser(prog="hub", description="K-12 Data Integration Hub tools")
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {(): parser.add_subparsers(metavar="COMMAND")}
    for sub in SUBCOMMANDS:
        for depth in range(1, len(sub.words)):
            prefix = sub.words[:depth]
            if prefix not in groups:
                group = groups[prefix[:-1]].add_parser(prefix[-1], help=f"{prefix[-1]} commands")
                groups[prefix] = group.add_subparsers(metavar="COMMAND")
        leaf = groups[sub.words[:-1]].add_parser(sub.words[-1], help=sub.help, description=sub.help)
        sub.arguments(leaf)
        leaf.set_defaults(handler=sub.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hub` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_usage(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"hub: error: {exc}", file=sys.stderr)
        return 2


# --- hub districts match -----------------------------------------------------------------------------------------

MATCH_COLUMNS = ["query_name", "query_state", "best_leaid", "best_name", "score", "runner_up_leaid",
                 "runner_up_name", "runner_up_score", "decision"]


def _match_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", required=True, type=Path, metavar="FILE",
                        help="the hub registry YAML or an NCES ElSi district export (.csv)")
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--name", help="one district name to match")
    query.add_argument("--queries", type=Path, metavar="CSV", help="CSV with columns name, state; CSV to stdout")
    parser.add_argument("--state", help="2-letter state of --name (candidates are blocked by state)")
    parser.add_argument("--accept", type=float, default=92.0, help="score needed to accept (default 92)")
    parser.add_argument("--margin", type=float, default=6.0, help="lead needed over the runner-up (default 6)")


@subcommand("districts match", "Match district names against the registry or NCES directory.", _match_arguments)
def districts_match(args: argparse.Namespace) -> int:
    """Print one match as a readable block (--name) or all matches of a CSV as CSV (--queries)."""
    if args.queries and args.state:
        raise UsageError("--state goes with --name; a --queries CSV has its own state column")
    if not 0 <= args.accept <= 100 or args.margin < 0:
        raise UsageError("--accept must be within 0..100 and --margin >= 0")
    matcher = DistrictMatcher(_load_records(args.registry), accept=args.accept, margin=args.margin)
    if args.name is not None:
        print(_describe(matcher.match(args.name, args.state)))
        return 0
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(MATCH_COLUMNS)
    for name, state in _read_queries(args.queries):
        res = matcher.match(name, state or None)
        out.writerow([name, res.state or "", *_cells(res.best), f"{res.score:.1f}", *_cells(res.runner_up),
                      f"{res.runner_up_score:.1f}", res.decision])
    return 0


def _load_records(path: Path) -> list[DistrictRecord]:
    try:
        records = load_district_records(path)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read districts from {path}: {exc}") from exc
    if not records:
        raise UsageError(f"no districts in {path}")
    return records


def _read_queries(path: Path) -> list[tuple[str, str]]:
    """(name, state) rows of a CSV with a `name` column and an optional `state` column (any case)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read queries from {path}: {exc}") from exc
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "name" not in header:
        raise UsageError(f"{path}: needs a header with a 'name' column (and 'state')")
    name_at, state_at = header.index("name"), header.index("state") if "state" in header else None
    return [(row[name_at], row[state_at] if state_at is not None and state_at < len(row) else "")
            for row in rows[1:] if name_at < len(row) and row[name_at].strip()]


def _cells(record: DistrictRecord | None) -> list[str]:
    return [record.leaid, record.name] if record else ["", ""]


def _describe(res: MatchResult) -> str:
    """The human-readable block of one match."""
    def line(label: str, record: DistrictRecord | None, score: float, note: str = "") -> str:
        found = f"{record.leaid}  {record.name} ({record.state})  score {score:.1f}{note}" if record else "-"
        return f"{label:<10} {found}"
    return "\n".join([
        f"{'query':<10} {res.query!r}" + (f" in {res.state}" if res.state else " (all states)"),
        line("best", res.best, res.score, f"  [{res.reason}]" if res.best else ""),
        line("runner-up", res.runner_up, res.runner_up_score),
        f"{'decision':<10} {res.decision}",
    ])


# --- hub districts confirm ---------------------------------------------------------------------------------------

def _confirm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="the district name exactly as the files write it")
    parser.add_argument("--state", required=True, help="2-letter state")
    parser.add_argument("--leaid", required=True, help="the NCES LEAID it stands for (7 digits)")
    parser.add_argument("--by", required=True, help="who confirms (kept with the confirmation)")
    parser.add_argument("--warehouse", default=os.environ.get("HUB_WAREHOUSE_URL"),
                        help="warehouse URL (default: $HUB_WAREHOUSE_URL)")


@subcommand("districts confirm", "Confirm once that a district name in files is a given district.", _confirm_arguments)
def districts_confirm(args: argparse.Namespace) -> int:
    """Persist the confirmation; the district gate accepts the name from then on."""
    from hub.district_names import confirm
    from hub.tables import ensure_tables
    from resources.warehouse import Warehouse
    if not (args.leaid.isdigit() and len(args.leaid) == 7) or len(args.state.strip()) != 2:
        raise UsageError("--leaid must be 7 digits and --state a 2-letter code")
    if not args.warehouse:
        raise UsageError("no warehouse: pass --warehouse or set HUB_WAREHOUSE_URL")
    wh = Warehouse(args.warehouse)
    ensure_tables(wh, [])
    with wh.begin() as conn:
        confirm(conn, args.state.strip(), args.name, args.leaid, args.by)
    print(f"confirmed: {args.name!r} in {args.state.strip().upper()} is NCES {args.leaid}")
    return 0


from hub import inventory_cli  # noqa: E402,F401  registers `hub inventory`
from hub import students_cli  # noqa: E402,F401  registers `hub students exit|reactivate|inactive`
from hub import deliveries_cli  # noqa: E402,F401  registers `hub deliveries reapply`
from hub import holds_cli  # noqa: E402,F401  registers `hub holds list|approve|discard`
from hub import archive_cli  # noqa: E402,F401  registers `hub archive purge`

if __name__ == "__main__":
    from hub.cli import main as registered_main  # the module the subcommands registered with
    sys.exit(registered_main())
