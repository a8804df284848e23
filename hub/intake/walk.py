"""A feed's delivery sensor walks the feed's integrations: each tick resumes where the last one stopped and goes on
while its time budget lasts, so a tick stays short at any number of districts (docs/architecture.md, "Delivery
sensors at scale"). Plain Python (clock injected); sensors/deliveries.py checks each integration it yields.

The cursor: {"next": the integration to check first next tick, "checked": how many this tick checked,
"scans": {integration id: its scan cursor (files still growing)}}.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

QUIET = "no matching files"  # an integration whose folder had nothing: counted, not named
BULLET = "• "  # starts each integration's line: the UI shows a skip reason as one paragraph, its line breaks as spaces
NAMED = 100  # integrations a summary names at most (those with more to say than "already received" first)


class Walk:
    """One tick's walk over integration ids (sorted), from the cursor's `next`, while `budget_seconds` lasts (at least
    one integration per tick, so the walk always moves on)."""

    def __init__(self, ids: Sequence[str], cursor: dict, budget_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ids = sorted(ids)
        self.budget, self.clock = budget_seconds, clock
        after = str(cursor.get("next") or "")
        start = next((n for n, i in enumerate(self.ids) if i >= after), 0)
        self.order = self.ids[start:] + self.ids[:start]
        self.before: dict[str, dict] = cursor.get("scans") or {}
        self.reasons: dict[str, str] = {}  # integration id -> what its check found, in walk order
        self.scans: dict[str, dict] = {}

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        """(integration id, its scan cursor from the last tick) for each integration to check now."""
        began = self.clock()
        for n, integration_id in enumerate(self.order):
            if n and self.clock() - began >= self.budget:
                return
            yield integration_id, self.before.get(integration_id, {})

    def record(self, integration_id: str, reason: str, scan_cursor: dict) -> None:
        self.reasons[integration_id] = reason
        self.scans[integration_id] = scan_cursor

    @property
    def complete(self) -> bool:
        return len(self.reasons) == len(self.ids)

    @property
    def cursor(self) -> dict:
        checked = len(self.reasons)
        following = self.order[checked] if checked < len(self.order) else (self.order[0] if self.order else "")
        unchecked = set(self.ids) - set(self.reasons)
        scans = {i: c for i, c in self.before.items() if i in unchecked and c}
        scans.update((i, c) for i, c in self.scans.items() if c)
        return {"next": following, "checked": checked, "scans": dict(sorted(scans.items()))}

    def summary(self, feed: str) -> str:
        """The tick's skip reason: how far the walk got, then one line per integration with something to say."""
        quiet = sum(r == QUIET for r in self.reasons.values())
        head = f"{feed}: {len(self.reasons)} of {len(self.ids)} integration(s) checked, {quiet} with {QUIET}"
        if not self.complete:
            head += f"; the next tick goes on from {self.cursor['next']}"
        noted = [(i, r) for i, r in self.reasons.items() if r != QUIET]
        noted.sort(key=lambda ir: ir[1].endswith(" already received") and ir[1].count(";") == 0)  # stable
        lines = [f"{BULLET}{i}: {r}" for i, r in noted[:NAMED]]
        if len(noted) > NAMED:
            lines.append(f"{BULLET}… and {len(noted) - NAMED} more integration(s) with notes (the sensor's log lists "
                         "them all)")
        return "\n".join([head, *lines])

    def lines(self) -> list[str]:
        """Every checked integration's line, for the tick's log."""
        return [f"{BULLET}{i}: {r}" for i, r in self.reasons.items()]
