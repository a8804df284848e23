"""What reading a file reports: a row error (row, column, rule) or a whole-file error — never a cell value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowError:
    """One rule a row breaks: row (spreadsheet row, header = 1), column and rule — never the value."""

    row_number: int
    column: str
    rule: str
    line: int | None = None  # CSV: the physical line where the record starts


class FileFormatError(ValueError):
    """Whole-file problem; the message names the file and row/column where known, never cell values."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row  # the file row at fault, when there is one


class TruncatedFile(FileFormatError):
    """The file was cut short (an upload that did not finish): rejected whole, whatever the row-error policy."""
