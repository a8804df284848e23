"""Sending one notice: e-mail over SMTP (STARTTLS, login from environment variables) or a JSON POST to a webhook
(Slack- and Teams-compatible: a `text` field, the facts beside it). Errors are described without secrets or
addresses."""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage

from hub.monitor.notices import Notice
from hub.registry.notification_settings import SmtpSettings

WEBHOOK_TIMEOUT_SECONDS = 20


class ChannelError(Exception):
    """A notice could not be sent; the message names the cause, never a secret or an address."""


def _env(name: str | None, env: Mapping[str, str], what: str) -> str:
    value = env.get(name or "")
    if not value:
        raise ChannelError(f"{what}: environment variable {name} is not set")
    return value


def send_email(smtp: SmtpSettings, to: str, notice: Notice, env: Mapping[str, str] = os.environ) -> None:
    """One plain-text e-mail through the registry's SMTP server."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = smtp.sender, to, notice.subject
    msg["X-Hub-Event"] = notice.key
    msg.set_content(notice.text())
    login = (_env(smtp.username_env, env, "SMTP user"), _env(smtp.password_env, env, "SMTP password")) \
        if smtp.username_env else None
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
            if login:
                server.login(*login)
            server.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        raise ChannelError(f"SMTP server {smtp.host}:{smtp.port} answered {exc.smtp_code} ({type(exc).__name__})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(f"SMTP server {smtp.host}:{smtp.port}: {type(exc).__name__}") from None


def webhook_payload(notice: Notice) -> dict[str, object]:
    """Slack and Teams incoming webhooks read `text`; `hub` carries the same facts for other receivers."""
    return {"text": f"{notice.subject}\n" + notice.text(), "hub": {"key": notice.key, **notice.facts}}


def post_webhook(url_env: str, notice: Notice, env: Mapping[str, str] = os.environ) -> None:
    """POST the notice as JSON to the URL in the environment variable `url_env`."""
    url = _env(url_env, env, "webhook URL")
    if not url.startswith(("https://", "http://")):
        raise ChannelError(f"webhook URL in {url_env} must start with https://")
    body = json.dumps(webhook_payload(notice)).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310 (checked)
            response.read()
    except urllib.error.HTTPError as exc:
        raise ChannelError(f"webhook in {url_env} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ChannelError(f"webhook in {url_env} unreachable ({type(exc).__name__})") from None
