"""The hub's archive of received files: content-addressed, written atomically, streamed in constant memory.

It lives on local disk (a path, the default) or in S3-compatible object storage (`s3://bucket/prefix`, through
fsspec's s3fs: every worker can read it). A file in the archive is named by its location, a string: a local path or
an `s3://` URL. Endpoint and keys come from the standard AWS variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY), read by botocore itself: the hub never holds or prints them. Files bound for object storage are
first written to a private temp file on local disk (the name of an archived file holds its sha256), then uploaded.
"""
from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import dagster as dg
import fsspec

from resources.transport import RemoteFile, Transport, TransportError, printable

CHUNK = 1024 * 1024
_PREFIX = 18  # "<sha256[:16]>__" before the name of an archived file
MAX_NAME_BYTES = 255 - _PREFIX  # most file systems keep names of at most 255 bytes


def name_problem(path: str) -> str | None:
    """Why the archive cannot keep a file with this (posix, relative) path, or None."""
    name = path.rsplit("/", 1)[-1]
    if "\x00" in path:
        return "its name contains a NUL character"
    if "\\" in path:
        return "its name contains a backslash, which the hub cannot keep in a file name"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in path):
        return "its name is not valid UTF-8"
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in path):
        return "its name contains a line break or another control character"
    size = len(name.encode())
    if size > MAX_NAME_BYTES:
        return f"its name is {size} bytes long; the hub keeps names of at most {MAX_NAME_BYTES} bytes"
    return None


@dataclass(frozen=True)
class ArchivedFile:
    """A received file as stored in the archive."""

    path: str  # its location: a local path or an s3:// URL
    sha256: str
    size: int


class Archive:
    """Files under <root>/<integration_id>/<day>/<sha256[:16]>__<basename>; `root` is a local directory (partial
    writes live in <root>/.tmp) or an object-storage URL such as s3://bucket/prefix."""

    def __init__(self, root: str | Path) -> None:
        self.url = str(root).removeprefix("file://").rstrip("/") or "/"
        self.remote = is_remote(self.url)
        if self.remote and "@" in urlsplit(self.url).netloc:  # never echo the URL: it may hold a key
            raise ValueError("HUB_ARCHIVE_URL must not contain keys: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if self.remote:
            scheme = urlsplit(self.url).scheme
            try:
                fsspec.get_filesystem_class(scheme)
            except (ValueError, ImportError) as exc:
                raise ValueError(f"HUB_ARCHIVE_URL: no storage for the scheme {scheme!r} (a local path or "
                                 "s3://bucket/prefix)") from exc
        self.root = Path(tempfile.gettempdir()) if self.remote else Path(self.url)  # where partial writes go

    def path_for(self, integration_id: str, day: str, sha256: str, name: str) -> str:
        """Where a file with these bytes and this name, received that day, is archived."""
        parts = (_component(integration_id, "integration_id"), _component(day, "day"),
                 _component(f"{sha256[:16]}__{name}", "file name"))
        return "/".join((self.url, *parts)) if self.remote else str(self.root.joinpath(*parts))

    def new_tmp(self) -> Path:
        """A fresh local path for a partial write (created 0600 by the caller, under the hub's umask)."""
        if self.remote:
            return self.root / f"hub-archive-{uuid.uuid4().hex}"
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return tmp_dir / uuid.uuid4().hex

    def place(self, tmp: Path, final: str) -> None:
        """Move a finished temp file to `final` (kept as is when those bytes are already there); the temp file is
        gone afterwards in any case."""
        try:
            if exists(final):
                return
            if self.remote:
                fs, path = _fs(final)
                with _storage():
                    fs.put_file(str(tmp), path)
            else:
                Path(final).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
                _fsync_dir(Path(final).parent)
        finally:
            tmp.unlink(missing_ok=True)

    def receive(self, transport: Transport, remote: RemoteFile, integration_id: str, day: str) -> ArchivedFile:
        """Stream remote bytes into a temp file (<root>/.tmp/<uuid>) while hashing (sha256, 1 MiB chunks, constant
        memory), fsync, then os.replace atomically (or upload) to
        <root>/<integration_id>/<day>/<sha256[:16]>__<basename>.
        If that final path already exists (same bytes), drop the temp file and return it.
        The temp file is removed on any error. Raises TransportError if the byte count differs from
        `remote.size` (the file changed after it was listed)."""
        self.path_for(integration_id, day, "", remote.name)  # validate names before any transfer
        tmp = self.new_tmp()
        try:
            digest, size = _copy(transport, remote, tmp)
            if size != remote.size:
                raise TransportError(
                    f"File {remote.path} of integration {integration_id} changed while it was received "
                    f"(listed {remote.size} bytes, read {size}); it is still being written or was replaced. "
                    "It will be received again once it is stable."
                )
            final = self.path_for(integration_id, day, digest, remote.name)
            self.place(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return ArchivedFile(final, digest, size)


def _copy(transport: Transport, remote: RemoteFile, target: Path) -> tuple[str, int]:
    """Copy the remote file to `target` chunk by chunk; return (sha256 hex, size)."""
    digest, size = hashlib.sha256(), 0
    with transport.open(remote) as src, open(target, "xb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable by syncing its directory."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _component(value: str, label: str) -> str:
    """A single safe path component, or ValueError."""
    if not value or value in {".", ".."} or "/" in value or "\\" in value or "\x00" in value:
        raise ValueError(f"archive {label} {printable(value)} must be a single path component")
    return value


def is_remote(location: str) -> bool:
    """Whether a location names object storage (a URL) rather than a local path."""
    return "://" in location


class StorageError(OSError):
    """The archive's object storage failed (unreachable, timed out, answered with an error): an infrastructure fault,
    reported and retried like a full disk."""


@contextmanager
def _storage() -> Iterator[None]:
    """Around one call to object storage: its client's own errors become a StorageError naming their kind (never the
    keys); refusals the backend already maps (no such object, access denied) stay as they are."""
    try:
        yield
    except OSError:
        raise
    except Exception as exc:
        raise StorageError(errno.EIO, f"the archive's object storage failed ({type(exc).__name__})") from exc


def _fs(location: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The file system of a remote location and the path inside it; listings are never cached (other processes
    write the same archive)."""
    with _storage():
        return fsspec.core.url_to_fs(location, use_listings_cache=False)


def exists(location: str) -> bool:
    if is_remote(location):
        fs, path = _fs(location)
        with _storage():
            return fs.exists(path)
    return Path(location).exists()


def remove(location: str) -> None:
    """Delete an archived file or report (gone already: nothing to do); an emptied local day and integration
    folder go with it."""
    if is_remote(location):
        fs, path = _fs(location)
        with _storage():
            if fs.exists(path):
                fs.rm_file(path)
        return
    Path(location).unlink(missing_ok=True)
    for folder in list(Path(location).parents)[:2]:
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            break


@contextmanager
def local_copy(location: str) -> Iterator[Path]:
    """A local path with the bytes of an archived file: the file itself on local disk, else a private temp copy of the
    same name (messages name the file), downloaded in chunks and removed afterwards."""
    if not is_remote(location):
        yield Path(location)
        return
    fs, path = _fs(location)
    folder = Path(tempfile.mkdtemp(prefix="hub-archive-"))  # 0700
    tmp = folder / path.rsplit("/", 1)[-1]
    try:
        with _storage():
            fs.get_file(path, str(tmp))
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
        folder.rmdir()


@contextmanager
def write_file(location: str) -> Iterator[IO[bytes]]:
    """Write (or rewrite) a report beside an archived file, e.g. an import log: readers see the old or the whole new
    file, never a part (a temp file moved in place, or one upload)."""
    local = not is_remote(location)
    tmp = Path(f"{location}.{uuid.uuid4().hex[:8]}.tmp") if local else (
        Path(tempfile.gettempdir()) / f"hub-report-{uuid.uuid4().hex}")
    try:
        with tmp.open("xb") as out:
            yield out
        if local:
            tmp.replace(location)
        else:
            fs, path = _fs(location)
            with _storage():
                fs.put_file(str(tmp), path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def open_text(location: str) -> Iterator[IO[str]]:
    """Read an archived text file as a stream."""
    if not is_remote(location):
        with open(location, encoding="utf-8") as f:
            yield f
        return
    fs, path = _fs(location)
    with _storage():
        f = fs.open(path, "rt", encoding="utf-8")
    with f:
        yield f


def beside(prefix: str) -> list[str]:
    """The locations in the same folder whose names start like `prefix` (reports written beside a file), sorted."""
    if not is_remote(prefix):
        folder, start = os.path.split(prefix)
        try:
            return sorted(os.path.join(folder, n) for n in os.listdir(folder or ".") if n.startswith(start))
        except FileNotFoundError:
            return []
    fs, path = _fs(prefix)
    folder, start = path.rsplit("/", 1)
    try:
        with _storage():
            names = fs.ls(folder, detail=False)
    except FileNotFoundError:
        return []
    return sorted(fs.unstrip_protocol(n) for n in names if n.rsplit("/", 1)[-1].startswith(start))


class ArchiveResource(dg.ConfigurableResource):
    """Where received files are kept (HUB_ARCHIVE_URL: a local path or s3://bucket/prefix); re-imports read from
    here, never from the SFTP."""

    root: str

    def get(self) -> Archive:
        return Archive(self.root)
