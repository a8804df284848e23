"""A night's file split by its raw lines before any parsing (hub/load/changes.py): the lines identical to a line of
the last applied delivery are left out unread, the others are written to a file of their own that the reader
(hub/load/changed_reader.py) parses and staging validates, with the rows they have in the delivered file. Each
changed line is read where it starts (its byte offset is spilled with its digests), or, when more than one line in
DENSE changed, taken from a second pass.

Memory stays flat whatever the size of the file: the digests of its lines are spilled to PARTS files by the top bits
of their first digest, and each part is compared with the same part of the base's digests (a file sorted by the first
digest, read part after part); only the changed lines' rows stay in memory, one byte per line (its part) and one bit
per line of the base (whether a line of the file equals it: the base's rows of the unchanged lines are read from the
base again, not spilled).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from typing import BinaryIO
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hub.read.raw_lines import RawLines, digests
from resources.archive import local_copy

FIRST_ROW = 2  # the first data line's row (header = row 1); each record is one line here, so its line too
PARTS, SHIFT = 64, np.uint64(58)  # parts by the top 6 bits of a line's first digest
READ = 1 << 16  # rows of a digests file read at once (and changed lines written at once)
DENSE = 8  # more than one line in DENSE changed: the changed lines are taken from a second pass over the file


class Parts:
    """Rows of `width` uint64 columns spilled to one file per part, appended in the order given, read back a part at
    a time."""

    def __init__(self, folder: Path, name: str, width: int) -> None:
        self.folder, self.name, self.width = folder, name, width
        self._files: dict[int, BinaryIO] = {}

    def add(self, part: np.ndarray, rows: np.ndarray) -> None:
        """Append `rows` ((n, width) uint64), each to the file of its `part` (n, uint8)."""
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(PARTS + 1))
        data = np.ascontiguousarray(rows[order], np.uint64)
        for p in np.flatnonzero(np.diff(bounds)):
            if p not in self._files:
                self._files[p] = open(self._path(p), "ab")
            self._files[p].write(data[bounds[p]:bounds[p + 1]].data)

    def read(self, p: int) -> np.ndarray:
        self.flush()
        path = self._path(p)
        data = np.fromfile(path, np.uint64) if path.exists() else np.empty(0, np.uint64)
        return data.reshape(-1, self.width)

    def flush(self) -> None:
        for out in self._files.values():
            out.close()
        self._files.clear()

    def _path(self, p: int) -> Path:
        return self.folder / f"{self.name}.{p}"


def part_of(first: np.ndarray) -> np.ndarray:
    """The part of each line by its first digest."""
    return (first >> SHIFT).astype(np.uint8)


@dataclass
class Split:
    """One pass over a file: the digests of all its data lines, spilled by part; against a base, which are unchanged
    (a bit per base row: `same_parts`) and the rows of the changed ones."""

    raw: RawLines
    folder: tempfile.TemporaryDirectory = field(repr=False)  # 0700: spilled digests, the changed lines' file
    parts: np.ndarray = field(repr=False)  # (lines,) uint8: the part of each data line, by row - FIRST_ROW
    lines: Parts = field(repr=False)  # (first digest, second digest, row, byte offset) of every data line
    staged: Parts = field(repr=False)  # (row, key hash) of the rows staged (hub/load/changes.py keeps them)
    matched: list[np.ndarray] | None = field(default=None, repr=False)  # per part, packed: base rows equal to a line
    unchanged: int = 0  # lines equal to a line of the base
    twice: bool = False  # two lines equal to one line of the base
    changed: np.ndarray | None = None  # rows of the changed lines, in file order; None: all rows
    starts: np.ndarray | None = field(default=None, repr=False)  # where each changed line starts in the file
    _base: tuple[Path, int, bytes] | None = field(default=None, repr=False)  # the base compared: path, rows, sha256
    _open: ExitStack = field(default_factory=ExitStack, repr=False)  # the base's local copy, kept until close

    @property
    def path(self) -> Path:
        return Path(self.folder.name) / "changed.csv"

    def close(self) -> None:
        for spilled in (self.lines, self.staged):
            spilled.flush()
        self._open.close()
        self.folder.cleanup()

    def compare(self, base: str, rows: int, sha256: bytes) -> bool:
        """Compare every line with the base's digests at `base` ((rows, 3) uint64 sorted by the first column: line
        digests and key hash), part by part; False (nothing kept) when that file is missing or not what
        ops.row_hashes recorded."""
        matched, changed = [], []
        try:
            path = self._open.enter_context(local_copy(base))
            for p, previous in enumerate(_verified_parts(path, rows, sha256)):
                lines = self.lines.read(p)
                at = find(previous, np.ascontiguousarray(previous[:, 0]), lines[:, :2])
                hit = at >= 0
                hits = int(hit.sum())
                same = np.zeros(len(previous), bool)
                same[at[hit]] = True
                self.twice = self.twice or int(same.sum()) < hits  # two lines equal to one base row
                matched.append(np.packbits(same))
                self.unchanged += hits
                changed.append(lines[~hit, 2:4])
        except (OSError, ValueError):  # missing, or not whole rows, or not the recorded rows
            self._open.close()
            self.unchanged, self.twice = 0, False
            return False
        self.matched, self._base = matched, (path, rows, sha256)
        found = np.concatenate(changed) if changed else np.empty((0, 2), np.uint64)
        found = found[np.argsort(found[:, 0])]
        self.changed, self.starts = found[:, 0].astype(np.int64), found[:, 1]
        if len(self.changed) * DENSE > self.raw.lines:
            self._write_changed()
        else:
            self._read_changed()
        return True

    def same_parts(self) -> Iterator[np.ndarray]:
        """After `compare`: the base's rows of the unchanged lines (digests, key hash), part after part, each sorted by
        the first digest (read from the base again; BaseChanged if it is no longer what was compared)."""
        assert self.matched is not None and self._base is not None
        parts = _verified_parts(*self._base)
        for bits in self.matched:
            previous = next(parts)
            yield previous[np.unpackbits(bits, count=len(previous)).view(bool)]
        next(parts, None)  # past the last part: the file is checked whole

    def _read_changed(self) -> None:
        """Write the header and the changed lines, in file order, to the changed lines' file, each read where it
        starts (a few lines: the file is not split into lines again)."""
        assert self.changed is not None and self.starts is not None
        with open(self.path, "wb") as out:
            out.write(self.raw.header + b"\n")
            if not len(self.changed):
                return
            with open(self.raw.path, "rb") as f:  # read, not mapped: the mapped file's pages would count as RSS
                for group in np.array_split(self.starts, -(-len(self.starts) // READ)):
                    out.write(b"".join(_line(f, s) + b"\n" for s in group.tolist()))
            if not self.raw.ends_with_break and self.changed[-1] == FIRST_ROW + self.raw.lines - 1:
                out.truncate(out.tell() - 1)  # the last line has no line break: a short one is still truncated

    def _write_changed(self) -> None:
        """Write the header and the changed lines, in file order, to the changed lines' file, from a second pass
        over the file's lines (many lines changed: one pass costs less than a read per line)."""
        assert self.changed is not None
        raw, start, last = RawLines(self.raw.path), FIRST_ROW, None
        with open(self.path, "wb") as out:
            for lines, _ in raw.blocks(decode=False):  # its encoding is known: self.raw
                if start == FIRST_ROW:  # the header is known once the first block is read
                    out.write(raw.header + b"\n")
                lo, hi = np.searchsorted(self.changed, [start, start + len(lines)])
                out.write(b"".join([lines[r - start] + b"\n" for r in self.changed[lo:hi]]))
                start += len(lines)
                last = self.changed[hi - 1] if hi > lo else last
            if start == FIRST_ROW:  # no data line
                out.write(raw.header + b"\n")
            if not raw.ends_with_break and last == start - 1:
                out.truncate(out.tell() - 1)  # the last line has no line break: a short one is still truncated


def split(source: Path, keys: tuple[str, str]) -> Split | None:
    """Digest every data line of `source` and spill the digests by part. None: the file does not qualify
    (hub/read/raw_lines.py)."""
    raw = RawLines(source)
    folder = tempfile.TemporaryDirectory(prefix="hub-changed-")  # 0700
    found = Split(raw, folder, np.empty(0, np.uint8), Parts(Path(folder.name), "lines", 4),
                  Parts(Path(folder.name), "staged", 2))
    parts, start = [], FIRST_ROW
    try:
        for lines, starts in raw.blocks():
            d = digests(lines, keys)
            p = part_of(d[:, 0])
            rows = np.arange(start, start + len(lines), dtype=np.uint64)
            found.lines.add(p, np.column_stack([d, rows, starts]))
            parts.append(p)
            start += len(lines)
        found.lines.flush()
    except BaseException:
        found.close()
        raise
    if not raw.regular:
        found.close()
        return None
    found.parts = np.concatenate(parts) if parts else np.empty(0, np.uint8)
    return found


def _line(f: BinaryIO, start: int) -> bytes:
    """The line that starts at `start`, without its line break (CRLF, LF, or a CR ending the file)."""
    f.seek(start)
    line = f.readline().removesuffix(b"\n")
    return line.removesuffix(b"\r")


class BaseChanged(ValueError):
    """A base's digests file is not (or no longer) the one ops.row_hashes recorded."""


def _verified_parts(path: Path, rows: int, sha256: bytes) -> Iterator[np.ndarray]:
    """The rows of a sorted digests file, part after part (every part, empty ones too); BaseChanged at the end when
    the file does not hold `rows` rows of that sha256."""
    h, seen = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for part in _base_parts(f, h):
            seen += len(part)
            yield part
    if seen != rows or h.digest() != sha256:
        raise BaseChanged(f"{path.name} is not the digests file recorded")


def _base_parts(f: BinaryIO, h: hashlib._Hash) -> Iterator[np.ndarray]:
    """The rows of a sorted digests file, part after part (every part, empty ones too), hashing what is read."""
    buf: list[np.ndarray] = []
    p = 0
    while len(block := f.read(READ * 24)):
        h.update(block)
        chunk = np.frombuffer(block, np.uint64).reshape(-1, 3)
        part = part_of(chunk[:, 0]).astype(np.intp)
        bounds = np.searchsorted(part, np.arange(PARTS + 1))
        for q in range(p, int(part[-1]) + 1):
            if bounds[q + 1] > bounds[q]:
                buf.append(chunk[bounds[q]:bounds[q + 1]])
            if q < part[-1]:  # the part is complete
                yield _stacked(buf)
                buf = []
        p = int(part[-1])
    for _ in range(p, PARTS):
        yield _stacked(buf)
        buf = []


def _stacked(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty((0, 3), np.uint64)


def find(base: np.ndarray, first: np.ndarray, digests: np.ndarray) -> np.ndarray:
    """Index in `base` (sorted by its first column; `first`, that column contiguous) of each row of `digests` with
    both digests equal, else -1. Two stored lines alike in the first 64 bits (1 in 2^64): a line may count as
    changed, never the reverse."""
    order = np.argsort(digests[:, 0])  # sorted queries: each search starts where the last ended
    at = np.empty(len(digests), np.int64)
    at[order] = np.searchsorted(first, digests[order, 0])
    inside = at < len(first)
    hit = np.zeros(len(digests), bool)
    hit[inside] = (first[at[inside]] == digests[inside, 0]) & (base[at[inside], 1] == digests[inside, 1])
    return np.where(hit, at, -1)
