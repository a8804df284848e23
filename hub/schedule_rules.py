"""When a stable file may be processed: processing window, blackout dates, freshness.

Pure functions over an injected clock and timezone; hub/intake.scan applies them for sensor ticks only
(a manual materialization in the UI bypasses window and blackouts).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]  # "06-20": every year


class Blackout(BaseModel):
    """Dates (inclusive, local) on which nothing is processed, e.g. the summer pause or a rollover.

    `start`/`end` are dates (once) or month-days such as "06-20" (every year; "12-20".."01-05" spans the new year).
    `mode: limited` does not pause: deliveries of those days only create records, never update or delete them
    (a rollover's "limited imports"). At registry level `feeds` and `districts` narrow it (empty: all) and
    `except_districts` exempts districts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: dt.date | MonthDay
    end: dt.date | MonthDay
    reason: str = "blackout"
    mode: Literal["pause", "limited"] = "pause"
    feeds: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    except_districts: tuple[str, ...] = ()

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_or_month_day(cls, v: object) -> object:
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            return dt.date.fromisoformat(v)
        if v == "02-29":
            raise ValueError("02-29 is not in every year; use 02-28 or 03-01")
        return v

    @model_validator(mode="after")
    def _order(self) -> "Blackout":
        if isinstance(self.start, dt.date) != isinstance(self.end, dt.date):
            raise ValueError("blackout start and end must both be dates or both month-days (MM-DD, every year)")
        if isinstance(self.start, str):
            for md in (self.start, self.end):
                dt.date(2001, int(md[:2]), int(md[3:]))  # a day that exists (ValueError names it)
        elif self.end < self.start:
            raise ValueError(f"blackout end {self.end} is before its start {self.start}")
        return self

    def span(self, day: dt.date) -> tuple[dt.date, dt.date] | None:
        """The occurrence (first and last date) that contains `day`, or None."""
        if not isinstance(self.start, str) or not isinstance(self.end, str):
            return (self.start, self.end) if self.start <= day <= self.end else None
        (sm, sd), (em, ed) = (map(int, self.start.split("-")), map(int, self.end.split("-")))
        wraps = (em, ed) < (sm, sd)
        for year in (day.year - 1, day.year):
            first, last = dt.date(year, sm, sd), dt.date(year + wraps, em, ed)
            if first <= day <= last:
                return first, last
        return None

    def concerns(self, feed: str, district: str) -> bool:
        return ((not self.feeds or feed in self.feeds) and (not self.districts or district in self.districts)
                and district not in self.except_districts)

    def applies(self, feed: str, district: str, day: dt.date) -> bool:
        return self.span(day) is not None and self.concerns(feed, district)


def local_now(now: float, tz: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, ZoneInfo(tz))


def blackouts_for(registry: "Registry", integration: "Integration") -> list[Blackout]:
    """Registry-wide, district and integration blackouts and the integration's pause that may concern it."""
    return [*registry.blackouts, *registry.district(integration.district).blackouts, *integration.blackouts,
            *((integration.pause,) if integration.pause else ())]


def _active(registry: "Registry", integration: "Integration", day: dt.date, mode: str) -> list[Blackout]:
    return [b for b in blackouts_for(registry, integration)
            if b.mode == mode and b.applies(integration.feed, integration.district, day)]


def pause_reason(registry: "Registry", integration: "Integration", day: dt.date) -> str | None:
    """The pauses (blackouts in mode `pause`) of a local day, named with their dates; None: not paused."""
    active = _active(registry, integration, day, "pause")
    return ", ".join(sorted({_named(b, day) for b in active})) or None


def limited_reason(registry: "Registry", integration: "Integration", day: dt.date) -> str | None:
    """The limited-import blackouts of a delivery day (only creates, never updates or deletes); None: none."""
    active = _active(registry, integration, day, "limited")
    return ", ".join(sorted({_named(b, day) for b in active})) or None


def _named(b: Blackout, day: dt.date) -> str:
    first, last = b.span(day) or (day, day)
    return f"{b.reason} {first}..{last}"


def hold_reason(registry: "Registry", integration: "Integration", now: float) -> str | None:
    """Why a stable file must wait now (a pause or outside the window), naming when it will run; None: go."""
    tz = registry.timezone_of(integration)
    local = local_now(now, tz)
    day, paused = local.date(), []
    for _ in range(400):  # back-to-back pauses chain; a pause that never ends stops the search
        active = _active(registry, integration, day, "pause")
        if not active:
            break
        paused += [_named(b, day) for b in active]
        day = max(b.span(day)[1] for b in active) + dt.timedelta(days=1)  # type: ignore[index]
    window = integration.window
    if paused:
        resume = dt.datetime.combine(day, window.start if window else dt.time(0), ZoneInfo(tz))
        return f"paused ({', '.join(sorted(set(paused)))}); will run from {resume:%Y-%m-%d %H:%M} {tz}"
    if window and not window.contains(local.time()):
        return f"outside the processing window {window} {tz}; will run from {window.next_open(local):%Y-%m-%d %H:%M} {tz}"
    return None


def stale_reason(mtime: float, now: float, max_age_days: int, newest_processed: dt.datetime | None,
                 processed_at: dt.datetime | None = None) -> str | None:
    """Why a file is too old to process (never retried), as the SIRAS spec words it: modified more than
    `max_age_days` ago, or before the latest processing of its file type (`processed_at`, when the newest import of
    that type ran), or before the newest processed delivery's own modification (`newest_processed`). Times are
    naive UTC."""
    if now - mtime > max_age_days * 86400:
        return f"last modified more than {max_age_days} days ago; upload a new file to trigger an update"
    modified = dt.datetime.fromtimestamp(mtime, dt.timezone.utc).replace(tzinfo=None)
    if newest_processed is not None and modified < newest_processed:
        return "last modified before the newest processed delivery; upload a new file to trigger an update"
    if processed_at is not None and modified < processed_at:
        return (f"last modified before the latest processing of its file type ({processed_at:%Y-%m-%d %H:%M:%S} UTC); "
                "upload a new file to trigger an update")
    return None
