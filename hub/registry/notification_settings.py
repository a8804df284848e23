"""Registry settings for notifications: how the hub sends (SMTP, webhooks) and to whom (per district and
integration). Secrets (SMTP user and password, webhook URLs) are named by environment variable, never written here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _env_name(value: str) -> str:
    """An environment variable's name; anything else (a pasted secret) is refused without repeating it."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", value):
        raise ValueError("must be the name of an environment variable (letters, digits, _) that holds the secret, "
                         "never the secret itself; the value given is not shown")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recipients(_Strict):
    """`alerts:` of a district or an integration: extra e-mail recipients and a webhook (Slack, Teams)."""

    emails: tuple[Email, ...] = ()
    webhook_url_env: EnvName | None = None  # env var holding the webhook URL (the URL carries its token)


class SmtpSettings(_Strict):
    """The SMTP server notifications are sent through."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    starttls: bool = True  # upgrade the connection with STARTTLS (certificate verified)
    username_env: EnvName | None = None  # env vars with the login; no login when unset
    password_env: EnvName | None = None
    sender: Email
    ca_file: str | None = None  # CA bundle that signs the server's certificate (a private CA); default: the system's
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0


class NotificationSettings(_Strict):
    """Top-level `notifications:` of the registry."""

    smtp: SmtpSettings | None = None  # without it e-mail recipients are recorded as unrouted
    webhook_url_env: EnvName | None = None  # a hub-wide webhook that gets every notification
    digest_at: dt.time = dt.time(7, 30)  # local time (each district's timezone) of the daily digest
    lookback_hours: Annotated[int, Field(ge=1, le=24 * 31)] = 72  # ledger events older than this are not notified
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 5  # sends of one notification before it stays failed
