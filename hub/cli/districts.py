"""`hub districts match|confirm`: district names against the registry or the NCES directory."""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import yaml

from hub.cli.commands import UsageError, subcommand
from hub.gates.district_match import DistrictMatcher, MatchResult
from hub.gates.district_records import DistrictRecord, load_district_records

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
    from hub.gates.district_names import confirm
    from hub.store.schema import ensure_tables
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
