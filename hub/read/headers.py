"""A text file's first pass (encoding, delimiter, header) and header matching against a file type's aliases."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from hub.read.errors import FileFormatError

_DELIMITERS = "\t|;^"


def normalize_header(h: str) -> str:
    """Case-, space-, underscore-, hyphen- and BOM-insensitive key: 'Local Student ID' -> 'localstudentid'."""
    return re.sub(r"[\s_\-\ufeff]+", "", h).casefold()


def sniff(path: Path) -> tuple[str, str, bool, bool, list[str], int]:
    """One streaming pass: (encoding, delimiter, quotes balanced, ends with a line break, header cells, header lines).

    Encoding: BOM -> utf-8-sig; whole file valid UTF-8 -> utf-8; else cp1252. Delimiter: from the first line.
    """
    from hub.read.utf8 import Stream  # pyarrow: loaded by the steps that read files, not with the definitions

    utf8, quotes, last = Stream(), 0, b""
    with open(path, "rb") as f:
        first = f.readline(1 << 20)
        delimiter = _detect_delimiter(first.decode("latin-1"))
        f.seek(0)
        while block := f.read(1 << 20):
            quotes += block.count(b'"')
            last = block[-1:]
            utf8.add(block)
    encoding = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8" if utf8.finish() else "cp1252"
    try:
        with open(path, encoding=encoding, newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            head = next(reader, [])
            lines = reader.line_num
    except UnicodeDecodeError:
        raise FileFormatError(f"{path.name}: not valid {encoding} text") from None
    except csv.Error as e:
        raise FileFormatError(f"{path.name}: unreadable header ({e})") from None
    return encoding, delimiter, quotes % 2 == 0, last in (b"\n", b"\r"), head, lines


def _detect_delimiter(line: str) -> str:
    """Most frequent of tab, pipe, semicolon, caret outside quotes if it beats the comma; else comma."""
    outside = "".join(line.split('"')[::2])
    best = max(_DELIMITERS, key=outside.count)
    return best if outside.count(best) > outside.count(",") else ","


def match_headers(path: Path, headers: list[str], aliases: Mapping[str, Sequence[str]]) -> tuple[dict[str, int], list[str]]:
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
