"""When a stable file may be processed: processing window, blackout dates, freshness.

Pure functions over an injected clock and timezone; hub/intake.scan applies them for sensor ticks only
(a manual materialization in the UI bypasses window and blackouts).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, model_validator

if TYPE_CHECKING:
    from hub.registry import Integration, Registry


class Window(BaseModel):
    """Daily processing window in the integration's timezone; `end` before `start` spans midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: dt.time
    end: dt.time

    def contains(self, t: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def next_open(self, local: dt.datetime) -> dt.datetime:
        """The next local time the window opens after `local`."""
        opens = local.replace(hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0)
        return opens if opens > local else opens + dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class Blackout(BaseModel):
    """Dates (inclusive, local) on which nothing is processed, e.g. the summer pause or a rollover.

    At registry level `feeds` and `districts` narrow it (empty: all) and `except_districts` exempts districts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: dt.date
    end: dt.date
    reason: str = "blackout"
    feeds: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    except_districts: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _order(self) -> "Blackout":
        if self.end < self.start:
            raise ValueError(f"blackout end {self.end} is before its start {self.start}")
        return self

    def applies(self, feed: str, district: str, day: dt.date) -> bool:
        return (self.start <= day <= self.end and (not self.feeds or feed in self.feeds)
                and (not self.districts or district in self.districts) and district not in self.except_districts)


def local_now(now: float, tz: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, ZoneInfo(tz))


def blackouts_for(registry: "Registry", integration: "Integration") -> list[Blackout]:
    """Registry-wide, district and integration blackouts that may concern this integration."""
    return [*registry.blackouts, *registry.district(integration.district).blackouts, *integration.blackouts]


def hold_reason(registry: "Registry", integration: "Integration", now: float) -> str | None:
    """Why a stable file must wait now (blackout or outside the window), naming when it will run; None: go."""
    tz = registry.timezone_of(integration)
    local = local_now(now, tz)
    rules = blackouts_for(registry, integration)
    day, paused = local.date(), []
    while active := [b for b in rules if b.applies(integration.feed, integration.district, day)]:
        paused += active
        day = max(b.end for b in active) + dt.timedelta(days=1)
    window = integration.window
    if paused:
        resume = dt.datetime.combine(day, window.start if window else dt.time(0), ZoneInfo(tz))
        names = ", ".join(sorted({f"{b.reason} {b.start}..{b.end}" for b in paused}))
        return f"paused ({names}); will run from {resume:%Y-%m-%d %H:%M} {tz}"
    if window and not window.contains(local.time()):
        return f"outside the processing window {window} {tz}; will run from {window.next_open(local):%Y-%m-%d %H:%M} {tz}"
    return None


def stale_reason(mtime: float, now: float, max_age_days: int, newest_processed: dt.datetime | None) -> str | None:
    """Why a file is too old to process (never retried); `newest_processed` is a naive UTC mtime."""
    if now - mtime > max_age_days * 86400:
        return f"last modified more than {max_age_days} days ago; upload a new file to trigger an update"
    modified = dt.datetime.fromtimestamp(mtime, dt.timezone.utc).replace(tzinfo=None)
    if newest_processed is not None and modified < newest_processed:
        return "last modified before the newest processed delivery; upload a new file to trigger an update"
    return None
