"""A CSV file's data lines as raw bytes, without parsing them: keyed 128-bit digests of each line, and the file's
layout (header line, encoding) they hold for (hub/load/changes.py compares a night's file with the last one).

A file qualifies only when each record is one line: no quoted line break (every line holds an even number of quote
characters) and no carriage return but before a line feed. Equal bytes under the same header and encoding are then
the same record to both of the readers (hub/read/parsing.py), whichever line break ends them.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hub.read.utf8 import valid

BLOCK = 2 << 20  # bytes read at once: memory stays flat whatever the size of the file
TEXT_SUFFIXES = (".csv", ".txt")


@dataclass
class RawLines:
    """One pass over a file's lines after the header (`blocks`); `regular`, `encoding` and `ends_with_break` hold
    once it has run to the end."""

    path: Path
    header: bytes = b""  # the header line without its line break (a BOM kept)
    regular: bool = True  # every record one line (see the module); False stops the pass
    utf8: bool = True  # every byte so far valid UTF-8
    ends_with_break: bool = True
    lines: int = 0  # data lines yielded (blank ones included)

    def blocks(self, decode: bool = True) -> Iterator[tuple[list[bytes], np.ndarray]]:
        """The data lines, in blocks, without their line breaks, with the byte offset in the file where each starts
        ((n,) uint64); stops early (regular False) at a line that does not qualify. `decode` False: the bytes are not
        checked for UTF-8 (`utf8`, `encoding` not told), for a second pass over a file whose encoding the first
        told."""
        if self.path.suffix.lower() not in TEXT_SUFFIXES:
            self.regular = False
            return
        with open(self.path, "rb") as f:
            self.header, rest, first, at = b"", b"", True, 0  # at: the offset of `rest` in the file
            while True:
                block = f.read(BLOCK)
                data = rest + block
                cut = len(data) if not block else data.rfind(b"\n") + 1
                if not cut and block:
                    rest = data
                    continue
                part, rest = data[:cut], data[cut:]
                if not block:
                    self.ends_with_break = not part or part.endswith((b"\n", b"\r"))
                # whole lines: no character spans parts (a line break is one)
                self.utf8 = self.utf8 and (not decode or valid(part))
                lines = _split(part)
                if lines is None:
                    self.regular = False
                    return
                starts = _starts(part, at)[:len(lines)]
                at += cut
                if first and lines:
                    self.header, lines, starts, first = lines[0], lines[1:], starts[1:], False
                self.lines += len(lines)
                if lines:
                    yield lines, starts
                if not block:
                    return

    @property
    def encoding(self) -> str:
        """As hub/read/headers.sniff decides it: a BOM, else the whole file valid UTF-8, else cp1252."""
        return "utf-8-sig" if self.header.startswith(codecs.BOM_UTF8) else "utf-8" if self.utf8 else "cp1252"

    def layout(self) -> str:
        """Digest of what makes equal lines equal records: the header line and the encoding (not line breaks)."""
        return hashlib.sha256(self.header + b"\x00" + self.encoding.encode()).hexdigest()


def _starts(part: bytes, at: int) -> np.ndarray:
    """The file offsets where the lines of `part` (whole lines, at offset `at`) start, and where the next would."""
    breaks = np.flatnonzero(np.frombuffer(part, np.uint8) == ord("\n")).astype(np.uint64)
    return np.concatenate([np.zeros(1, np.uint64), breaks + np.uint64(1)]) + np.uint64(at)


def _split(data: bytes) -> list[bytes] | None:
    """The lines of whole lines `data` (a last one may lack its break), or None when one does not qualify."""
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n") + data.endswith(b"\r"):
            return None  # a carriage return inside a line (or ending it alone): records may not be lines
        data = data.replace(b"\r\n", b"\n").removesuffix(b"\r")
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    if b'"' in data and any(line.count(b'"') % 2 for line in lines):
        return None  # a quoted line break (or a stray quote): a record may span lines
    return lines


def digests(lines: list[bytes], keys: tuple[str, str]) -> np.ndarray:
    """(n, 2) uint64: two keyed 64-bit SipHash digests of each line."""
    values = np.array(lines, dtype=object)
    if not len(values):
        return np.empty((0, 2), np.uint64)
    return np.stack([pd.util.hash_array(values, hash_key=k, categorize=False) for k in keys], axis=1)
