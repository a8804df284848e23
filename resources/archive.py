"""The hub's archive of received files: content-addressed, written atomically, streamed in constant memory."""
from __future__ import annotations

import hashlib
import os
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

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

    path: Path
    sha256: str
    size: int


class Archive:
    """Files under <root>/<integration_id>/<day>/<sha256[:16]>__<basename>; partial writes live in <root>/.tmp."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, integration_id: str, day: str, sha256: str, name: str) -> Path:
        """Where a file with these bytes and this name, received that day, is archived."""
        parts = (_component(integration_id, "integration_id"), _component(day, "day"),
                 _component(f"{sha256[:16]}__{name}", "file name"))
        return self.root.joinpath(*parts)

    def receive(self, transport: Transport, remote: RemoteFile, integration_id: str, day: str) -> ArchivedFile:
        """Stream remote bytes into <root>/.tmp/<uuid> while hashing (sha256, 1 MiB chunks, constant memory),
        fsync, then os.replace atomically to <root>/<integration_id>/<day>/<sha256[:16]>__<basename>.
        If that final path already exists (same bytes), drop the temp file and return it.
        The temp file is removed on any error. Raises TransportError if the byte count differs from
        `remote.size` (the file changed after it was listed)."""
        self.path_for(integration_id, day, "", remote.name)  # validate names before any transfer
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / uuid.uuid4().hex
        try:
            digest, size = _copy(transport, remote, tmp)
            if size != remote.size:
                raise TransportError(
                    f"File {remote.path} of integration {integration_id} changed while it was received "
                    f"(listed {remote.size} bytes, read {size}); it is still being written or was replaced. "
                    "It will be received again once it is stable."
                )
            final = self.path_for(integration_id, day, digest, remote.name)
            if final.exists():
                tmp.unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
                _fsync_dir(final.parent)
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


class ArchiveResource(dg.ConfigurableResource):
    """Where received files are kept (HUB_ARCHIVE_DIR); re-imports read from here, never from the SFTP."""

    root: str

    def get(self) -> Archive:
        return Archive(Path(self.root))
