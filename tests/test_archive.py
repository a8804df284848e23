"""Archive.receive: content hashing, atomic placement, dedup, cleanup on failure, constant memory."""
from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest

from resources.archive import Archive
from resources.sftp import SftpTransport
from resources.transport import FolderTransport, RemoteFile, Transport, TransportError
from tests.sshd import Sshd

DAY = "2026-03-02"


def leftovers(archive: Archive) -> list[Path]:
    tmp = archive.root / ".tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def archived(archive: Archive) -> list[Path]:
    return [p for p in archive.root.rglob("*") if p.is_file() and ".tmp" not in p.parts]


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "archive")


def offer(drop: Path, name: str, data: bytes) -> tuple[FolderTransport, RemoteFile]:
    (drop / name).write_bytes(data)
    transport = FolderTransport("siras-abc", drop)
    (remote,) = [f for f in transport.list_files(["*"]) if f.path == name]
    return transport, remote


def test_receive_hashes_and_places_the_file(landing: Path, archive: Archive) -> None:
    data = random.Random(1).randbytes(3 * 1024 * 1024 + 17)
    transport, remote = offer(landing, "Roster.csv", data)
    result = archive.receive(transport, remote, "siras-abc", DAY)
    digest = hashlib.sha256(data).hexdigest()
    assert result.sha256 == digest and result.size == len(data)
    assert result.path == archive.path_for("siras-abc", DAY, digest, "Roster.csv")
    assert result.path == str(archive.root / "siras-abc" / DAY / f"{digest[:16]}__Roster.csv")
    assert Path(result.path).read_bytes() == data
    assert leftovers(archive) == []


def test_same_bytes_twice_give_the_same_path(landing: Path, archive: Archive) -> None:
    transport, remote = offer(landing, "a.csv", b"id\n1\n")
    first = archive.receive(transport, remote, "siras-abc", DAY)
    second = archive.receive(transport, remote, "siras-abc", DAY)
    assert first == second
    assert archived(archive) == [Path(first.path)]
    assert leftovers(archive) == []
    transport, remote = offer(landing, "a.csv", b"id\n2\n")
    changed = archive.receive(transport, remote, "siras-abc", DAY)
    assert changed.path != first.path and Path(changed.path).read_bytes() == b"id\n2\n"
    assert Path(first.path).read_bytes() == b"id\n1\n"


class BrokenStream(io.RawIOBase):
    """Yields two full chunks, then fails like a dropped connection."""

    def __init__(self) -> None:
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if self.reads > 2:
            raise ConnectionResetError("connection dropped")
        return b"x" * size


class FlakyTransport(Transport):
    """A transport whose file stream (or open itself) fails."""

    def __init__(self, fail_on_open: bool = False) -> None:
        self.integration_id = "siras-abc"
        self.fail_on_open = fail_on_open

    def list_files(self, patterns: Sequence[str]) -> list[RemoteFile]:
        return [RemoteFile("big.csv", 10 * 1024 * 1024, 0.0)]

    @contextmanager
    def open(self, remote: RemoteFile) -> Iterator[BinaryIO]:
        if self.fail_on_open:
            raise TransportError("file vanished for integration siras-abc")
        yield BrokenStream()  # type: ignore[misc]


@pytest.mark.parametrize("fail_on_open,error", [(False, ConnectionResetError), (True, TransportError)])
def test_failure_leaves_no_temp_or_partial_file(archive: Archive, fail_on_open: bool, error: type) -> None:
    transport = FlakyTransport(fail_on_open)
    (remote,) = transport.list_files(["*"])
    with pytest.raises(error):
        archive.receive(transport, remote, "siras-abc", DAY)
    assert (archive.root / ".tmp").is_dir()
    assert leftovers(archive) == []
    assert archived(archive) == []


@pytest.mark.parametrize("integration_id,day", [("../evil", DAY), ("siras-abc", ".."), ("a/b", DAY), ("", DAY)])
def test_unsafe_names_are_refused(landing: Path, archive: Archive, integration_id: str, day: str) -> None:
    transport, remote = offer(landing, "a.csv", b"1")
    with pytest.raises(ValueError, match="single path component"):
        archive.receive(transport, remote, integration_id, day)
    assert archived(archive) == [] and leftovers(archive) == []


def test_large_file_over_sftp_in_constant_memory(sshd: Sshd, sftp_env: str, sftp_dir: Path, archive: Archive) -> None:
    size, expected = 30 * 1024 * 1024, hashlib.sha256()
    rng = random.Random(7)
    with open(sftp_dir / "big.csv", "wb") as fh:
        for _ in range(size // (1024 * 1024)):
            chunk = rng.randbytes(1024 * 1024)
            expected.update(chunk)
            fh.write(chunk)
    transport = SftpTransport("siras-abc", sshd.host, sshd.port, sshd.username, str(sftp_dir),
                              host_key=sshd.host_key_line, private_key_env=sftp_env)
    tracemalloc.start()
    try:
        with transport:
            (remote,) = transport.list_files(["BIG.csv"])
            result = archive.receive(transport, remote, "siras-abc", DAY)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.sha256 == expected.hexdigest() and result.size == size
    assert peak < 12 * 1024 * 1024, f"peak Python memory {peak / 2**20:.1f} MiB for a 30 MiB file"
    assert leftovers(archive) == []


def test_file_changed_after_listing_is_refused(landing: Path, archive: Archive) -> None:
    transport, remote = offer(landing, "a.csv", b"id\n1\n")
    with open(landing / "a.csv", "ab") as fh:
        fh.write(b"2\n")
    with pytest.raises(TransportError, match=r"a\.csv of integration siras-abc changed"):
        archive.receive(transport, remote, "siras-abc", DAY)
    assert leftovers(archive) == [] and archived(archive) == []


def test_file_shrinking_during_sftp_transfer(sshd: Sshd, sftp_env: str, sftp_dir: Path, archive: Archive) -> None:
    (sftp_dir / "roster.csv").write_bytes(b"x" * (5 * 1024 * 1024))
    with SftpTransport("siras-abc", sshd.host, sshd.port, sshd.username, str(sftp_dir),
                       host_key=sshd.host_key_line, private_key_env=sftp_env) as transport:
        (remote,) = transport.list_files(["*.csv"])
        (sftp_dir / "roster.csv").write_bytes(b"x" * 1024)
        expected = r"roster.csv of integration siras-abc changed .*\(listed 5242880 bytes, read 1024\)"
        with pytest.raises(TransportError, match=expected):
            archive.receive(transport, remote, "siras-abc", DAY)
        assert leftovers(archive) == [] and archived(archive) == []
        (remote,) = transport.list_files(["*.csv"])
        assert archive.receive(transport, remote, "siras-abc", DAY).size == 1024

