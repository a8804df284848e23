"""`hub students exit|reactivate|inactive`: keep students who left a program untouched by the feeds, and give the
SIS the list with reasons. Output names counts only: SSIDs go to the CSV the district asked for, never to a log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.apply.student_status import INACTIVE_REASONS, set_status, write_inactive_csv
from hub.cli.commands import UsageError, hub_arguments, open_hub, subcommand
from resources.warehouse import Warehouse


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--district", required=True, help="district id of the registry")
    hub_arguments(parser)


def _change(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--ssid", action="append", default=[], help="a student's SSID (repeat for several)")
    parser.add_argument("--ssid-file", type=Path, metavar="FILE", help="a file with one SSID per line")
    parser.add_argument("--by", required=True, help="who decides (kept in the audit trail)")


def _exit_arguments(parser: argparse.ArgumentParser) -> None:
    _change(parser)
    parser.add_argument("--reason", required=True, choices=INACTIVE_REASONS, help="why the student is inactive")


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", required=True, help="CSV to write")


def _warehouse(args: argparse.Namespace) -> Warehouse:
    """The warehouse, after checking that the district is in the registry."""
    registry, wh = open_hub(args)
    if args.district not in {d.id for d in registry.districts}:
        raise UsageError(f"unknown district {args.district!r} (not in the registry)")
    return wh


def _ssids(args: argparse.Namespace) -> list[str]:
    ssids = list(args.ssid)
    if args.ssid_file:
        try:
            ssids += args.ssid_file.read_text(encoding="utf-8-sig").split()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {args.ssid_file}: {exc}") from exc
    if not any(s.strip() for s in ssids):
        raise UsageError("no SSID given: pass --ssid or --ssid-file")
    return ssids


def _apply(args: argparse.Namespace, status: str, verb: str) -> int:
    wh = _warehouse(args)
    with wh.begin() as conn:
        result = set_status(conn, args.district, _ssids(args), status, args.by, f"hub students {verb}")
    print(f"{args.district}: {result.changed} student(s) now {status}, {result.already} already {status}, "
          f"{result.not_found} SSID(s) not found")
    return 1 if result.not_found else 0


@subcommand("students exit", "Mark students inactive (exited or not eligible): feeds no longer update them.",
            _exit_arguments)
def students_exit(args: argparse.Namespace) -> int:
    return _apply(args, args.reason, "exit")


@subcommand("students reactivate", "Make inactive students active again: feeds update them again.", _change)
def students_reactivate(args: argparse.Namespace) -> int:
    return _apply(args, "active", "reactivate")


@subcommand("students inactive", "Export the district's inactive students with reasons (CSV for the SIS).",
            _export_arguments)
def students_inactive(args: argparse.Namespace) -> int:
    wh = _warehouse(args)
    with wh.begin() as conn, args.output.open("w", encoding="utf-8", newline="") as out:
        n = write_inactive_csv(conn, args.district, out)
    print(f"wrote {n} inactive student(s) of {args.district} to {args.output}", file=sys.stderr)
    return 0
