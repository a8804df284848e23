"""Spreadsheet rows as text for hub.read.parsing: XLSX streamed with openpyxl, legacy XLS via xlrd."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from hub.read.errors import FileFormatError


def cell_text(v: Any) -> str:
    """Cell value -> text: int-valued floats without '.0', dates as YYYYMMDD, None as '', whitespace stripped."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, date):
        return v.strftime("%Y%m%d")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def xlsx_rows(path: Path, sheet: str | None, max_cells: int | None = None) -> Iterator[list[str]]:
    """All rows as text, header first, streamed (openpyxl read-only mode: memory does not grow with rows); more than
    `max_cells` cells read (blank padding included) stop it with a FileFormatError."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:
        raise _error(f"{path.name}: not a readable XLSX workbook ({type(e).__name__})") from None
    try:
        rows = (list(map(cell_text, r)) for r in _pick(path, book.sheetnames, sheet, book.worksheets)
                .iter_rows(values_only=True))
        yield from _capped(path, rows, max_cells)
    finally:
        book.close()


def _capped(path: Path, rows: Iterator[list[str]], max_cells: int | None) -> Iterator[list[str]]:
    cells = 0
    for row in rows:
        cells += len(row)
        if max_cells is not None and cells > max_cells:
            raise _error(f"{path.name}: more than {max_cells:,} cells, the integration's limit (max_xlsx_cells)")
        yield row


def xls_rows(path: Path, sheet: str | None, max_cells: int | None = None) -> Iterator[list[str]]:
    """All rows as text, header first, from a legacy .xls workbook (read whole: XLS holds at most 65,536 rows)."""
    import xlrd

    try:
        book = xlrd.open_workbook(path)
    except Exception as e:
        raise _error(f"{path.name}: not a readable XLS workbook ({type(e).__name__})") from None

    def text(cell: Any) -> str:
        if cell.ctype == xlrd.XL_CELL_DATE and cell.value >= 1:  # below 1: a time of day only
            return xlrd.xldate.xldate_as_datetime(cell.value, book.datemode).strftime("%Y%m%d")
        if cell.ctype == xlrd.XL_CELL_ERROR:
            return xlrd.error_text_from_code.get(cell.value, "#ERROR")
        return cell_text(bool(cell.value) if cell.ctype == xlrd.XL_CELL_BOOLEAN else cell.value)

    ws = _pick(path, book.sheet_names(), sheet, book.sheets())
    yield from _capped(path, ([text(c) for c in ws.row(i)] for i in range(ws.nrows)), max_cells)


READERS = {"xlsx": xlsx_rows, "xls": xls_rows}


def _pick(path: Path, names: list[str], sheet: str | None, sheets: list[Any]) -> Any:
    if sheet is None:
        return sheets[0]
    if sheet not in names:
        raise _error(f"{path.name}: no sheet named {sheet!r}")
    return sheets[names.index(sheet)]


def _error(message: str) -> ValueError:
    return FileFormatError(message)
