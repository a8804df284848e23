"""Byte-level pre-checks over Arrow string arrays (is any of these bytes there at all?) and the physical
lines where CSV records start (hub/read/parsing.py reads the records)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_BREAK = r"\r\n|\r|\n"


def byte_set(chars: str) -> bytes:
    """A lookup for `has_bytes`: every byte that is not the code of one of `chars` (ASCII only)."""
    codes = {ord(c) for c in chars}
    return bytes(b for b in range(256) if b not in codes)


def has_bytes(values: pa.Array | pa.ChunkedArray, others: bytes) -> bool:
    """Whether any string may hold an ASCII byte of a `byte_set` (`others`: the bytes outside it): a pre-check
    over the UTF-8 data buffer at once, its other bytes deleted by bytes.translate (a regex over every value costs
    ~20x more, a numpy table lookup 5x; no byte below 0x80 is part of a longer character; bytes under a null may
    count)."""
    for c in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        if len(c) == 0 or c.buffers()[2] is None:
            continue
        width = np.dtype(np.int64 if pa.types.is_large_string(c.type) else np.int32)
        offsets = np.frombuffer(c.buffers()[1], dtype=width, count=len(c) + 1, offset=c.offset * width.itemsize)
        if bytes(memoryview(c.buffers()[2])[offsets[0]:offsets[-1]]).translate(None, others):
            return True
    return False


_BREAK_BYTES = byte_set("\r\n")


def record_lines(columns: Sequence[pa.Array], numbers: np.ndarray, shift: int) -> tuple[np.ndarray, int]:
    """Physical start lines of a batch's records (row + line breaks in the values before it) and the new shift."""
    breaks = np.zeros(len(numbers), dtype=np.int64)
    for c in columns:
        if has_bytes(c, _BREAK_BYTES):
            breaks += pc.count_substring_regex(c, _BREAK).to_numpy(zero_copy_only=False)
    lines = numbers + shift + np.cumsum(breaks) - breaks
    return lines, shift + int(breaks.sum())
