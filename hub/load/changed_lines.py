"""A night's file split by its raw lines before any parsing (hub/load/changes.py): the lines identical to a line of
the last applied delivery are left out unread, the others are written to a file of their own that the reader parses
and staging validates, with the rows they have in the delivered file."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hub.read.errors import RowError
from hub.read.parsing import LINE, ROW, TableReader, open_table
from hub.read.raw_lines import RawLines, digests

FIRST_ROW = 2  # the first data line's row (header = row 1); each record is one line here, so its line too


@dataclass
class Split:
    """One pass over a file: the digests of all its data lines, and, against a base, which are unchanged."""

    raw: RawLines
    lines: np.ndarray  # (n, 2) uint64: the digests of every data line (no base), else of the changed lines only
    same: np.ndarray  # index in the base of each unchanged line (int64), in file order
    changed: np.ndarray | None  # rows of the lines written to `folder` (the changed ones), in file order; None: all
    folder: tempfile.TemporaryDirectory | None = field(default=None, repr=False)  # holds the changed lines' file

    def digests_of(self, rows: np.ndarray, column: int | None = None) -> np.ndarray:
        """The digests of the lines of `rows` (rows digested: all, or the changed ones): (len(rows), 2), or one
        `column` of them."""
        at = rows - FIRST_ROW if self.changed is None else np.searchsorted(self.changed, rows)
        return self.lines[at] if column is None else self.lines[at, column]

    @property
    def path(self) -> Path:
        return Path(self.folder.name if self.folder else "") / "changed.csv"

    def close(self) -> None:
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None


def split(source: Path, base: np.ndarray | None, keys: tuple[str, str]) -> Split | None:
    """Digest every data line of `source`; with `base` (n, >=2 uint64 sorted by the first column: a base's line
    digests), write the header and the lines the base does not hold to a private file. None: the file does not
    qualify (hub/read/raw_lines.py)."""
    raw = RawLines(source)
    if base is None:
        parts = [digests(lines, keys) for lines in raw.blocks()]
        return Split(raw, _stacked(parts, (0, 2), np.uint64), _EMPTY, None) if raw.regular else None
    found = Split(raw, _EMPTY, _EMPTY, _EMPTY, tempfile.TemporaryDirectory(prefix="hub-changed-"))  # 0700
    try:
        _write_changed(found, base, keys)
    except BaseException:
        found.close()
        raise
    if not raw.regular:
        found.close()
        return None
    return found


_EMPTY = np.empty(0, np.int64)


def _stacked(parts: list[np.ndarray], shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(shape, dtype)


def _write_changed(found: Split, base: np.ndarray, keys: tuple[str, str]) -> None:
    """Compare each block of lines with `base`: unchanged lines are counted (their base rows kept), changed lines
    written after the header with their rows and digests kept."""
    first = np.ascontiguousarray(base[:, 0])
    parts, same, changed, start = [], [], [], FIRST_ROW
    with open(found.path, "wb") as out:
        for lines in found.raw.blocks():
            if start == FIRST_ROW:  # the header is known once the first block is read
                out.write(found.raw.header + b"\n")
            d = digests(lines, keys)
            at = find(base, first, d)
            new = np.flatnonzero(at < 0)
            same.append(at[at >= 0])
            changed.append(new + start)
            parts.append(d[new])
            out.write(b"".join([lines[i] + b"\n" for i in new]))
            start += len(lines)
        if start == FIRST_ROW:  # no data line
            out.write(found.raw.header + b"\n")
        if not found.raw.ends_with_break and changed and len(changed[-1]) and changed[-1][-1] == start - 1:
            out.truncate(out.tell() - 1)  # the last line has no line break: a short one is still truncated
    found.lines = _stacked(parts, (0, 2), np.uint64)
    found.same, found.changed = _stacked(same, (0,), np.int64), _stacked(changed, (0,), np.int64)


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


def open_changed(found: Split, unchanged: int, aliases: Mapping[str, Sequence[str]], chunk_rows: int,
                 max_cells: int | None) -> ChangedLines:
    """A reader of the changed lines (their file in UTF-8 when the delivered one is cp1252: the same text, whatever
    bytes the changed lines alone hold)."""
    if found.raw.encoding == "cp1252":
        text = found.path.read_bytes().decode("cp1252")  # an undefined byte fails here as the whole file's would
        found.path.write_bytes(text.encode("utf-8"))
    inner = open_table(found.path, aliases, chunk_rows=chunk_rows, max_cells=max_cells)
    inner.counted = unchanged
    return ChangedLines(inner, found.changed if found.changed is not None else np.empty(0, np.int64),
                        found.raw.encoding)


@dataclass
class ChangedLines:
    """The TableReader of a file's changed lines (hub/read/parsing.py), naming each record by its row in the delivered
    file; `records` counts the unchanged lines too (a footer's stated count is the file's)."""

    inner: TableReader
    rows: np.ndarray  # the delivered row of each line after the header of the changed lines' file
    encoding: str  # the delivered file's

    @property
    def columns(self) -> dict[str, str]:
        return self.inner.columns

    @property
    def unmatched_headers(self) -> list[str]:
        return self.inner.unmatched_headers

    @property
    def records(self) -> int:
        return self.inner.records

    @property
    def footers(self) -> list[int]:
        return [self._row(r) for r in self.inner.footers]

    def take_errors(self) -> list[RowError]:
        return [RowError(self._row(e.row_number), e.column, e.rule, None if e.line is None else self._row(e.line))
                for e in self.inner.take_errors()]

    def chunks(self) -> Iterator[pd.DataFrame]:
        for chunk in self.inner.chunks():
            chunk[ROW] = self.rows[chunk[ROW].to_numpy() - FIRST_ROW]
            chunk[LINE] = chunk[ROW]
            yield chunk

    def _row(self, row: int) -> int:
        return row if row < FIRST_ROW else int(self.rows[row - FIRST_ROW])
