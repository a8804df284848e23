"""Chunked reading of CSV / XLSX / XLS files into string DataFrames, with header aliases.

Fully empty rows are skipped; row numbers (ROW) still count them, so they match the file.
CSV files whose every row has the header's number of cells are read by Arrow's CSV reader in 1 MB blocks; at
the first irregular row (ragged, overlong, anything Arrow rejects) reading goes on with pandas' C parser, which is
slower but reports each defect by row.
"""
from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from hub.sheets import READERS

try:  # jemalloc hands freed chunks back to the OS: peak memory stays flat (the default mimalloc kept ~50 MB more)
    pa.set_memory_pool(pa.jemalloc_memory_pool())
except NotImplementedError:  # a pyarrow build without jemalloc keeps its default pool
    pass

ROW = "__row"
TEXT = pd.StringDtype("pyarrow")  # every parsed cell: Arrow-backed text ('' for blank)
_ARROW_BLOCK = 1 << 20
_DELIMITERS = "\t|;^"
_CSV_OPTS: dict[str, Any] = dict(dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False, engine="c")
_SAW = re.compile(r"Expected \d+ fields in line \d+, saw (\d+)")


class FileFormatError(ValueError):
    """Whole-file problem; the message names the file and row/column where known, never cell values."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row  # the file row at fault, when there is one


def normalize_header(h: str) -> str:
    """Case-, space-, underscore-, hyphen- and BOM-insensitive key: 'Local Student ID' -> 'localstudentid'."""
    return re.sub(r"[\s_\-\ufeff]+", "", h).casefold()


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
    _cells: int = 0  # CSV: cells on the header row, trailing blank ones included
    _arrow: bool = False  # CSV: try Arrow's reader first (quotes balanced, single-line header)
    _rows: Iterator[list[str]] | None = field(default=None, repr=False)  # spreadsheet rows left open by open_table
    max_cells: int | None = None  # spreadsheets: cells read before the file is refused (archive bombs)

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Frames of <= chunk_rows rows: one TEXT column per matched canonical name ('' for blank) plus ROW."""
        if self.encoding not in READERS:
            yield from self._csv_chunks()
            return
        rows, self._rows = self._rows, None  # reuse the open workbook once: loading one can take long
        if rows is None:
            rows = READERS[self.encoding](self.path, self.sheet, self.max_cells)
            next(rows, None)  # header
        n, buf, numbers = self._width, [], []
        for number, cells in enumerate(chain(rows, [None]), start=2):  # None: flush
            if cells is not None and any(cells[n:]):
                raise self._overlong(number)
            if cells is not None and any(cells[:n]):
                buf.append([cells[i] if i < len(cells) else "" for i in self._positions.values()])
                numbers.append(number)
            if buf and (len(buf) == self.chunk_rows or cells is None):
                out = pd.DataFrame(buf, columns=list(self._positions), index=range(len(buf)), dtype=object).astype(TEXT)
                out[ROW] = np.array(numbers, dtype=np.int64)
                yield out
                buf, numbers = [], []

    def _overlong(self, row: int) -> FileFormatError:
        return FileFormatError(f"{self.path.name}: row {row} has a non-empty cell after the last header column "
                               f"({self._width})", row)

    def _csv_chunks(self) -> Iterator[pd.DataFrame]:
        done = 1  # last row number already handled (1 = header)
        if self._arrow:
            try:
                for out in self._arrow_chunks():
                    done = int(out[ROW].iloc[-1])
                    yield out
                return
            except (pa.ArrowException, UnicodeDecodeError):
                pass  # an irregular row: pandas goes on after the rows already yielded and names the defect
        yield from self._pandas_chunks(done)

    def _arrow_chunks(self) -> Iterator[pd.DataFrame]:
        """Regular files only: every row has exactly the header's cells (Arrow raises on any other row)."""
        names = [str(i) for i in range(self._cells)]
        reader = pa_csv.open_csv(
            self.path,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=_ARROW_BLOCK, use_threads=False,
                                            encoding=self.encoding.replace("-sig", "")),
            parse_options=pa_csv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False))
        n, start, pending, rows = self._width, 2, [], 0
        for batch in chain(reader, [None]):  # None: flush
            if batch is not None:
                numbers = np.arange(start, start + batch.num_rows)
                start += batch.num_rows
                cells = [pc.utf8_trim_whitespace(c) for c in batch.columns]
                blank = [pc.equal(c, "").to_numpy(zero_copy_only=False) for c in cells]
                if len(blank) > n and (extra := ~np.logical_and.reduce(blank[n:])).any():
                    raise self._overlong(int(numbers[extra.argmax()]))
                keep = ~np.logical_and.reduce(blank[:n], initial=True)
                mask = pa.array(keep)
                pending.append(pa.table({**{k: pc.filter(cells[p], mask) for k, p in self._positions.items()},
                                         ROW: numbers[keep]}))
                rows += int(keep.sum())
            while rows >= self.chunk_rows or (batch is None and rows):  # frames of chunk_rows; the rest waits
                table = pa.concat_tables(pending)
                head, rest = table.slice(0, self.chunk_rows), table.slice(self.chunk_rows)
                pending, rows = [rest], rest.num_rows
                out = pd.DataFrame({k: pd.arrays.ArrowStringArray(head[k].combine_chunks()) for k in self._positions},
                                   index=range(head.num_rows))
                out[ROW] = head[ROW].to_numpy()
                yield out

    def _pandas_chunks(self, done: int) -> Iterator[pd.DataFrame]:
        """The C parser, given `width` column names, raises on longer rows, except on the first row of each chunk,
        which it silently truncates; so start as wide as the widest physical line (capped), and restart wider
        when a longer (multi-line) row still turns up. Rows up to `done` were handled already."""
        width = max(self._width, min(_widest(self.path, self.delimiter), 2 * self._width + 16))
        while True:
            try:
                for out in self._csv_pass(width, done):
                    done = int(out[ROW].iloc[-1])
                    yield out
                return
            except pd.errors.ParserError as e:
                saw = _SAW.search(str(e))
                if saw is None or int(saw.group(1)) <= width:
                    raise FileFormatError(f"{self.path.name}: {str(e).splitlines()[0]}") from None
                width = int(saw.group(1))
            except UnicodeDecodeError:
                raise FileFormatError(f"{self.path.name}: not valid {self.encoding} text") from None

    def _csv_pass(self, width: int, done: int) -> Iterator[pd.DataFrame]:
        n, start = self._width, 1
        with pd.read_csv(self.path, sep=self.delimiter, encoding=self.encoding, header=None, names=range(width),
                         chunksize=self.chunk_rows, **_CSV_OPTS) as reader:
            for raw in reader:
                if type(raw.index) is not pd.RangeIndex:  # pandas made an index of a longer first row's cells
                    raise pd.errors.ParserError(f"Expected {width} fields in line 1, saw {width + raw.index.nlevels}")
                numbers = np.arange(start, start + len(raw))
                start += len(raw)
                extra = ~_blank([raw[i].to_numpy() for i in range(n, width)], len(raw))
                if extra.any():
                    raise self._overlong(int(numbers[extra.argmax()]))
                cells = {k: _strip(raw[p].to_numpy()) for k, p in self._positions.items()}
                others = [raw[i].to_numpy() for i in range(n) if i not in self._positions.values()]
                keep = ~_blank([*cells.values(), *others], len(raw)) & (numbers > done)
                if keep.any():
                    out = pd.DataFrame({k: pd.array(v[keep], dtype=TEXT) for k, v in cells.items()},
                                       index=range(int(keep.sum())))
                    out[ROW] = numbers[keep]
                    yield out


def _strip(a: np.ndarray) -> np.ndarray:
    """Strip whitespace from an object array of str (C-level map; unchanged strings are not copied)."""
    return np.fromiter(map(str.strip, a), dtype=object, count=len(a))


def _blank(columns: list[np.ndarray], length: int) -> np.ndarray:
    """Rows where every given column is blank or whitespace; each column is checked only for rows still blank."""
    blank = np.ones(length, dtype=bool)
    for a in columns:
        idx = np.flatnonzero(blank)
        if not idx.size:
            break
        blank[idx] = _strip(a[idx]) == ""
    return blank


def _scan(path: Path) -> tuple[str, str, bool, list[str]]:
    """One streaming pass: (encoding, delimiter, quotes balanced, header cells).

    Encoding: BOM -> utf-8-sig; whole file valid UTF-8 -> utf-8; else cp1252. Delimiter: from the first line.
    An odd number of quote characters means a quote left open somewhere: only pandas reports that.
    """
    decoder, utf8, quotes = codecs.getincrementaldecoder("utf-8")(), True, 0
    with open(path, "rb") as f:
        first = f.readline(1 << 20)
        delimiter = _detect_delimiter(first.decode("latin-1"))
        f.seek(0)
        while block := f.read(1 << 20):
            quotes += block.count(b'"')
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
        try:
            utf8 = utf8 and decoder.decode(b"", final=True) is not None
        except UnicodeDecodeError:
            utf8 = False
    encoding = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8" if utf8 else "cp1252"
    try:
        head = pd.read_csv(path, sep=delimiter, encoding=encoding, header=None, nrows=1, **_CSV_OPTS)
    except pd.errors.EmptyDataError:
        head = pd.DataFrame()
    except UnicodeDecodeError:
        raise FileFormatError(f"{path.name}: not valid {encoding} text") from None
    except pd.errors.ParserError as e:
        raise FileFormatError(f"{path.name}: unreadable header ({str(e).splitlines()[0]})") from None
    return encoding, delimiter, quotes % 2 == 0, head.iloc[0].tolist() if len(head) else []


def _widest(path: Path, delimiter: str) -> int:
    """Most delimiters + 1 on one physical line (pandas needs at least that many column names)."""
    widest, tail, sep = 0, b"", delimiter.encode()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            lines = (tail + block).replace(b"\r", b"\n").split(b"\n")
            tail = lines.pop()
            widest = max(widest, max(map(bytes.count, lines, repeat(sep)), default=0))
    return max(widest, tail.count(sep)) + 1


def _detect_delimiter(line: str) -> str:
    """Most frequent of tab, pipe, semicolon, caret outside quotes if it beats the comma; else comma."""
    outside = "".join(line.split('"')[::2])
    best = max(_DELIMITERS, key=outside.count)
    return best if outside.count(best) > outside.count(",") else ","


def _match(path: Path, headers: list[str], aliases: Mapping[str, Sequence[str]]) -> tuple[dict[str, int], list[str]]:
    """(canonical name -> header position, unmatched header names)."""
    lookup: dict[str, str] = {}
    for canonical, accepted in aliases.items():
        for alias in accepted:
            if lookup.setdefault(normalize_header(alias), canonical) != canonical:
                raise ValueError(f"alias {alias!r} is given for two columns")
    positions: dict[str, int] = {}
    unmatched: list[str] = []
    for i, h in enumerate(headers):
        canonical = lookup.get(normalize_header(h))
        if canonical is None:
            unmatched += [h] if h else []
        elif canonical in positions:
            j = positions[canonical]
            raise FileFormatError(f"{path.name}: headers {headers[j]!r} (column {j + 1}) and {h!r} (column {i + 1}) "
                                  f"both mean {canonical!r}")
        else:
            positions[canonical] = i
    return positions, unmatched


def open_table(path: Path, aliases: Mapping[str, Sequence[str]], chunk_rows: int = 100_000,
               sheet: str | None = None, max_cells: int | None = None) -> TableReader:
    """Open a .csv/.txt, .xlsx or .xls file, read its header row and match it against aliases."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileFormatError(f"{path.name}: no such file")
    delimiter, balanced, rows = ",", False, None
    if suffix in (".csv", ".txt"):
        encoding, delimiter, balanced, headers = _scan(path)
    elif suffix in (".xlsx", ".xls"):
        encoding = suffix[1:]
        rows = READERS[encoding](path, sheet, max_cells)
        headers = next(rows, [])
    else:
        raise FileFormatError(f"{path.name}: unsupported file type {suffix or '(none)'!r}")
    cells = len(headers)
    arrow = balanced and not any("\n" in h or "\r" in h for h in headers)  # Arrow skips the header by lines
    headers = [h.strip() for h in headers]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise FileFormatError(f"{path.name}: no header row")
    positions, unmatched = _match(path, headers, aliases)
    return TableReader(path, encoding, {k: headers[p] for k, p in positions.items()}, unmatched,
                       chunk_rows, sheet, delimiter, positions, len(headers), cells, arrow, rows, max_cells)
