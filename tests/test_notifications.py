"""Notifications end to end on both warehouses: SIRAS deliveries of students with distinctive values, a blocked file,
a held and a failed delivery, a late integration, another paused by a yearly blackout, and the daily digest; the
notification sensor sends e-mail through a real SMTP server (STARTTLS, login) and posts to a real webhook, each once,
with no student value in any message."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from dagster_project.definitions import build_definitions
from feeds import FEEDS
from hub.intake import ledger
from sensors.notifications import SENSOR_NAME
from tests.conftest import CA_DISTRICTS, siras_integration
from tests.harness import tick
from tests.mailhook import SMTP_PASSWORD, SMTP_USER, smtp_server, webhook  # noqa: F401  (fixtures)
from tests.protected import found, protected_values
from tests.test_no_student_data_in_logs import distinctive
from tests.test_siras_pipeline import drop, query

SANTA_ANA = {"id": "santa_ana_unified", "name": "Santa Ana Unified School District", "state": "CA",
             "nces_leaid": "0635310", "state_district_id": "3066670", "timezone": "America/Los_Angeles"}
CONTACTS = {"abc_unified": "sis-admin@abc.example.org", "fresno_unified": "sped-data@fresno.example.org",
            "santa_ana_unified": "sis@sausd.example.org"}


def _md(day: dt.date, leap_day: str) -> str:
    """A month-day for a yearly blackout (02-29 is not in every year: `leap_day` instead)."""
    return leap_day if (day.month, day.day) == (2, 29) else f"{day:%m-%d}"


@pytest.fixture
def notifying_hub(tmp_path: Path, hub_env: dict, smtp_server, webhook, monkeypatch):  # noqa: ANN001, ANN201, F811
    """abc_unified receives files; fresno_unified never delivered (late); santa_ana_unified never delivered but is
    in a yearly pause around today."""
    today = dt.date.today()
    integrations = []
    for district in ("abc_unified", "fresno_unified", "santa_ana_unified"):
        folder = tmp_path / "landing" / district
        folder.mkdir(parents=True)
        integrations.append(siras_integration(
            {"kind": "folder", "path": str(folder)}, id=f"siras_{district}", district=district, cadence="nightly",
            contact={"role": "SIS Administrator", "email": CONTACTS[district]}))
    integrations[2]["pause"] = {"start": _md(today - dt.timedelta(days=3), "02-28"),  # month-days: every year
                                "end": _md(today + dt.timedelta(days=3), "03-01"), "reason": "summer pause"}
    registry = {"districts": [*CA_DISTRICTS, SANTA_ANA], "integrations": integrations, "notifications": {
        "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "starttls": True, "username_env": "HUB_TEST_SMTP_USER",
                 "password_env": "HUB_TEST_SMTP_PASSWORD", "sender": "hub@neric.example.org",
                 "ca_file": str(smtp_server.ca_file)},
        "webhook_url_env": "HUB_TEST_WEBHOOK", "digest_at": "00:00"}}
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(registry, sort_keys=False))
    monkeypatch.setenv("HUB_TEST_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("HUB_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("HUB_TEST_WEBHOOK", webhook.url)
    return build_definitions(path), dg.DagsterInstance.ephemeral(), tmp_path / "landing" / "abc_unified"


def notify(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    sensor = next(s for s in defs.sensors if s.name == SENSOR_NAME)
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources))
    for event in result.asset_events:  # what the daemon does with them
        instance.report_runless_asset_event(event)
    return result


def test_blocked_held_failed_late_and_digest_are_sent_once_without_student_values(
        notifying_hub, smtp_server, webhook, hub_env):  # noqa: F811
    defs, instance, landing = notifying_hub
    good = distinctive(8)
    values = protected_values(FEEDS["siras"], drop(landing, "1964212_demographics.csv", good, age_seconds=600))
    assert [r.success for r in tick(defs, instance, "siras__deliveries").runs] == [True]
    bad = good.copy()
    bad.loc[2, "SSID"] = "73X8000002"
    values |= protected_values(FEEDS["siras"], drop(landing, "1964212_demographics.csv", bad, age_seconds=0))
    assert [r.success for r in tick(defs, instance, "siras__deliveries").runs] == [False]
    wh_url = os.environ["HUB_WAREHOUSE_URL"]
    engine = sa.create_engine(wh_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:  # the hold logic and the retries come later: a delivery that reaches the status
        for status, reason in (("held", "would delete 20% of core.students"), ("failed", "warehouse unreachable")):
            ledger.record(conn, delivery_id=f"d-{status}", integration_id="siras_abc_unified",
                          district_id="abc_unified", feed="siras", file_type="demographics",
                          remote_path=f"1964212_demographics_{status}.csv", file_name=f"1964212_demographics_{status}.csv",
                          size=10, mtime=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                          partition_date=dt.date.today().isoformat(), status=status, reason=reason)
    webhook.statuses = [500]  # the first post fails: retried at the next tick
    first = notify(defs, instance)

    def events(address: str) -> list[str]:
        return sorted(m["X-Hub-Event"].split(":")[0] for m in smtp_server.inbox.to(address))

    contact = CONTACTS["abc_unified"]
    assert events(contact) == ["blocked", "digest", "failed", "held"]
    assert events(CONTACTS["fresno_unified"]) == ["digest", "stale"]
    assert events(CONTACTS["santa_ana_unified"]) == ["digest"]  # the yearly pause suppresses the late alert
    mail = {m["X-Hub-Event"].split(":")[0]: m.get_payload() for m in smtp_server.inbox.to(contact)}
    assert "schema gate" in mail["blocked"] and "Row errors: 1 in 1 row(s)" in mail["blocked"]
    assert ".import-log.txt" in mail["blocked"] and "would delete 20% of core.students" in mail["held"]
    assert "Deliveries: applied 1, rejected 1, held 1, failed 1" in mail["digest"]
    assert "core.students: created 8" in mail["digest"]
    assert "Paused: siras_santa_ana_unified" in smtp_server.inbox.to(CONTACTS["santa_ana_unified"])[0].get_payload()

    assert sorted(p["hub"]["event"] for _, p in webhook.posts) in (  # the post that failed is one of the seven
        sorted(k for k in ["blocked", "held", "failed", "stale", "digest", "digest", "digest"] if k != kind)
        for kind in ("blocked", "held", "failed", "stale", "digest"))
    assert all(ctype == "application/json" and p["text"] for ctype, p in webhook.posts)
    failed = query("SELECT event_key, status, attempts FROM ops.notifications WHERE status <> 'sent'")
    assert len(failed) == 1 and failed[0][1:] == ("failed", 1)

    notify(defs, instance)  # a restart: no cursor
    assert len(smtp_server.inbox.messages) == 7 and len(webhook.posts) == 7  # only the failed post again
    assert query("SELECT count(*) FROM ops.notifications WHERE status = 'sent'")[0][0] == 14
    assert query("SELECT attempts FROM ops.notifications WHERE event_key = :k AND channel = 'webhook'",
                 k=failed[0][0])[0][0] == 2

    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key([
        dg.AssetCheckKey(dg.AssetKey(["siras", "deliveries"]), f"freshness_{d}") for d in CONTACTS])
    assert {k.name: r.status.value for k, r in checks.items()} == {
        "freshness_abc_unified": "SUCCEEDED", "freshness_fresno_unified": "FAILED",
        "freshness_santa_ana_unified": "SUCCEEDED"}

    texts = [m.as_string() for _, m in smtp_server.inbox.messages] + [json.dumps(p) for _, p in webhook.posts]
    texts += [str(query("SELECT * FROM ops.notifications")), str(first.skip_reason)]
    assert len(values) > 8 * 5 and found(values, texts) == []
    assert SMTP_PASSWORD not in "".join(texts) and webhook.url not in "".join(texts)


def test_a_send_that_cannot_log_in_is_recorded_failed_without_the_secret(tmp_path, warehouse_url, smtp_server):  # noqa: F811
    from hub.monitor.notices import Notice
    from hub.monitor.notify import deliver
    from hub.registry.loading import parse_registry
    from hub.store.schema import ensure_tables
    from resources.warehouse import Warehouse
    registry = parse_registry({"districts": CA_DISTRICTS, "integrations": [siras_integration(
        {"kind": "folder", "path": str(tmp_path)}, contact={"role": "SIS Administrator", "email": CONTACTS["abc_unified"]})],
        "notifications": {"smtp": {"host": "127.0.0.1", "port": smtp_server.port, "username_env": "U", "password_env": "P",
                                   "sender": "hub@neric.example.org", "ca_file": str(smtp_server.ca_file)}}}, FEEDS)
    wh = Warehouse(warehouse_url)
    ensure_tables(wh, [])
    notice = Notice("blocked:x", "blocked", "abc_unified", "siras_abc_unified", "x", "[ABC] File blocked: f.csv", ("f",))
    assert deliver(wh, registry, [notice], env={"U": SMTP_USER}) == {"failed": 1}
    with wh.begin() as conn:
        assert conn.execute(sa.text("SELECT error FROM ops.notifications")).scalar_one() == (
            "SMTP password: environment variable P is not set")
    assert deliver(wh, registry, [notice], env={"U": SMTP_USER, "P": "wrong-password-123"}) == {"failed": 1}
    with wh.begin() as conn:
        row = conn.execute(sa.text("SELECT status, attempts, error, recipient FROM ops.notifications")).one()
    assert row[:2] == ("failed", 2) and row[3] == "contact of siras_abc_unified (SIS Administrator)"
    assert row[2].startswith(f"SMTP server 127.0.0.1:{smtp_server.port}") and "wrong-password" not in row[2]
    assert deliver(wh, registry, [notice], env={"U": SMTP_USER, "P": SMTP_PASSWORD}) == {"sent": 1}
    assert deliver(wh, registry, [notice], env={"U": SMTP_USER, "P": SMTP_PASSWORD}) == {}  # once
    assert [m["X-Hub-Event"] for _, m in smtp_server.inbox.messages] == ["blocked:x"]
