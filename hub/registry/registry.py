"""The integration registry: one YAML file that says what runs (districts and integrations).

Validated with pydantic at load; a bad entry fails with the integration (or district) and field named.
Feed-specific `options` are validated by the feed's own options model, `headers` and `file_patterns` against the
feed's columns and file types.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.registry.hold_rules import HoldRules
from hub.registry.limits import ArchiveLimits
from hub.registry.notification_settings import EnvName, NotificationSettings, Recipients
from hub.registry.windows import Blackout, Window

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")]


class RegistryError(ValueError):
    """The registry file cannot be used; the message names the entry and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class District(_Strict):
    """A district (LEA) the hub serves: the hub's account table."""

    id: Slug
    name: str
    state: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    nces_leaid: Annotated[str, Field(pattern=r"^\d{7}$")]
    state_district_id: str | None = None  # e.g. the 7-digit CDE code in California, "13" in Florida
    account_id: str | None = None
    aliases: tuple[str, ...] = ()
    timezone: str = "America/New_York"
    blackouts: tuple[Blackout, ...] = ()  # this district's own pauses (e.g. its SIS rollover)
    alerts: Recipients = Recipients()  # who gets every notification of the district and its daily digest

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_tz(v)


class Contact(_Strict):
    name: str | None = None
    role: str
    email: str | None = None


class SftpTransportConfig(_Strict):
    kind: Literal["sftp"]
    host: str
    port: int = 22
    username: str
    remote_dir: str = "."
    host_key: Annotated[str, Field(pattern=r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+$")]
    private_key_env: EnvName | None = None  # env var names only: a pasted secret is refused at load
    password_env: EnvName | None = None


class FolderTransportConfig(_Strict):
    kind: Literal["folder"]
    path: str


class Integration(_Strict):
    """One data movement: who, what, when, where, why and how (the NERIC inventory columns)."""

    id: Slug
    district: Slug
    feed: str
    source: str
    destination: str
    transport: Annotated[SftpTransportConfig | FolderTransportConfig, Field(discriminator="kind")]
    patterns: tuple[str, ...] = ()  # narrows: only files matching one of these are taken (and typed as the feed says)
    file_patterns: dict[str, tuple[str, ...]] = {}  # file type -> the district's own file names for it (replace the feed's)
    timezone: str | None = None  # defaults to the district's
    contact: Contact
    filtering: str = ""
    timing: str = ""
    start_date: dt.date
    ticket: str = ""
    local_location: str = ""
    notes: str = ""
    enabled: bool = True
    quiet_period_seconds: Annotated[int, Field(ge=0)] = 300
    poll_seconds: Annotated[int, Field(ge=5)] = 30
    # SFTP files up to this size that keep their name, size and mtime are downloaded and hashed again every tick (those
    # younger than max_file_age_days), so a re-upload that preserves the timestamp (WinSCP's default) is still taken;
    # 0: never. Drop folders: every such file.
    rehash_max_bytes: Annotated[int, Field(ge=0)] = 8 * 1024 * 1024
    limits: ArchiveLimits = ArchiveLimits()  # what a zip or XLSX may expand to (archive bombs are refused)
    date_formats: tuple[str, ...] = ()  # overrides the feed's accepted date formats (e.g. the SIS writes MM/DD/YYYY)
    value_maps: dict[str, dict[str, str]] = {}  # column -> {SIS code: hub code}, e.g. grade: {K: KN}
    headers: dict[str, tuple[str, ...]] = {}  # column -> this district's own headers for it, beside the feed's aliases
    options: dict[str, Any] = {}  # the feed's own options, validated by its options model
    min_match_rate: Annotated[float, Field(ge=0, le=1)] = 0.9  # identity-linking gate of file types that link rows
    # rows with errors: reject the whole file (the specs' rule), or set them aside and apply the others while their
    # share of the file's rows stays at or below max_row_error_share (docs/feeds/row-errors.md)
    on_row_error: Literal["reject_file", "skip_rows"] = "reject_file"
    max_row_error_share: Annotated[float, Field(ge=0, le=1)] = 0.01
    window: Window | None = None  # daily processing window (local time); None: any time
    blackouts: tuple[Blackout, ...] = ()  # this integration's pauses
    max_file_age_days: Annotated[int, Field(ge=1)] = 7  # older files are skipped, not processed
    # how long a delivery waits for the same night's delivery of a feed its feed needs (Feed.needs) before it runs
    # with the latest applied one
    dependency_wait_minutes: Annotated[int, Field(ge=0)] = 120
    # Absent: the feed's default (hub/registry/declarations.Feed); null: none.
    pause: Blackout | None = None  # the integration's own pause (e.g. SIRAS's yearly summer pause)
    cadence: Literal["nightly", "weekdays", "weekly"] | None = None  # how often a delivery is expected
    due: dt.time | None = None  # local time by which each expected delivery is there; default: window end, else 08:00
    purpose: str = ""  # why the data moves (the DIG's "why")
    agreement: str = ""  # the data-sharing agreement that covers it (reference or link)
    alerts: Recipients = Recipients()  # beside `contact.email`: more recipients of its notifications
    run_retries: Annotated[int, Field(ge=0, le=10)] = 3  # runs that died (not gate failures) are retried this often
    retry_backoff_seconds: Annotated[int, Field(ge=0)] = 120  # wait before the first retry; doubles for each next one
    holds: HoldRules = HoldRules()  # when a delivery waits for approval; the fields set here replace the feed's
    # archived files (and their import logs and reports) of delivery days older than this are removed by
    # `hub archive purge`; None: kept until removed by hand
    retention_days: Annotated[int, Field(ge=1)] | None = None
    # a feed that supports it (Feed.unchanged_state): a night stages only the rows that changed since the applied
    # delivery before it (hub/load/changes.py); its staged history then keeps only changed or new rows
    stage_changes_only: bool = False

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else _check_tz(v)


class Registry(_Strict):
    districts: tuple[District, ...]
    integrations: tuple[Integration, ...]
    blackouts: tuple[Blackout, ...] = ()  # e.g. a feed's summer pause, with except_districts
    notifications: NotificationSettings = NotificationSettings()

    @cached_property
    def _by_district_id(self) -> dict[str, District]:
        return {d.id: d for d in self.districts}

    @cached_property
    def _enabled_by_feed(self) -> dict[str | None, list[Integration]]:
        out: dict[str | None, list[Integration]] = {None: [i for i in self.integrations if i.enabled]}
        for i in out[None]:
            out.setdefault(i.feed, []).append(i)
        return out

    def district(self, district_id: str) -> District:
        return self._by_district_id[district_id]

    def enabled(self, feed: str | None = None) -> list[Integration]:
        return list(self._enabled_by_feed.get(feed, ()))

    def integration_for(self, feed: str, district_id: str) -> Integration:
        return next(i for i in self.enabled(feed) if i.district == district_id)

    def timezone_of(self, integration: Integration) -> str:
        return integration.timezone or self.district(integration.district).timezone


def _check_tz(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {v!r}") from exc
    return v
