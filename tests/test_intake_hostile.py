"""One sensor tick (hub.intake.tick.scan) against hostile names, a full archive disk and a racing tick, on both
warehouses: the files the hub can take proceed, the others end `rejected` with the reason, a fault is a skip reason
that names the integration and the cause."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest
import sqlalchemy as sa

from feeds.siras import FEED
from hub.intake.tick import scan
from hub.registry.loading import parse_registry
from hub.store.schema import ensure_tables
from resources.archive import Archive
from resources.transport import FolderTransport, RemoteFile
from resources.warehouse import Warehouse
from tests.conftest import CA_DISTRICTS, need, siras_integration
from tests.harness import ledger, scan_folder

GOOD = "1964212_demographics.csv"
CONTENT = b"SSID,LastName\n1234567890,X\n"


class Listing(FolderTransport):
    """A drop folder whose listing also offers names no Linux file can have (a NUL, a name over 255 bytes), as a
    Windows SFTP server can; opening them fails like a vanished file would."""

    def __init__(self, integration_id: str, root: Path, extra: Sequence[str]) -> None:
        super().__init__(integration_id, root)
        self.extra = [RemoteFile(n, len(CONTENT), time.time() - 3600) for n in extra]

    def list_files(self, patterns: Sequence[str]) -> list[RemoteFile]:
        return super().list_files(patterns) + self.extra


@pytest.fixture
def hub(tmp_path: Path, landing: Path, warehouse_url: str):
    wh = Warehouse(warehouse_url)
    ensure_tables(wh, [FEED])
    reg = parse_registry({"districts": CA_DISTRICTS,
                          "integrations": [siras_integration({"kind": "folder", "path": str(landing)})]})
    return reg, reg.integrations[0], landing, wh, Archive(tmp_path / "archive")


def tick(hub, transport=None, archive: Archive | None = None, now: float | None = None):  # noqa: ANN001, ANN201
    reg, integration, landing, wh, default_archive = hub
    return scan_folder(reg, integration, landing, wh, archive or default_archive, now or time.time(),
                       transport=transport)


def drop(folder: Path, name: str, data: bytes = CONTENT) -> None:
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (time.time() - 3600, time.time() - 3600))


def test_hostile_names_are_rejected_once_and_the_other_files_proceed(hub, caplog):
    _, integration, landing, wh, _ = hub
    drop(landing, GOOD)
    drop(landing, "back\\slash_demographics.csv")
    drop(landing, "line\nbreak_demographics.csv")
    drop(landing, os.fsdecode(b"latin\xe9_demographics.csv"))  # not UTF-8
    long_name = "é" * 120 + "_demographics.csv"  # 257 bytes in UTF-8
    transport = Listing(integration.id, landing, ["nul\x00_demographics.csv", long_name])
    caplog.set_level(logging.INFO)
    first = tick(hub, transport)
    assert first.error is None
    assert [(r.day, sorted(r.file_types), len(r.delivery_ids)) for r in first.runs] == [
        (first.runs[0].day, ["demographics"], 1)]
    rows = ledger(wh)
    assert (GOOD, "queued", None) in rows
    rejected = {name: reason for name, status, reason in rows if status == "rejected"}
    assert rejected == {
        "back\\\\slash_demographics.csv": "not received: its name contains a backslash, which the hub cannot keep in "
                                          "a file name",
        "line\\nbreak_demographics.csv": "not received: its name contains a line break or another control character",
        "nul\\x00_demographics.csv": "not received: its name contains a NUL character",
        "latin\\xe9_demographics.csv": "not received: its name is not valid UTF-8",
        long_name: "not received: its name is 257 bytes long; the hub keeps names of at most 237 bytes"}
    assert first.skip_reason == "1 new deliveries; 5 rejected: a file name the hub cannot keep"
    with wh.begin() as conn:
        logged = conn.execute(sa.text("SELECT count(*) FROM ops.ingest_errors WHERE gate = 'file name'")).scalar()
    assert logged == 5
    assert all("\n" not in r.getMessage() and "\x00" not in r.getMessage() for r in caplog.records)
    assert any("line\\nbreak_demographics.csv" in r.getMessage() for r in caplog.records)

    again = tick(hub, transport)  # recorded once: the next tick knows them all
    assert again.runs == [] and again.error is None and again.skip_reason == "6 already received"
    assert ledger(wh) == rows


def test_a_full_archive_disk_is_a_skip_reason_and_the_file_is_taken_once_there_is_room(hub, tmp_path):
    _, integration, landing, wh, _ = hub
    big = "1964212_demographics_504.csv"
    with tmpfs(tmp_path / "small", "64k") as small:
        drop(landing, GOOD)  # listed first: received before the disk fills
        drop(landing, big, CONTENT + b"9" * 200_000)
        full = tick(hub, archive=Archive(small))
        assert full.error is not None
        assert "siras_abc_unified" in full.error and "No space left on device (ENOSPC)" in full.error
        assert [r.file_types for r in full.runs] == [{"demographics"}]  # the file received before still runs
        assert ledger(wh) == [(GOOD, "queued", None)] and list((small / ".tmp").iterdir()) == []  # no partial file
    later = tick(hub)
    assert later.error is None and [r.file_types for r in later.runs] == [{"demographics_504"}]
    assert ledger(wh) == [(GOOD, "queued", None), (big, "queued", None)]


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at `path` (needs root: CI runs as root; elsewhere the test skips)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        need(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


class Racing(FolderTransport):
    """A drop folder whose first transfer lets another tick run to completion first: two ticks racing on one file."""

    def __init__(self, integration_id: str, root: Path, other_tick) -> None:  # noqa: ANN001
        super().__init__(integration_id, root)
        self.other_tick, self.other = other_tick, None

    def open(self, remote: RemoteFile) -> BinaryIO:  # type: ignore[override]
        if self.other is None:
            self.other = self.other_tick()
        return super().open(remote)


def test_two_ticks_racing_on_one_file_record_it_once_and_start_one_run(hub):
    _, integration, landing, wh, _ = hub
    drop(landing, GOOD)
    racing = Racing(integration.id, landing, lambda: tick(hub))
    slow = tick(hub, racing)
    fast = racing.other
    assert fast.error is None and len(fast.runs) == 1
    assert slow.error is None and slow.runs == [] and "1 already received (by a concurrent tick)" in slow.skip_reason
    assert ledger(wh) == [(GOOD, "queued", None)]
    with wh.begin() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ops.delivery_events")).scalar() == 1


def rewrite(folder: Path, name: str, data: bytes) -> None:
    """Overwrite a file and put its modification time back, as WinSCP's default upload does."""
    path = folder / name
    before = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_new_bytes_under_the_same_name_size_and_mtime_are_a_new_delivery(hub):
    _, _, landing, wh, _ = hub
    drop(landing, GOOD)
    first = tick(hub)
    assert len(first.runs) == 1
    rewrite(landing, GOOD, CONTENT)  # the same bytes again: nothing to do
    assert tick(hub).skip_reason == "1 already received"
    corrected = CONTENT.replace(b"X", b"Y")
    rewrite(landing, GOOD, corrected)
    second = tick(hub)
    assert [r.day for r in second.runs] == [first.runs[0].day]
    assert second.runs[0].delivery_ids != first.runs[0].delivery_ids
    with wh.begin() as conn:
        shas = [r[0] for r in conn.execute(sa.text("SELECT sha256 FROM ops.deliveries ORDER BY discovered_at"))]
    assert shas == [hashlib.sha256(CONTENT).hexdigest(), hashlib.sha256(corrected).hexdigest()]
    assert tick(hub).skip_reason == "1 already received"  # the correction is recorded once


def test_a_warehouse_that_is_down_is_a_skip_reason_naming_the_integration(tmp_path, monkeypatch):
    import dagster as dg

    from dagster_project.definitions import build_definitions
    from tests.conftest import write_registry
    from tests.harness import tick as sensor_tick

    landing = tmp_path / "landing"
    landing.mkdir()
    drop(landing, GOOD)
    monkeypatch.setenv("HUB_ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setenv("HUB_WAREHOUSE_URL", "postgresql+psycopg://postgres@127.0.0.1:9/hub")  # nothing listens
    defs = build_definitions(write_registry(tmp_path / "registry.yaml", CA_DISTRICTS,
                                            [siras_integration({"kind": "folder", "path": str(landing)})]))
    t = sensor_tick(defs, dg.DagsterInstance.ephemeral(), "siras__deliveries")
    assert t.runs == [] and t.cursor is None
    assert "siras_abc_unified" in t.skip_reason and "OperationalError" in t.skip_reason


def test_a_rewritten_zip_with_the_same_size_and_mtime_delivers_its_new_members(tmp_path, warehouse_url):
    import zipfile

    from feeds.renaissance_star import FEED as STAR
    from tests.test_archive_limits import NJ, ZIP, star_integration

    landing = tmp_path / "landing"
    landing.mkdir()

    def stored(score: bytes) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # stored: the same size whatever the digits
            zf.writestr(zipfile.ZipInfo("SM.csv", (2026, 1, 1, 0, 0, 0)), b'"StudentStateID","Score"\n"1",' + score)
        return buf.getvalue()

    wh = Warehouse(warehouse_url)
    ensure_tables(wh, [STAR])
    reg = parse_registry({"districts": NJ, "integrations": [star_integration(landing, None)]})
    integration = reg.integrations[0]

    def star_tick():  # noqa: ANN202
        return scan(registry=reg, feed=STAR, integration=integration,
                    transport=FolderTransport(integration.id, landing), archive=Archive(tmp_path / "archive"),
                    warehouse=wh, cursor={}, now=time.time())

    drop(landing, ZIP, stored(b"500"))
    assert len(star_tick().runs) == 1
    rewrite(landing, ZIP, stored(b"501"))
    again = star_tick()
    assert len(again.runs) == 1 and again.runs[0].file_types == {"sm"}
    with wh.begin() as conn:
        rows = conn.execute(sa.text("SELECT file_name, status FROM ops.deliveries ORDER BY discovered_at")).all()
    assert [tuple(r) for r in rows] == [(ZIP, "unpacked"), ("SM.csv", "queued"), (ZIP, "unpacked"),
                                        ("SM.csv", "queued")]
    assert star_tick().skip_reason == "1 already received"


def test_a_full_archive_disk_while_unpacking_a_zip_is_retried_not_rejected(tmp_path, warehouse_url):
    import zipfile

    from feeds.renaissance_star import FEED as STAR
    from tests.test_archive_limits import NJ, ZIP, star_integration

    landing = tmp_path / "landing"
    landing.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("SM.csv", b'"StudentStateID","Score"\n' + b'"1","500"\n' * 30_000)  # ~300 KB inflated
    drop(landing, ZIP, buf.getvalue())
    wh = Warehouse(warehouse_url)
    ensure_tables(wh, [STAR])
    reg = parse_registry({"districts": NJ, "integrations": [star_integration(landing, {"max_ratio": 100_000})]})
    integration = reg.integrations[0]

    def star_tick(archive: Archive):  # noqa: ANN202
        return scan(registry=reg, feed=STAR, integration=integration,
                    transport=FolderTransport(integration.id, landing), archive=archive, warehouse=wh, cursor={},
                    now=time.time())

    with tmpfs(tmp_path / "small", "128k") as small:
        full = star_tick(Archive(small))
        assert full.runs == [] and "No space left on device (ENOSPC)" in (full.error or "")
        assert ledger(wh) == []  # not rejected: an infrastructure fault is retried
    later = star_tick(Archive(tmp_path / "archive"))
    assert later.error is None and len(later.runs) == 1
    assert [(n, s) for n, s, _ in ledger(wh)] == [(ZIP, "unpacked"), ("SM.csv", "queued")]
