"""The statuses of a delivery (ops.deliveries.status): one declared list with what each means to a coordinator.

The ledger moves deliveries along it; the warehouse keeps a copy in ops.delivery_statuses, which the dbt test on
ops.deliveries reads, so a status the hub writes is always one the marts know.
"""

from __future__ import annotations

# Every status a delivery can have, with what it means to a coordinator: the one declared list (the UI, docs/ui.md,
# the inventory and the dbt test on ops.deliveries read it). Order: the path of a delivery, final states last.
STATUSES: dict[str, str] = {
    "waiting": "received and archived; waits for the processing window, a blackout or a feed it depends on",
    "queued": "received and archived; a run was requested",
    "staged": "parsed, validated and gated; to be applied",
    "held": "staged and gated, not applied: held for a person to approve or discard",
    "applied": "applied to the target tables",
    "rejected": "blocked: the file, one of its rows or a gate refused it (the reason says which)",
    "failed": "its runs failed for an infrastructure reason after every retry",
    "duplicate": "same bytes as an earlier delivery: nothing to do",
    "skipped": "not processed: too old, superseded by a newer file, before the integration's start, or a file inside "
               "a zip that is not one of the feed's",
    "discarded": "held, then discarded by a person",
    "unpacked": "a container (zip) whose member files became deliveries of their own",
}
# What each status means for a day's health (marts.delivery_health); None: not a file to import (no bytes to apply).
HEALTH: dict[str, str | None] = {
    "waiting": "pending", "queued": "pending", "staged": "pending", "held": "pending", "applied": "passed",
    "rejected": "blocked", "failed": "failed", "duplicate": None, "skipped": None, "discarded": None, "unpacked": None,
}
FINAL = frozenset({"applied", "rejected", "failed", "duplicate", "skipped", "discarded", "unpacked"})
HELD = "held: "  # the reason of a delta feed's staged delivery waiting behind an earlier day (hub/apply/delta.py)
_RANK = {"waiting": 0, "queued": 1, "staged": 2, "held": 3}  # final states rank 4


def rank(status: str) -> int:
    """Position on the path of a delivery: waiting < queued < staged < held < any final state."""
    return _RANK.get(status, 4)
