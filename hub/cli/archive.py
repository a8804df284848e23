"""`hub archive purge`: remove archived files (and their import logs and reports) older than their integration's
`retention_days` (hub/intake/retention.py); run it daily (cron or a systemd timer, docs/deploy.md). Prints counts per
integration, never a file's content."""

from __future__ import annotations

import argparse
import datetime as dt

from hub.cli.commands import UsageError, hub_arguments, open_hub, subcommand


def _arguments(parser: argparse.ArgumentParser) -> None:
    hub_arguments(parser)
    parser.add_argument("--by", default="hub archive purge", help="who or what purges (kept in ops.archive_purges)")
    parser.add_argument("--today", metavar="YYYY-MM-DD", help="the day retention counts back from (default: today, "
                                                                "UTC)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be purged, remove nothing")


@subcommand("archive purge", "Remove archived files older than their integration's retention_days (recorded).",
            _arguments)
def purge(args: argparse.Namespace) -> int:
    from feeds import FEEDS
    from hub.intake.retention import purge_archive, summary
    try:
        today = dt.date.fromisoformat(args.today) if args.today else dt.datetime.now(dt.timezone.utc).date()
    except ValueError as exc:
        raise UsageError(f"--today {args.today!r} is not a date (YYYY-MM-DD)") from exc
    registry, wh = open_hub(args)
    done = purge_archive(wh, registry, FEEDS, today, args.by, dry_run=args.dry_run)
    for line in summary(done, args.dry_run) or ["nothing to purge"]:
        print(line)
    return 0
