"""Transport interface for remote deliveries, plus the hub-hosted drop-folder transport."""
from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ContextManager


@dataclass(frozen=True)
class RemoteFile:
    """A file offered by a transport; `path` is posix and relative to the transport's root."""

    path: str
    size: int
    mtime: float
    rewritten: str = ""  # content hash, when the bytes changed under an unchanged name, size and mtime

    @property
    def name(self) -> str:
        """The file's basename."""
        return posixpath.basename(self.path)


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` on one line as it can be shown and stored: backslashes, control characters and bytes that were not
    UTF-8 (decoded with surrogateescape) written as escapes; plain names come back unchanged."""
    return "".join(c if c.isprintable() and c != "\\" else _ESCAPES.get(c) or _code(ord(c)) for c in text)


def _code(n: int) -> str:
    if 0xDC80 <= n <= 0xDCFF:  # an undecodable byte, as os.fsdecode keeps it
        n -= 0xDC00
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


class TransportError(Exception):
    """A failure a person can act on. Message names the integration id and what to do; never file contents."""


class Transport(ABC):
    """Lists and opens the files of one integration; use inside a `with` block."""

    integration_id: str
    local = False  # reading a file again costs no transfer (the hub re-hashes every known file of a local transport)

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @abstractmethod
    def list_files(self, patterns: Sequence[str]) -> list[RemoteFile]:
        """Files under the root (recursive) whose basename matches any fnmatch pattern, case-insensitively;
        sorted by path."""

    @abstractmethod
    def open(self, remote: RemoteFile) -> ContextManager[BinaryIO]:
        """Open a remote file for streaming reads."""

    @staticmethod
    def _select(files: Iterable[RemoteFile], patterns: Sequence[str]) -> list[RemoteFile]:
        """Keep files whose basename matches a pattern (case-insensitive), sorted by path."""
        lowered = [p.lower() for p in patterns]
        chosen = (f for f in files if any(fnmatch.fnmatchcase(f.name.lower(), p) for p in lowered))
        return sorted(chosen, key=lambda f: f.path)

    def _relative(self, remote: RemoteFile) -> str:
        """The remote path, refused if it is absolute or climbs out of the root."""
        parts = remote.path.split("/")
        if remote.path.startswith("/") or ".." in parts or not remote.path:
            raise TransportError(
                f"Refusing path {remote.path!r} for integration {self.integration_id}: "
                "paths must be relative to the integration's root and stay inside it."
            )
        return remote.path


class FolderTransport(Transport):
    """Deliveries dropped into a folder the hub hosts (symlinks are skipped)."""

    local = True

    def __init__(self, integration_id: str, root: Path) -> None:
        self.integration_id = integration_id
        self.root = Path(root)

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise TransportError(
                f"Drop folder for integration {self.integration_id} not found: {self.root}. "
                "Create it or fix the folder path in the registry."
            )

    def list_files(self, patterns: Sequence[str]) -> list[RemoteFile]:
        self._check_root()
        return self._select(self._walk(), patterns)

    def _walk(self) -> Iterable[RemoteFile]:
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                full = Path(dirpath, name)
                info = full.lstat()
                if stat.S_ISREG(info.st_mode):
                    rel = full.relative_to(self.root).as_posix()
                    yield RemoteFile(rel, info.st_size, info.st_mtime)

    def open(self, remote: RemoteFile) -> ContextManager[BinaryIO]:
        path = self.root / self._relative(remote)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise TransportError(
                f"File {remote.path} of integration {self.integration_id} is gone from {self.root}; "
                "it was removed after listing. Wait for the next delivery or ask the sender to re-upload."
            ) from None
