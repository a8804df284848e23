"""Chunked reading of CSV / XLSX / XLS files into string DataFrames, with header aliases.

Row numbers (ROW) are the rows a person sees in a spreadsheet (header = row 1; blank rows count); for CSV, LINE is
the physical line where the record starts (the two differ after a value holding a line break). Fully empty rows are
skipped. A record whose field count differs from the header's is a row error and nothing of it is read; a file cut
short (its last record short with no line end, or ending inside a quoted value) is a `truncated file`. Footers after
the data (`Total Records: 57`, `END OF FILE`, all-delimiter lines) are not rows; a count they state is checked.
CSV files whose every record has the header's field count are read by Arrow's CSV reader in 1 MB blocks; at the
first irregular record reading goes on with Python's csv module, which reports each defect by row.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from hub.read.arrow_text import record_lines
from hub.read.errors import FileFormatError, RowError, TruncatedFile
from hub.read.headers import match_headers, sniff
from hub.read.sheets import READERS

try:  # jemalloc hands freed chunks back to the OS: peak memory stays flat (the default mimalloc kept ~50 MB more)
    pa.set_memory_pool(pa.jemalloc_memory_pool())
except NotImplementedError:  # a pyarrow build without jemalloc keeps its default pool
    pass

csv.field_size_limit(1 << 24)  # a long notes cell is a value, not a defect

ROW = "__row"
LINE = "__line"  # CSV only
TEXT = pd.StringDtype("pyarrow")  # every parsed cell: Arrow-backed text ('' for blank)
_ARROW_BLOCK = 1 << 20
# the non-blank cells of a record after the data, joined by commas: a footer (a count, if stated, in group 1)
_FOOTER = re.compile(r"(?:total(?:\s*(?:records?|rows?|students?|lines?|count))?|(?:record|row|line)s?\s*count|count"
                     r"|end\s*of\s*(?:file|data|report|records?)|eof|trailer)\s*[:=#,]?\s*(\d[\d,]*)?\s*\.?",
                     re.IGNORECASE)
_FOOTER_START = r"^(total|record|row|line|count|end|eof|trailer)"  # what the Arrow pass leaves to the csv pass


class _Irregular(Exception):
    """The Arrow pass met a record it does not read; the csv pass takes over."""


@dataclass
class TableReader:
    path: Path
    encoding: str  # 'utf-8', 'utf-8-sig', 'cp1252', 'xlsx' or 'xls'
    columns: dict[str, str]  # canonical name -> header as written, matched columns only
    unmatched_headers: list[str]
    chunk_rows: int = 100_000
    sheet: str | None = None
    delimiter: str = ","
    _positions: dict[str, int] = field(default_factory=dict, repr=False)  # canonical name -> 0-based column
    _width: int = 0  # header cells, trailing blank ones dropped
    _cells: int = 0  # CSV: fields on the header row, trailing blank ones included (every record must have as many)
    _arrow: bool = False  # CSV: try Arrow's reader first (quotes balanced, single-line header)
    _rows: Iterator[list[str]] | None = field(default=None, repr=False)  # spreadsheet rows left open by open_table
    max_cells: int | None = None  # spreadsheets: cells read before the file is refused (archive bombs)
    _header_lines: int = 1  # CSV: physical lines of the header record
    _line_end: bool = True  # CSV: the file ends with a line break
    _balanced: bool = True  # CSV: an even number of quote characters
    records: int = 0  # data records read (blank rows and footers not counted; rows with errors counted)
    counted: int = 0  # records of the delivered file not in this one, counted first (hub/load/changed_lines.py)
    footers: list[int] = field(default_factory=list)  # rows recognised as footers
    errors: list[RowError] = field(default_factory=list)  # row errors found while reading; see take_errors

    def take_errors(self) -> list[RowError]:
        """The reading errors found since the last call (rows with a wrong field count are in no chunk)."""
        out, self.errors = self.errors, []
        return out

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Frames of <= chunk_rows rows: one TEXT column per matched canonical name ('' for blank), ROW and, for
        CSV, LINE."""
        if self.encoding not in READERS:
            yield from self._csv_chunks()
            return
        rows, self._rows = self._rows, None  # reuse the open workbook once: loading one can take long
        if rows is None:
            rows = READERS[self.encoding](self.path, self.sheet, self.max_cells)
            next(rows, None)  # header
        yield from self._frames(((n, None, cells) for n, cells in enumerate(rows, start=2)), done=1)

    def _csv_chunks(self) -> Iterator[pd.DataFrame]:
        done = 1  # last row number already yielded (1 = header)
        if self._arrow:
            try:
                for out in self._arrow_chunks():
                    done = int(out[ROW].iloc[-1])
                    yield out
                return
            except (pa.ArrowException, UnicodeDecodeError, _Irregular):
                pass  # an irregular record: the csv pass goes on after the rows already yielded and names the defect
        yield from self._frames(self._csv_records(), done)

    def _arrow_chunks(self) -> Iterator[pd.DataFrame]:
        """Regular files only: every record has exactly the header's fields (Arrow raises on any other)."""
        names = [str(i) for i in range(self._cells)]
        reader = pa_csv.open_csv(
            self.path,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=_ARROW_BLOCK, use_threads=False,
                                            encoding=self.encoding.replace("-sig", "")),
            parse_options=pa_csv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False))
        n, start, pending, rows, shift = self._width, 2, [], 0, self._header_lines - 1
        self.records = self.counted
        for batch in chain(reader, [None]):  # None: flush
            if batch is not None:
                numbers = np.arange(start, start + batch.num_rows)
                start += batch.num_rows
                lines, shift = record_lines(batch.columns, numbers, shift)
                cells = [pc.utf8_trim_whitespace(c) for c in batch.columns]
                blank = [pc.equal(c, "").to_numpy(zero_copy_only=False) for c in cells]
                if len(blank) > n and (~np.logical_and.reduce(blank[n:])).any():
                    raise _Irregular  # a value under no header: the csv pass names the row
                if pc.any(pc.match_substring_regex(cells[0], _FOOTER_START, ignore_case=True)).as_py():
                    raise _Irregular  # maybe a footer: the csv pass tells
                keep = ~np.logical_and.reduce(blank[:n], initial=True)
                mask = pa.array(keep)
                pending.append(pa.table({**{k: pc.filter(cells[p], mask) for k, p in self._positions.items()},
                                         ROW: numbers[keep], LINE: lines[keep]}))
                rows += int(keep.sum())
                self.records += int(keep.sum())
            while rows >= self.chunk_rows or (batch is None and rows):  # frames of chunk_rows; the rest waits
                table = pa.concat_tables(pending)
                head, rest = table.slice(0, self.chunk_rows), table.slice(self.chunk_rows)
                pending, rows = [rest], rest.num_rows
                out = pd.DataFrame({k: pd.arrays.ArrowStringArray(head[k].combine_chunks()) for k in self._positions},
                                   index=range(head.num_rows))
                out[ROW] = head[ROW].to_numpy()
                out[LINE] = head[LINE].to_numpy()
                yield out

    def _csv_records(self) -> Iterator[tuple[int, int | None, list[str]]]:
        """(row, line, cells) of every record after the header; the last one is checked for truncation first."""
        held: tuple[int, int | None, list[str]] | None = None
        row = 1
        try:
            with open(self.path, encoding=self.encoding, newline="") as f:
                reader = csv.reader(f, delimiter=self.delimiter)
                next(reader, None)
                line = reader.line_num + 1
                for row, cells in enumerate(reader, start=2):
                    if held is not None:
                        yield held
                    held, line = (row, line, cells), reader.line_num + 1
        except csv.Error as e:
            raise FileFormatError(f"{self.path.name}: row {row + 1}: {e}", row + 1) from None
        except UnicodeDecodeError:
            raise FileFormatError(f"{self.path.name}: not valid {self.encoding} text") from None
        if held is not None:
            self._check_last(*held)
            yield held

    def _check_last(self, row: int, line: int | None, cells: list[str]) -> None:
        """A file cut short: its last record ends inside a quoted value, or is short and has no line end."""
        if not self._balanced and line is not None and _ends_in_quote(self._tail(line), self.delimiter):
            raise TruncatedFile(f"{self.path.name}: truncated file (it ends inside a quoted value of row {row}, which "
                                f"starts on line {line})", row)
        if not self._line_end and len(cells) < self._cells and not _footer_like(cells):
            raise TruncatedFile(f"{self.path.name}: truncated file (its last record, row {row}, has {len(cells)} of "
                                f"the header's {self._cells} fields and no line end)", row)

    def _tail(self, line: int) -> str:
        with open(self.path, encoding=self.encoding, newline="") as f:
            return "".join(text for n, text in enumerate(f, start=1) if n >= line)

    def _frames(self, records: Iterator[tuple[int, int | None, list[str]]], done: int) -> Iterator[pd.DataFrame]:
        """Frames of the records after row `done` (those before are only counted). Records that could be footers
        wait until a data record follows them; at the end they are footers."""
        self.records, self.footers, self.errors = self.counted, [], []
        buf: list[tuple[int, int | None, list[str]]] = []
        waiting: list[tuple[int, int | None, list[str]]] = []
        for rec in chain(records, [None]):  # None: the end
            if rec is not None and _footer_like(rec[2]):
                waiting.append(rec)
                continue
            if rec is None:
                self._footers(waiting)
            else:
                for r in (*waiting, rec):
                    self._record(r, done, buf)
                waiting = []
            while len(buf) >= self.chunk_rows or (rec is None and buf):
                yield self._frame(buf[: self.chunk_rows])
                buf = buf[self.chunk_rows:]

    def _record(self, rec: tuple[int, int | None, list[str]], done: int, buf: list) -> None:
        row, line, cells = rec
        if not any(c.strip() for c in cells):
            return
        self.records += 1
        if row <= done:
            return
        spreadsheet = self.encoding in READERS
        found = max(i for i, c in enumerate(cells) if c.strip()) + 1 if spreadsheet else len(cells)
        expected = self._width if spreadsheet else self._cells
        if found > expected or (found < expected and not spreadsheet):  # a spreadsheet row has no trailing cells
            self.errors.append(RowError(row, "*", f"wrong field count (expected {expected}, found {found})", line))
        elif any(c.strip() for c in cells[self._width:]):
            self.errors.append(RowError(row, "*", f"a value under no header (after column {self._width})", line))
        else:
            buf.append(rec)

    def _frame(self, recs: list[tuple[int, int | None, list[str]]]) -> pd.DataFrame:
        out = pd.DataFrame([[cells[p].strip() for p in self._positions.values()] for _, _, cells in recs],
                           columns=list(self._positions), index=range(len(recs)), dtype=object).astype(TEXT)
        out[ROW] = np.array([r for r, _, _ in recs], dtype=np.int64)
        if self.encoding not in READERS:
            out[LINE] = np.array([ln for _, ln, _ in recs], dtype=np.int64)
        return out

    def _footers(self, waiting: list[tuple[int, int | None, list[str]]]) -> None:
        """Footers after the data; a count one states must be the number of data records."""
        for row, _, cells in waiting:
            text = ",".join(c.strip() for c in cells if c.strip())
            if not text:
                continue
            self.footers.append(row)
            stated = _FOOTER.fullmatch(text)
            if stated and stated.group(1) and int(stated.group(1).replace(",", "")) != self.records:
                raise TruncatedFile(f"{self.path.name}: truncated file (the footer on row {row} states "
                                    f"{stated.group(1).replace(',', '')} records; the file has {self.records})", row)


def _footer_like(cells: list[str]) -> bool:
    """Blank, all delimiters, or a footer's words ('Total Records: 57', 'END OF FILE')."""
    text = ",".join(c.strip() for c in cells if c.strip())
    return not text or _FOOTER.fullmatch(text) is not None


def _ends_in_quote(text: str, delimiter: str) -> bool:
    """Whether CSV text ends inside a quoted value (quotes open a value only at its start; "" is a quote)."""
    quoted, start, i = False, True, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"':
                if text.startswith('"', i + 1):
                    i += 1
                else:
                    quoted = False
        elif ch == '"' and start:
            quoted = True
        start = not quoted and ch in (delimiter, "\n", "\r")
        i += 1
    return quoted


def open_table(path: Path, aliases: Mapping[str, Sequence[str]], chunk_rows: int = 100_000,
               sheet: str | None = None, max_cells: int | None = None) -> TableReader:
    """Open a .csv/.txt, .xlsx or .xls file, read its header row and match it against aliases."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileFormatError(f"{path.name}: no such file")
    delimiter, balanced, line_end, header_lines, rows = ",", True, True, 1, None
    if suffix in (".csv", ".txt"):
        encoding, delimiter, balanced, line_end, headers, header_lines = sniff(path)
    elif suffix in (".xlsx", ".xls"):
        encoding = suffix[1:]
        rows = READERS[encoding](path, sheet, max_cells)
        headers = next(rows, [])
    else:
        raise FileFormatError(f"{path.name}: unsupported file type {suffix or '(none)'!r}")
    cells = len(headers)
    # Arrow skips the header by lines; a one-field file's footer would look like a record to it
    arrow = balanced and header_lines == 1 and cells > 1
    headers = [h.strip() for h in headers]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise FileFormatError(f"{path.name}: no header row")
    positions, unmatched = match_headers(path, headers, aliases)
    return TableReader(path, encoding, {k: headers[p] for k, p in positions.items()}, unmatched,
                       chunk_rows, sheet, delimiter, positions, len(headers), cells, arrow, rows, max_cells,
                       header_lines, line_end, balanced)
