"""Protected student (and staff) values of delivered files, read through the feeds' own declarations, and a search
for them in what the hub shows outside its data tables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from hub.dates import parse_dates
from hub.declarations import Feed
from hub.parsing import open_table

# the elements the FERPA rule names: ids, names, birthdates, emails
PROTECTED_ELEMENTS = frozenset({"state student id", "local student id", "classlink user id", "staff id", "name",
                                "birthdate", "email"})


def protected_values(feed: Feed, path: Path, file_name: str | None = None) -> set[str]:
    """Values of the file's protected columns as delivered, dates also as the hub stores them (ISO). Values a
    count or a code could equal by chance (under 4 characters, numbers under 6 digits) are left out."""
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
    return {v for v in values if len(v) >= 4 and not (v.isdigit() and len(v) < 6)}


_WIDE = re.compile(r"[\w.@'+-]+")  # ids, names, emails, dates as written
_ALNUM = re.compile(r"[^\W_]+")  # their alphanumeric parts (a name inside "Garcia-Lopez")


def found(values: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The values that occur in any text as a whole token (not inside a longer word or number), sorted. A number
    counts only on its own, never as a part of a longer token: the fraction of a timestamp (1796164104.605173) is
    not a student number."""
    values = set(values)
    tokenised = {v for v in values if _WIDE.fullmatch(v)}
    hits: set[str] = set()
    for text in texts:
        whole = set(_WIDE.findall(text))
        whole |= {t.strip(".@'+-") for t in whole}
        parts = set(_ALNUM.findall(text))
        hits |= {v for v in tokenised if v in whole or (not v.isdigit() and v in parts)}
        hits |= {v for v in values - tokenised if v in text}
    return sorted(hits)
