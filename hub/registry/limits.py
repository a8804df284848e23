"""Limits on what a compressed file may expand to (zip containers and XLSX workbooks), per integration, checked from
the zip directory and the sheets' declared dimensions before anything is inflated: an archive bomb is refused with
the reason instead of filling the archive disk or the memory of staging."""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+\d+(?::[A-Z]+\d+)?)\"")
_SHEET_HEAD = 64 * 1024  # the <dimension> element comes before the sheet's data


class ArchiveLimits(BaseModel):
    """The registry's `limits:` of an integration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_uncompressed_bytes: Annotated[int, Field(ge=1)] = 1024**3  # a zip's or workbook's members, together
    max_ratio: Annotated[float, Field(ge=1)] = 200.0  # uncompressed bytes per byte of the file
    max_members: Annotated[int, Field(ge=1)] = 1000  # entries in a zip or workbook
    max_xlsx_cells: Annotated[int, Field(ge=1)] = 20_000_000  # rows x columns a worksheet declares


def zip_problem(path: Path, limits: ArchiveLimits) -> str | None:
    """Why the zip (or XLSX) at `path` is refused, from its directory alone; None when it is within the limits or
    not a readable zip (the reader reports that)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError):
        return None
    total, size = sum(i.file_size for i in infos), max(path.stat().st_size, 1)
    if len(infos) > limits.max_members:
        return f"{len(infos)} members, more than the integration's limit of {limits.max_members} (max_members)"
    if total > limits.max_uncompressed_bytes:
        return (f"expands to {total:,} bytes, more than the integration's limit of {limits.max_uncompressed_bytes:,} "
                "(max_uncompressed_bytes)")
    if total / size > limits.max_ratio:
        return (f"expands {total / size:,.0f} times its size, more than the integration's limit of "
                f"{limits.max_ratio:g} (max_ratio): an archive bomb?")
    return None


def xlsx_problem(path: Path, limits: ArchiveLimits) -> str | None:
    """Why the workbook at `path` is refused: its zip, or a worksheet declaring more cells than the limit."""
    if problem := zip_problem(path, limits):
        return problem
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    with zf.open(info) as sheet:
                        found = _DIMENSION.search(sheet.read(_SHEET_HEAD))
                    cells = _cells(found.group(1).decode()) if found else 0
                    if cells > limits.max_xlsx_cells:
                        return (f"a worksheet declares {cells:,} cells, more than the integration's limit of "
                                f"{limits.max_xlsx_cells:,} (max_xlsx_cells)")
    except (zipfile.BadZipFile, OSError, ValueError, zlib.error):
        return None
    return None


def _cells(ref: str) -> int:
    from openpyxl.utils.cell import range_boundaries  # openpyxl costs every run process ~0.1 s CPU; only XLSX needs it

    min_col, min_row, max_col, max_row = range_boundaries(ref if ":" in ref else f"{ref}:{ref}")
    return (max_col - min_col + 1) * (max_row - min_row + 1)
