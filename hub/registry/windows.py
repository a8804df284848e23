"""Processing windows and blackout dates as the registry and feed declarations state them (local time)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


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
