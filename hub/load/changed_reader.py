"""The reader of a night's changed lines (hub/load/changed_lines.py finds them): a TableReader over the file of the
changed lines that names each record by its row in the delivered file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hub.load.changed_lines import FIRST_ROW, Split
from hub.read.errors import RowError
from hub.read.parsing import LINE, ROW, TableReader, open_table


def open_changed(found: Split, aliases: Mapping[str, Sequence[str]], chunk_rows: int,
                 max_cells: int | None) -> ChangedLines:
    """A reader of the changed lines (their file in UTF-8 when the delivered one is cp1252: the same text, whatever
    bytes the changed lines alone hold)."""
    if found.raw.encoding == "cp1252":
        text = found.path.read_bytes().decode("cp1252")  # an undefined byte fails here as the whole file's would
        found.path.write_bytes(text.encode("utf-8"))
    inner = open_table(found.path, aliases, chunk_rows=chunk_rows, max_cells=max_cells)
    inner.counted = found.unchanged
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
