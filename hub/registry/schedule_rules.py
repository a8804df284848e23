"""When a stable file may be processed: processing window, blackout dates, freshness.

Pure functions over an injected clock and timezone; hub/intake/tick.scan applies them for sensor ticks only
(a manual materialization in the UI bypasses window and blackouts).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hub.registry.windows import Blackout, local_now

if TYPE_CHECKING:
    from hub.registry.registry import Integration, Registry


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
