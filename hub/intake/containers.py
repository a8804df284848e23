"""Archives that carry a delivery's files (e.g. one zip per client): the archive is kept, each matching member is
extracted beside it and becomes a file of the delivery."""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from resources.archive import CHUNK, Archive


# what reading a damaged, encrypted or unsupported member raises (writing errors are OSErrors and are not among them)
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


class ContainerError(ValueError):
    """The container cannot be read; the message names the file."""


@dataclass(frozen=True)
class Member:
    name: str  # base name inside the container
    inner_path: str  # path inside the container
    path: str  # location of the extracted copy in the archive
    sha256: str
    size: int


def unpack(archive: Archive, container: Path, integration_id: str, day: str,
           wanted: Callable[[str], bool]) -> Iterator[Member]:
    """Extract the members whose base name `wanted` accepts (streamed, hashed, atomically placed). A container that
    cannot be read is a ContainerError; failing to write (e.g. a full archive disk) raises OSError, to be retried."""
    try:
        zf = zipfile.ZipFile(container)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ContainerError(f"{container.name}: not a readable zip archive ({exc})") from exc
    with zf:
        try:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                name = PurePosixPath(info.filename).name
                if info.is_dir() or not name or not wanted(name):
                    continue
                yield _extract(archive, zf, info, name, integration_id, day)
        except _UNREADABLE as exc:
            raise ContainerError(f"{container.name}: not a readable zip archive ({type(exc).__name__}: {exc})") from exc


def _extract(archive: Archive, zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, integration_id: str,
             day: str) -> Member:
    tmp = archive.new_tmp()
    digest = hashlib.sha256()
    try:
        with zf.open(info) as src, tmp.open("wb") as out:
            while block := src.read(CHUNK):
                digest.update(block)
                out.write(block)
        final = archive.path_for(integration_id, day, digest.hexdigest(), name)
        archive.place(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return Member(name, info.filename, final, digest.hexdigest(), info.file_size)


def other_members(container: Path, wanted: Callable[[str], bool]) -> list[tuple[str, str, int]]:
    """The files `wanted` does not accept, as (base name, path inside, size), from the zip's directory (nothing is
    extracted); empty when the container is unreadable (unpack reports that)."""
    try:
        with zipfile.ZipFile(container) as zf:
            return sorted((PurePosixPath(i.filename).name, i.filename, i.file_size) for i in zf.infolist()
                          if not i.is_dir() and PurePosixPath(i.filename).name
                          and not wanted(PurePosixPath(i.filename).name))
    except (zipfile.BadZipFile, OSError):
        return []
