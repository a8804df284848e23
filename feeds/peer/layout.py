"""Load the declared PEER layout (layout.yaml): file types with their columns, and the PEER-to-Focus field map."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from feeds.peer.matching import link_students
from hub.registry.declarations import Column, FileType

LAYOUT = Path(__file__).with_name("layout.yaml")
_NAME = r"^(?P<code>\d{2})_"  # files start with the 2-digit FL district number


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    headers: tuple[str, ...] = ()
    required: bool = False
    nullable: bool = True
    kind: Literal["text", "date", "code"] = "text"
    pattern: str | None = None
    pattern_rule: str = ""
    codes: tuple[str, ...] | None = None
    element: str = ""  # the student data element it carries (the inventory's "what data goes where")
    blanks: tuple[str, ...] = ()  # values meaning "not applicable", read as blank


class FileSpec(_Strict):
    description: str
    patterns: tuple[str, ...]
    unique_key: tuple[str, ...] = ()
    columns: dict[str, ColumnSpec]


class FieldSpec(_Strict):
    """One Focus field PEER fills: where its value comes from and how it is written."""

    label: str
    file: str
    column: str
    kind: Literal["value", "log"] = "value"
    state_reportable: bool = False
    group: str | None = None  # all-or-nothing group: imported only when every member's column is non-blank
    where: dict[str, str] = {}  # log fields: rows of the file whose columns equal these values
    split: bool = False  # log fields: each character of the value is one record (e.g. exceptionality codes)


class Layout(_Strict):
    files: dict[str, FileSpec]
    fields: dict[str, FieldSpec]

    @model_validator(mode="after")
    def _known_columns(self) -> "Layout":
        for fid, f in self.fields.items():
            cols = self.files[f.file].columns if f.file in self.files else None
            if cols is None or f.column not in cols or any(c not in cols for c in f.where):
                raise ValueError(f"field {fid}: file {f.file!r} has no column {f.column!r} (or a 'where' column)")
        return self

    def file_types(self) -> tuple[FileType, ...]:
        return tuple(
            FileType(name, spec.patterns, tuple(Column(c, s.headers, s.required, s.nullable, s.kind, s.pattern,
                                                       s.pattern_rule, s.codes, element=s.element,
                                                       blanks=s.blanks)
                                                for c, s in spec.columns.items()),
                     unique_key=spec.unique_key, district_code_in_name=_NAME, description=spec.description,
                     link=link_students if "fleid" in spec.columns else None)
            for name, spec in self.files.items())


def load_layout(path: Path = LAYOUT) -> Layout:
    """The layout, read with libyaml's C loader where PyYAML has it (2 ms instead of 17 ms in every process that loads
    the definitions), same data."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return Layout.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))
