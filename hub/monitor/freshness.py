"""Freshness of an integration: is a delivery late for its expected cadence (nightly, weekdays, weekly)?

Plain functions over an injected clock. Expected days are local days in the integration's timezone: every day
(nightly, weekly) or Monday to Friday (weekdays); each has a deadline at the integration's `due` time. A paused day
(a blackout in mode `pause`, or the integration's pause) expects nothing, and while today is paused nothing is late.
The integration is late when its newest delivery is older than the deadline `gap` expected days before the latest
deadline that has passed (gap 1 for nightly and weekdays, 7 for weekly).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hub.registry.schedule_rules import pause_reason
from hub.registry.windows import local_now
from hub.store.tables import deliveries

if TYPE_CHECKING:
    from hub.registry.registry import Integration, Registry

GAP = {"nightly": 1, "weekdays": 1, "weekly": 7}  # expected days the newest delivery may be behind
DEFAULT_DUE = dt.time(8, 0)
_SEARCH_DAYS = 400  # a pause of a whole year stops the search


@dataclass(frozen=True)
class Freshness:
    """The freshness of one integration at one moment (counts and dates only)."""

    integration_id: str
    district_id: str
    cadence: str
    state: str  # fresh | late | paused | not_due (no deadline has passed since the start date)
    last_delivery: dt.datetime | None  # newest delivery's modification time (naive UTC)
    expected_since: dt.datetime | None  # a delivery modified after this was expected (naive UTC)
    reason: str

    @property
    def late(self) -> bool:
        return self.state == "late"

    def metadata(self) -> dict[str, str]:
        """What the freshness check shows in the UI."""
        return {"state": self.state, "cadence": self.cadence, "result": self.reason,
                "last delivery (UTC)": _iso(self.last_delivery) or "never",
                "expected a delivery after (UTC)": _iso(self.expected_since) or "-"}


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat(sep=" ", timespec="minutes") if value else ""


def deliveries_key(feed_name: str) -> list[str]:
    """Asset key of a feed's incoming deliveries, which carries the freshness checks."""
    return [feed_name, "deliveries"]


def check_name(integration: "Integration") -> str:
    """The name of an integration's freshness check on its feed's deliveries asset (one integration per feed and
    district)."""
    return f"freshness_{integration.district}"


def due_time(integration: "Integration") -> dt.time:
    """Local time by which an expected delivery is there: `due`, else the window's end, else 08:00."""
    return integration.due or (integration.window.end if integration.window else DEFAULT_DUE)


def _expected(cadence: str, day: dt.date) -> bool:
    return cadence != "weekdays" or day.weekday() < 5


def evaluate(registry: "Registry", integration: "Integration", last_delivery: dt.datetime | None,
             now: float) -> Freshness | None:
    """The integration's freshness now; None when it declares no cadence."""
    cadence = integration.cadence
    if cadence is None:
        return None
    tz = registry.timezone_of(integration)
    local, due = local_now(now, tz), due_time(integration)

    def result(state: str, reason: str, since: dt.datetime | None = None) -> Freshness:
        return Freshness(integration.id, integration.district, cadence, state, last_delivery, since, reason)

    if paused := pause_reason(registry, integration, local.date()):
        return result("paused", f"paused ({paused}): no delivery expected")
    day = local.date() if local.time() >= due else local.date() - dt.timedelta(days=1)
    deadlines: list[dt.date] = []
    for _ in range(_SEARCH_DAYS):
        if day < integration.start_date or len(deadlines) > GAP[cadence]:
            break
        if _expected(cadence, day) and not pause_reason(registry, integration, day):
            deadlines.append(day)
        day -= dt.timedelta(days=1)
    if len(deadlines) <= GAP[cadence]:
        return result("not_due", f"no {cadence} deadline has passed since the start date {integration.start_date}")
    missed, since_day = deadlines[0], deadlines[GAP[cadence]]
    since = dt.datetime.combine(since_day, due, ZoneInfo(tz)).astimezone(dt.timezone.utc).replace(tzinfo=None)
    if last_delivery is not None and last_delivery > since:
        return result("fresh", f"newest delivery {_iso(last_delivery)} UTC is within its {cadence} cadence", since)
    return result("late", f"no delivery since {_iso(last_delivery) + ' UTC' if last_delivery else 'the start'}; "
                          f"a {cadence} delivery was due by {missed} {due:%H:%M} {tz}", since)


def last_deliveries(conn: sa.Connection) -> dict[str, dt.datetime]:
    """Integration id -> modification time of its newest delivery (any outcome: a file was delivered)."""
    d = deliveries.c
    return dict(conn.execute(sa.select(d.integration_id, sa.func.max(d.mtime)).group_by(d.integration_id)).all())


def freshness_of(conn: sa.Connection, registry: "Registry", now: float) -> list[Freshness]:
    """The freshness of every enabled integration that declares a cadence."""
    last = last_deliveries(conn)
    states = (evaluate(registry, i, last.get(i.id), now) for i in registry.enabled())
    return [f for f in states if f is not None]
