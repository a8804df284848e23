"""`hub holds list|approve|discard`: the deliveries held for a person's approval (hub/apply/holds.py), and the decision.
Approve applies exactly the held delivery's staged rows, once; discard marks it `discarded` and later deliveries
proceed. Output holds counts, file names and column names, never a student value."""

from __future__ import annotations

import argparse
import json
import uuid

from hub.apply import holds
from hub.cli.commands import UsageError, hub_arguments, open_hub, subcommand


def _list_arguments(parser: argparse.ArgumentParser) -> None:
    hub_arguments(parser)
    parser.add_argument("--integration", help="only this integration's holds")
    parser.add_argument("--all", action="store_true", help="decided holds too (who decided what, when)")


def _decide_arguments(parser: argparse.ArgumentParser) -> None:
    hub_arguments(parser)
    parser.add_argument("delivery_id", metavar="ID", help="the held delivery (see `hub holds list`)")
    parser.add_argument("--by", required=True, help="who decides (kept in ops.holds and the audit trail)")


@subcommand("holds list", "List the deliveries held for approval, with the reason and a preview (counts only).",
            _list_arguments)
def holds_list(args: argparse.Namespace) -> int:
    _, wh = open_hub(args)
    with wh.begin() as conn:
        rows = holds.pending(conn, args.integration, decided=args.all)
    for r in rows:
        state = f"{r.decision} by {r.decided_by} at {r.decided_at:%Y-%m-%d %H:%M} UTC" if r.decision else "waiting"
        print(f"{r.delivery_id}  {r.integration_id}  {r.partition_date}  {r.file_type}  {r.file_name}  "
              f"held {r.held_at:%Y-%m-%d %H:%M} UTC  {state}")
        print(f"    {r.reason}")
        for line in holds.preview_lines(json.loads(r.preview)):
            print(f"    {line}")
    print(f"{len(rows)} hold(s)" + ("" if args.all else " waiting for a decision"))
    return 0


def _decide(args: argparse.Namespace, verb: str) -> int:
    from feeds import FEEDS
    from hub.apply.days import apply_day, apply_delta, with_holds
    registry, wh = open_hub(args)
    with wh.begin() as conn:
        row = holds.hold_of(conn, args.delivery_id)
        try:
            if row is None or row.decision is not None:  # says why, or who decided before
                done = holds.decide(conn, args.delivery_id, verb, args.by, "")
                print(f"{args.delivery_id}: already {done.decision} by {done.by} at {done.at:%Y-%m-%d %H:%M} UTC; "
                      "nothing done")
                return 0
        except holds.HoldError as exc:
            raise UsageError(str(exc)) from exc
    integration = next((i for i in registry.enabled() if i.id == row.integration_id), None)
    if integration is None:
        raise UsageError(f"integration {row.integration_id} is not enabled in the registry")
    feed, run_id, made = FEEDS[integration.feed], f"hub-holds-{uuid.uuid4().hex[:12]}", []

    def prepare(conn) -> None:  # noqa: ANN001  the decision commits with what it applies
        made[:] = [holds.decide(conn, args.delivery_id, verb, args.by, run_id)]

    if feed.load == "delta":
        result = with_holds(wh, run_id, lambda conn: apply_delta(conn, wh, registry, feed, integration, run_id),
                            prepare, integration.id)
        applied = f"days applied: {', '.join(result.applied_days) or 'none'}" + (
            f"; days held: {'; '.join(f'{d}: {r}' for d, r in result.held.items())}" if result.held else "")
    else:
        day = with_holds(wh, run_id, lambda conn: apply_day(conn, wh, registry, feed, integration,
                                                             row.partition_date, False, run_id), prepare,
                         integration.id)
        applied = f"files applied: {', '.join(d.file_name for d in day.applied.values()) or 'none'}" + "".join(
            f"; {t}: {s.inserted} created, {s.updated} updated, {s.deleted} deleted" for t, s in day.stats.items())
    done = made[0]
    print(f"{row.integration_id} {row.partition_date}: {len(done.delivery_ids)} delivery(ies) {done.decision} by "
          f"{done.by}; {applied}")
    return 0


@subcommand("holds approve", "Approve a held delivery: its staged rows are applied now, once.", _decide_arguments)
def holds_approve(args: argparse.Namespace) -> int:
    return _decide(args, "approve")


@subcommand("holds discard", "Discard a held delivery: nothing of it is applied; later deliveries proceed.",
            _decide_arguments)
def holds_discard(args: argparse.Namespace) -> int:
    return _decide(args, "discard")
