"""Protected student (and staff) values of delivered files, read through the feeds' own declarations, and a search
for them in what the hub shows outside its data tables.

The search compares tokens, never substrings: texts and values are split into the same tokens (ids, names, emails,
dates as written) and a value is found only as the same token, or the same run of tokens. Table rows are rendered
value by value as a person sees them (`render_rows`), not as Python reprs (whose datetime tuples put the
microseconds of a timestamp on their own). A number can still equal an unrelated number (a count, a size, the
fraction of a timestamp), so the fixtures' numeric ids are checked to be unambiguous (`ambiguous`) instead of being
dropped from the search.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from hub.load.dates import parse_dates
from hub.read.parsing import open_table
from hub.registry.declarations import Feed

# the elements the FERPA rule names: ids, names, birthdates, emails
PROTECTED_ELEMENTS = frozenset({"state student id", "local student id", "classlink user id", "staff id", "name",
                                "birthdate", "email"})


def protected_values(feed: Feed, path: Path, file_name: str | None = None) -> set[str]:
    """Values of the file's protected columns as delivered, dates also as the hub stores them (ISO). Values under 4
    characters (a code, an initial) are left out."""
    ft = feed.file_type_for(file_name or path.name)
    assert ft is not None, f"{feed.name} has no file type for {file_name or path.name}"
    reader = open_table(path, ft.aliases())
    columns = [c for c in ft.columns if c.element in PROTECTED_ELEMENTS and c.name in reader.columns]
    values: set[str] = set()
    for chunk in reader.chunks():
        for c in columns:
            values |= set(chunk[c.name].astype(str))
            if c.kind == "date":
                values |= {v for v in parse_dates(chunk[c.name], feed.date_formats)[0] if v}
    return {v.strip() for v in values if len(v.strip()) >= 4}


def ambiguous(values: Iterable[str]) -> list[str]:
    """Numeric values a log could hold by coincidence, sorted: without a leading zero and under 10 digits (counts,
    sizes, ports, microseconds, nanoseconds), or a Unix time in seconds of 2005-2099 or in milliseconds. A number
    with a leading zero and 7 or more digits is never written by a machine on its own."""
    def unclear(v: str) -> bool:
        if v.startswith("0"):
            return len(v) < 7
        return len(v) < 10 or (len(v) == 10 and 1_100_000_000 <= int(v) < 4_100_000_000) or len(v) == 13
    return sorted(v for v in values if v.isdigit() and unclear(v))


_TOKEN = re.compile(r"[\w.@'+-]+")  # ids, names, emails, dates as written
_ALNUM = re.compile(r"[^\W_]+")  # their alphanumeric parts (a name inside "Garcia-Lopez")
_EDGE = ".@'+-"


def tokens(text: str) -> list[str]:
    """The tokens of a text, in order, without the punctuation a sentence puts around them."""
    return [s for t in _TOKEN.findall(text) if (s := t.strip(_EDGE))]


def render_rows(rows: Iterable[Sequence[object]]) -> str:
    """Table rows as a person reads them: one value after another, each as its own text (a timestamp stays one
    value, '2026-12-01 22:33:19.605110', never a tuple of its parts)."""
    return "\n".join(" | ".join("" if v is None else str(v) for v in row) for row in rows)


def found(values: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The values that occur in any text token by token, sorted: a one-token value as a whole token (a word, not
    a number, may also be an alphanumeric part of one: 'Garcia' in 'Garcia-Lopez'); a value of several tokens
    ('Doe, Ana') as the same run of tokens."""
    wanted = {v: tuple(tokens(v)) for v in set(values)}
    wanted = {v: t for v, t in wanted.items() if t}
    hits: set[str] = set()
    for text in texts:
        seq = tokens(text)
        whole = set(seq)
        parts = {p for t in whole for p in _ALNUM.findall(t)}
        at: dict[str, list[int]] = defaultdict(list)
        for i, t in enumerate(seq):
            at[t].append(i)
        for v, vt in wanted.items():
            if len(vt) == 1:
                if vt[0] in whole or (not vt[0].isdigit() and vt[0] in parts):
                    hits.add(v)
            elif any(tuple(seq[i:i + len(vt)]) == vt for i in at.get(vt[0], ())):
                hits.add(v)
    return sorted(hits)
