"""Deliveries over a real OpenSSH sshd into PostgreSQL, with Dagster's own storage in PostgreSQL too."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from dagster_project.definitions import build_definitions
from demo.siras_files import students as synthetic_students
from hub.store.tables import audited_records
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry
from tests.harness import rematerialize, tick
from tests.sshd import Sshd, keygen, public_line

SENSOR = "siras__deliveries"


@pytest.fixture
def pg_instance(pg_url: str) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose run, event-log and schedule storage is PostgreSQL (dagster-postgres)."""
    url = pg_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}}) as instance:
        yield instance


@pytest.fixture
def sftp_hub(tmp_path: Path, sshd: Sshd, sftp_dir: Path, sftp_env: str, pg_url: str,
             monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    monkeypatch.setenv("HUB_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    transport = {"kind": "sftp", "host": sshd.host, "port": sshd.port, "username": sshd.username,
                 "remote_dir": str(sftp_dir), "host_key": sshd.host_key_line, "private_key_env": sftp_env}
    registry = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                              [siras_integration(transport, quiet_period_seconds=1)])
    return build_definitions(registry)


def count(sql: str) -> int:
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def upload(sftp_dir: Path, name: str, data: bytes) -> Path:
    """Put bytes where the sshd serves them (the same files a district's SFTP client would write)."""
    path = sftp_dir / name
    path.write_bytes(data)
    return path


def settle(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None):
    """Tick, wait out the quiet period, tick again (what the daemon's repeated ticks do)."""
    first = tick(defs, instance, SENSOR, cursor)
    time.sleep(1.1)
    return tick(defs, instance, SENSOR, first.cursor)


def test_upload_to_sshd_reaches_students_and_audit(sftp_hub, pg_instance, sftp_dir):
    data = synthetic_students(25, "1964212").assign(Designation="SPED").to_csv(index=False).encode()
    upload(sftp_dir, "1964212_demographics.csv", data)
    t = settle(sftp_hub, pg_instance)
    assert [r.success for r in t.runs] == [True]
    assert count("SELECT count(*) FROM core.students") == 25
    assert count(f"SELECT {audited_records()} FROM ops.field_audit WHERE action = 'create'") == 25
    assert len(pg_instance.get_runs()) == 1  # the run history lives in PostgreSQL


def test_growing_file_waits_until_stable(sftp_hub, pg_instance, sftp_dir):
    data = synthetic_students(200, "1964212").assign(Designation="SPED").to_csv(index=False).encode()
    path = upload(sftp_dir, "1964212_demographics.csv", data[:4000])
    first = tick(sftp_hub, pg_instance, SENSOR)
    assert first.runs == [] and "1 still growing" in first.skip_reason
    with path.open("ab") as fh:
        fh.write(data[4000:])
    time.sleep(1.1)
    grown = tick(sftp_hub, pg_instance, SENSOR, first.cursor)
    assert grown.runs == [] and "still growing" in grown.skip_reason  # size changed: the quiet period restarts
    time.sleep(1.1)
    stable = tick(sftp_hub, pg_instance, SENSOR, grown.cursor)
    assert [r.success for r in stable.runs] == [True]
    assert count("SELECT count(*) FROM core.students") == 200


def test_identical_reupload_starts_no_run_changed_bytes_do(sftp_hub, pg_instance, sftp_dir):
    frame = synthetic_students(10, "1964212").assign(Designation="SPED")
    path = upload(sftp_dir, "1964212_demographics.csv", frame.to_csv(index=False).encode())
    t = settle(sftp_hub, pg_instance)
    assert len(t.runs) == 1
    path.unlink()
    upload(sftp_dir, "1964212_demographics.csv", frame.to_csv(index=False).encode())  # new mtime, same bytes
    os.utime(path, (time.time() + 5, time.time() + 5))
    same = settle(sftp_hub, pg_instance, t.cursor)
    assert same.runs == [] and "identical bytes" in same.skip_reason
    frame.loc[0, "GRADE"] = "12" if frame.loc[0, "GRADE"] != "12" else "11"
    upload(sftp_dir, "1964212_demographics.csv", frame.to_csv(index=False).encode())
    os.utime(path, (time.time() + 10, time.time() + 10))
    changed = settle(sftp_hub, pg_instance, same.cursor)
    assert [r.success for r in changed.runs] == [True]
    assert count("SELECT count(*) FROM ops.field_audit WHERE action = 'update'") == 1


def test_rematerialize_with_sshd_stopped_reads_archive(sftp_hub, pg_instance, sftp_dir, sshd):
    upload(sftp_dir, "1964212_demographics.csv",
           synthetic_students(12, "1964212").assign(Designation="504").to_csv(index=False).encode())
    t = settle(sftp_hub, pg_instance)
    assert [r.success for r in t.runs] == [True]
    audit = count("SELECT count(*) FROM ops.field_audit")
    day = t.result.run_requests[0].partition_key.keys_by_dimension["date"]
    sshd.stop()
    try:
        result = rematerialize(sftp_hub, pg_instance, "siras_import", "abc_unified", day)
        assert result.success
        assert count("SELECT count(*) FROM ops.field_audit") == audit
        assert count("SELECT count(*) FROM core.students") == 12
        down = tick(sftp_hub, pg_instance, SENSOR, t.cursor)
        assert down.runs == [] and "siras_abc_unified" in down.skip_reason
    finally:
        sshd.start()


def test_unknown_host_key_is_refused_with_a_clear_reason(tmp_path, sshd, sftp_dir, sftp_env, pg_url, monkeypatch,
                                                         pg_instance):
    monkeypatch.setenv("HUB_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    other = public_line(keygen(tmp_path / "not_the_server"))
    transport = {"kind": "sftp", "host": sshd.host, "port": sshd.port, "username": sshd.username,
                 "remote_dir": str(sftp_dir), "host_key": other, "private_key_env": sftp_env}
    defs = build_definitions(write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(transport)]))
    upload(sftp_dir, "1964212_demographics.csv", b"SSID\n")
    logins = sshd.accepted_logins()
    t = tick(defs, pg_instance, SENSOR)
    assert t.runs == []
    assert "host key" in t.skip_reason and "siras_abc_unified" in t.skip_reason
    assert sshd.accepted_logins() == logins  # refused before authenticating


def test_missing_credentials_name_the_env_var(tmp_path, sshd, sftp_dir, pg_url, monkeypatch, pg_instance):
    monkeypatch.setenv("HUB_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.delenv("HUB_SFTP_KEY_UNSET", raising=False)
    transport = {"kind": "sftp", "host": sshd.host, "port": sshd.port, "username": sshd.username,
                 "remote_dir": str(sftp_dir), "host_key": sshd.host_key_line, "private_key_env": "HUB_SFTP_KEY_UNSET"}
    defs = build_definitions(write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(transport)]))
    t = tick(defs, pg_instance, SENSOR)
    assert t.runs == [] and "HUB_SFTP_KEY_UNSET" in t.skip_reason and "siras_abc_unified" in t.skip_reason


@pytest.mark.parametrize("held", ["unauthorized key", "damaged key"])
def test_a_planted_key_never_reaches_a_skip_reason_or_log(tmp_path, sshd, sftp_dir, pg_url, monkeypatch, pg_instance,
                                                          caplog, held):
    monkeypatch.setenv("HUB_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    key_text = keygen(tmp_path / "planted").read_text()
    if held == "damaged key":
        key_text = key_text.replace("\n", "\nZZ", 3)
    monkeypatch.setenv("HUB_TEST_PLANTED_KEY", key_text)
    transport = {"kind": "sftp", "host": sshd.host, "port": sshd.port, "username": sshd.username,
                 "remote_dir": str(sftp_dir), "host_key": sshd.host_key_line, "private_key_env": "HUB_TEST_PLANTED_KEY"}
    defs = build_definitions(write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [siras_integration(transport)]))
    upload(sftp_dir, "1964212_demographics.csv", b"SSID\n")
    t = tick(defs, pg_instance, SENSOR)
    assert t.runs == [] and "siras_abc_unified" in t.skip_reason and "HUB_TEST_PLANTED_KEY" in t.skip_reason
    shown = t.skip_reason + caplog.text + str(t.result)
    body = [line for line in key_text.splitlines() if len(line) >= 8 and "PRIVATE KEY" not in line]
    assert body and not any(line in shown for line in body)


def test_hostile_remote_names_are_rejected_and_the_valid_file_of_the_tick_is_applied(sftp_hub, pg_instance, sftp_dir,
                                                                                     caplog):
    data = synthetic_students(7, "1964212").assign(Designation="SPED").to_csv(index=False).encode()
    upload(sftp_dir, "1964212_demographics.csv", data)
    upload(sftp_dir, "old\\1964212_demographics.csv", data)  # a Windows path written as one name
    upload(sftp_dir, "1964212\n_demographics.csv", data)
    with open(os.fsencode(sftp_dir) + b"/1964212\xff_demographics.csv", "wb") as fh:  # not UTF-8 (a Latin-1 client)
        fh.write(data)
    t = settle(sftp_hub, pg_instance)
    assert [r.success for r in t.runs] == [True]
    assert count("SELECT count(*) FROM core.students") == 7
    assert count("SELECT count(*) FROM ops.deliveries WHERE status = 'rejected' AND reason LIKE 'not received: %'") == 3
    assert count("SELECT count(*) FROM ops.deliveries WHERE file_name = '1964212\\xff_demographics.csv' "
                 "AND reason = 'not received: its name is not valid UTF-8'") == 1
    assert not any("\n" in r.getMessage() for r in caplog.records if r.name.startswith("hub"))
    again = tick(sftp_hub, pg_instance, SENSOR, t.cursor)
    assert again.runs == [] and again.reason("siras_abc_unified") == "4 already received"


def sftp_defs(tmp_path: Path, sshd: Sshd, sftp_dir: Path, sftp_env: str, **extra: object) -> dg.Definitions:
    transport = {"kind": "sftp", "host": sshd.host, "port": sshd.port, "username": sshd.username,
                 "remote_dir": str(sftp_dir), "host_key": sshd.host_key_line, "private_key_env": sftp_env}
    return build_definitions(write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                                            [siras_integration(transport, quiet_period_seconds=1, **extra)]))


@pytest.mark.parametrize("rehash_max_bytes", [None, 0])
def test_a_correction_that_keeps_size_and_mtime_is_taken_up_to_rehash_max_bytes(
        tmp_path, sshd, sftp_dir, sftp_env, pg_url, monkeypatch, pg_instance, rehash_max_bytes):
    monkeypatch.setenv("HUB_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    defs = sftp_defs(tmp_path, sshd, sftp_dir, sftp_env,
                     **({} if rehash_max_bytes is None else {"rehash_max_bytes": rehash_max_bytes}))
    frame = synthetic_students(10, "1964212").assign(Designation="SPED")
    path = upload(sftp_dir, "1964212_demographics.csv", frame.to_csv(index=False).encode())
    t = settle(defs, pg_instance)
    assert [r.success for r in t.runs] == [True]
    stamp = path.stat()
    frame.loc[0, "GRADE"] = "12" if frame.loc[0, "GRADE"] != "12" else "11"  # same size
    path.write_bytes(frame.to_csv(index=False).encode())
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # WinSCP's default: the timestamp is kept
    assert path.stat().st_size == stamp.st_size
    again = settle(defs, pg_instance, t.cursor)
    if rehash_max_bytes == 0:  # not hashed again: the documented trade-off of turning it off
        assert again.runs == [] and again.reason("siras_abc_unified") == "1 already received"
        return
    assert [r.success for r in again.runs] == [True]
    assert count("SELECT count(*) FROM ops.field_audit WHERE action = 'update'") == 1
    assert count("SELECT count(*) FROM ops.deliveries WHERE status = 'applied'") == 2
    assert tick(defs, pg_instance, SENSOR, again.cursor).reason("siras_abc_unified") == "1 already received"
