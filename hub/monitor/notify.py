"""Who gets a notice, and sending it once: every (event, channel, recipient) is a row of ops.notifications,
claimed before it is sent, so a sensor restart or a second tick never sends it again; a failed send is retried up
to `notifications.max_attempts` times. The table names recipients by role or variable, never by address.

Recipients of a notice about an integration: its contact's e-mail, its `alerts`, its district's `alerts` and the
hub-wide webhook. The daily digest goes to the district's `alerts` (without e-mails there, to the contacts of its
enabled integrations) and the hub-wide webhook.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from hub.intake.ledger import utcnow
from hub.monitor.channels import ChannelError, post_webhook, send_email
from hub.monitor.digest import digest_notices
from hub.monitor.freshness import Freshness
from hub.monitor.notices import Notice, delivery_notices, stale_notices
from hub.registry.declarations import Feed
from hub.registry.registry import Integration, Registry
from hub.store.tables import notifications
from resources.warehouse import Warehouse


@dataclass(frozen=True)
class Route:
    channel: str  # email | webhook | none
    recipient: str  # who, by role or variable name (stored)
    target: str  # the address or the webhook's environment variable (never stored)

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.channel}:{self.target.strip().lower()}".encode()).hexdigest()[:16]


NOBODY = Route("none", "no recipient configured in the registry", "")


def routes(registry: Registry, notice: Notice) -> list[Route]:
    """The recipients of a notice, each address or webhook once."""
    district = registry.district(notice.district_id)
    found: list[Route] = []
    integration = next((i for i in registry.integrations if i.id == notice.integration_id), None)
    if integration is not None:
        found += _of_integration(integration)
    elif not district.alerts.emails:  # a digest without district recipients: the integrations' contacts
        for i in registry.enabled():
            if i.district == district.id and i.contact.email:
                found.append(Route("email", f"contact of {i.id} ({i.contact.role})", i.contact.email))
    found += [Route("email", f"alerts of district {district.id}", a) for a in district.alerts.emails]
    for env in (district.alerts.webhook_url_env, registry.notifications.webhook_url_env):
        if env:
            found.append(Route("webhook", f"webhook {env}", env))
    unique: dict[tuple[str, str], Route] = {}
    for r in found:
        unique.setdefault((r.channel, r.key), r)
    return list(unique.values())


def _of_integration(i: Integration) -> list[Route]:
    out = [Route("email", f"contact of {i.id} ({i.contact.role})", i.contact.email)] if i.contact.email else []
    out += [Route("email", f"alerts of {i.id}", a) for a in i.alerts.emails]
    if i.alerts.webhook_url_env:
        out.append(Route("webhook", f"webhook {i.alerts.webhook_url_env}", i.alerts.webhook_url_env))
    return out


def collect(conn: sa.Connection, registry: Registry, feeds: Mapping[str, Feed], states: list[Freshness],
            now: float) -> list[Notice]:
    """Every notice due now: deliveries blocked, held or failed within the look-back, late integrations and the
    districts' daily digests (sent or not: `deliver` sends each once)."""
    hours = registry.notifications.lookback_hours
    since = dt.datetime.fromtimestamp(now - hours * 3600, dt.timezone.utc).replace(tzinfo=None)
    return [*delivery_notices(conn, registry, feeds, since), *stale_notices(registry, feeds, states),
            *digest_notices(conn, registry, feeds, states, now)]


def deliver(warehouse: Warehouse, registry: Registry, notices: list[Notice], *, env: Mapping[str, str] = os.environ,
            budget_seconds: float = 40.0, clock: Callable[[], float] = time.monotonic) -> Counter[str]:
    """Send each notice to each recipient that has not had it; returns counts per outcome. Sending stops after
    `budget_seconds` (the rest go at the next tick)."""
    counts: Counter[str] = Counter()
    started, done = clock(), _done(warehouse, registry, notices)
    for notice in notices:
        for route in routes(registry, notice) or [NOBODY]:
            if (notice.key, route.channel, route.key) in done:
                continue
            if clock() - started > budget_seconds:
                counts["deferred to the next tick"] += 1
                continue
            outcome = _once(warehouse, registry, notice, route, env)
            if outcome:
                counts[outcome] += 1
    return counts


def _done(warehouse: Warehouse, registry: Registry, notices: list[Notice]) -> set[tuple[str, str, str]]:
    """(event, channel, recipient) of the notices already sent, unrouted or given up: one read per tick."""
    if not notices:
        return set()
    n = notifications.c
    with warehouse.begin() as conn:
        rows = conn.execute(sa.select(n.event_key, n.channel, n.recipient_key, n.status, n.attempts)
                            .where(n.event_key.in_(sorted({x.key for x in notices})))).all()
    limit = registry.notifications.max_attempts
    return {(r.event_key, r.channel, r.recipient_key) for r in rows if r.status != "failed" or r.attempts >= limit}


def _once(warehouse: Warehouse, registry: Registry, notice: Notice, route: Route, env: Mapping[str, str]) -> str | None:
    """Claim, send and record one notice for one recipient; None when it was sent (or given up) before."""
    smtp = registry.notifications.smtp
    unrouted = ("no recipient configured" if route.channel == "none" else
                "no SMTP server in the registry (notifications.smtp)" if route.channel == "email" and smtp is None
                else None)
    if not _claim(warehouse, notice, route, registry.notifications.max_attempts, unrouted):
        return None
    if unrouted:
        return "unrouted"
    try:
        if route.channel == "email":
            send_email(smtp, route.target, notice, env)  # type: ignore[arg-type]
        else:
            post_webhook(route.target, notice, env)
        status, error = "sent", None
    except ChannelError as exc:
        status, error = "failed", str(exc)
    with warehouse.begin() as conn:
        conn.execute(sa.update(notifications).where(*_pk(notice, route))
                     .values(status=status, error=error, updated_at=utcnow()))
    return status


def _pk(notice: Notice, route: Route) -> tuple[sa.ColumnElement[bool], ...]:
    n = notifications.c
    return n.event_key == notice.key, n.channel == route.channel, n.recipient_key == route.key


def _claim(warehouse: Warehouse, notice: Notice, route: Route, max_attempts: int, unrouted: str | None) -> bool:
    """Record the attempt before sending (status 'sending', or 'unrouted' at once); False when this recipient had
    this notice already (sent, being sent, unrouted, or failed too often)."""
    now = utcnow()
    with warehouse.begin() as conn:
        row = conn.execute(sa.select(notifications.c.status, notifications.c.attempts)
                           .where(*_pk(notice, route))).first()
        if row is None:
            conn.execute(sa.insert(notifications).values(
                event_key=notice.key, channel=route.channel, recipient_key=route.key, recipient=route.recipient,
                kind=notice.kind, district_id=notice.district_id, integration_id=notice.integration_id,
                delivery_id=notice.delivery_id, subject=notice.subject, body=notice.text(),
                status="unrouted" if unrouted else "sending", attempts=0 if unrouted else 1, error=unrouted,
                created_at=now, updated_at=now))
            return True
        if row.status != "failed" or row.attempts >= max_attempts or unrouted:
            return False
        conn.execute(sa.update(notifications).where(*_pk(notice, route))
                     .values(status="sending", attempts=row.attempts + 1, updated_at=now))
        return True
