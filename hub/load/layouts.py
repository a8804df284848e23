"""A file type's own check of a file's header row as a whole (`FileType.layout`): a vendor's other layout under an
accepted file name is rejected with the reason, reported against the header row (row 1)."""

from __future__ import annotations

from hub.load.validation import RowError
from hub.read.parsing import TableReader
from hub.registry.declarations import FileType


def layout_errors(ft: FileType, reader: TableReader) -> list[RowError]:
    """One error naming why the headers are not the file type's layout, or none."""
    if ft.layout is None:
        return []
    reason = ft.layout([*reader.columns.values(), *reader.unmatched_headers])
    return [RowError(1, "*", reason)] if reason else []
