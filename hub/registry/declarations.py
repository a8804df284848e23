"""How a feed is declared: its file types, columns, aliases, keys and rules.

Generic machinery (sensor, download, parse, validate, stage, gate, apply) reads these declarations;
a feed module only declares and adds its own apply rules.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict

from hub.registry.hold_rules import HoldRules
from hub.registry.windows import Blackout, Window

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class Column:
    """One canonical column of a file type."""

    name: str  # canonical, snake_case; also the staging column name
    aliases: tuple[str, ...] = ()  # headers accepted for it (the canonical name always is)
    required: bool = False  # the column must be present in the file
    nullable: bool = True  # a blank value is allowed
    # identifier: text, compared as written (leading zeros kept); Excel's float rendering of a whole number
    # (345678.0) is read as the number (345678), hub/load/validation.py
    kind: Literal["text", "date", "code", "identifier"] = "text"
    pattern: str | None = None  # regex a non-blank value must match in full
    pattern_rule: str = ""  # human wording of the pattern rule
    codes: tuple[str, ...] | None = None  # allowed values (after upper-casing for kind="code")
    description: str = ""
    element: str = ""  # the student data element it carries (inventory: what data goes where)
    blanks: tuple[str, ...] = ()  # values the layout writes for "not applicable" (e.g. 00000000): read as blank
    # an identifier the hub stores: "schema.table.column" of the district's stored values (rows keyed by
    # district_id). A file whose values look damaged by Excel against them is blocked whole (hub/gates/checks.py)
    stored_in: str | None = None

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class RowCheck:
    """A check across columns of one row: `test(frame)` returns a boolean Series (True = row passes)."""

    name: str  # reported as the failing column
    columns: tuple[str, ...]  # checked only when all are present in the file
    test: Callable[[Any], Any]
    rule: str  # human wording, shown in row errors


@dataclass(frozen=True)
class KeyedColumn:
    """A staged column holding the keyed hash (hub/keyed.py) of `<district id>:<prefix><source value>`, computed while
    staging: the apply reads a column instead of hashing (a blank source value stays NULL)."""

    name: str
    source: str  # a column of the file type
    prefix: str = ""


@dataclass(frozen=True)
class FileType:
    """A kind of file a feed receives; each becomes one partitioned source asset."""

    name: str  # snake_case; the asset is <feed>/<name>
    patterns: tuple[str, ...]  # fnmatch on the file name, case-insensitive
    columns: tuple[Column, ...]
    unique_key: tuple[str, ...] = ()  # must be unique within one file
    district_code_in_name: str | None = None  # regex with group 'code': the district's state id in the file name
    district_name_column: str | None = None  # column naming the district in words (matched fuzzily to the registry)
    link: "Callable[[LinkRequest], dict[str, int]] | None" = None  # counts per outcome ('linked' or a review reason)
    description: str = ""
    checks: tuple[RowCheck, ...] = ()  # cross-column row checks
    # "dated": belongs to its delivery day (the feed's load rules); "reference": reference data (e.g. a one-time
    # crosswalk) applied whenever received, outside a delta feed's day order, never skipped for age (hub/intake/tick.py)
    load: Literal["dated", "reference"] = "dated"
    # the file's header row as written -> why it is not this file type's layout (another layout of the same vendor
    # under this file name), or None: a reason rejects the file whole before any row is read
    layout: Callable[[Sequence[str]], str | None] | None = None
    group: str = ""  # catalog group within the feed (asset group <feed>_<group>), for feeds with many file types
    # file types of the same feed staged before this one in a run (its link gate reads their staged rows); a delivery
    # of this type waits for the same night's files of those types and runs with them (hub/intake/siblings.py)
    after: tuple[str, ...] = ()
    keyed: tuple[KeyedColumn, ...] = ()  # keyed hashes staged with the rows

    def stored_identifiers(self) -> tuple[Column, ...]:
        """Identifier columns the hub stores: checked for Excel damage before the file changes anything."""
        return tuple(c for c in self.columns if c.kind == "identifier" and c.stored_in)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def aliases(self) -> dict[str, tuple[str, ...]]:
        return {c.name: c.headers for c in self.columns}

    def matches(self, file_name: str, patterns: tuple[str, ...] | None = None) -> bool:
        return any(fnmatch.fnmatch(file_name.lower(), p.lower()) for p in (patterns or self.patterns))

    def district_code(self, file_name: str) -> str | None:
        if not self.district_code_in_name:
            return None
        m = re.match(self.district_code_in_name, file_name, flags=re.IGNORECASE)
        return m.group("code") if m else None


@dataclass(frozen=True)
class LinkRequest:
    """What a file type's linker gets: an open transaction and the staged rows of one delivery."""

    conn: "sa.Connection"
    staged: str  # SQL relation of the delivery's staged rows
    district_id: str
    file_type: str


@dataclass(frozen=True)
class Need:
    """Another feed whose delivery of the same night (same district) a feed's days wait for (hub/intake/dependencies.py)."""

    feed: str
    why: str = ""


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Feed:
    """A feed: what arrives, what it updates, and the feed's own apply rules."""

    name: str  # snake_case; asset key prefix and Dagster group
    title: str
    description: str
    files: tuple[FileType, ...]
    # the feed's own rules: ApplyContext -> ApplyStats (hub/apply/upsert.py); the context holds the feed and the
    # registry, so it sits on a floor above them and is not named here (imports point down)
    apply: Callable[[Any], Mapping[str, Any]]
    target_tables: tuple[str, ...]  # tables the apply step changes
    options_model: type[BaseModel] = NoOptions
    date_formats: tuple[str, ...] = ("YYYYMMDD",)  # accepted date formats unless an integration overrides them
    # snapshot: a newer file supersedes older ones; delta: days apply strictly in order (gaps hold, re-imports replay);
    # append: each delivery applies on its own (idempotent upserts keyed by the file's own ids)
    load: Literal["snapshot", "delta", "append"] = "snapshot"
    apply_asset: str = "apply"  # asset name of the apply step
    apply_description: str = ""
    kinds: frozenset[str] = field(default_factory=frozenset)
    containers: tuple[str, ...] = ()  # archives (e.g. "*.zip") whose matching members are files of the delivery
    nightly: str | None = None  # title of a nightly schedule per integration (fetch and import), beside the sensor
    nightly_cron: str = "0 2 * * *"  # in the integration's timezone
    deprecated: tuple[str, ...] = ()  # file names no longer produced: recognised and skipped with a warning
    # defaults of its integrations unless the registry says otherwise (hub/registry/registry.with_feed_defaults)
    default_window: Window | None = None  # daily processing window (local time)
    default_pause: Blackout | None = None  # e.g. a yearly summer pause
    default_cadence: Literal["nightly", "weekdays", "weekly"] | None = None  # how often a delivery is expected
    main_file: str = ""  # the file type a day is reported by (inventory rows); default: the first declared
    needs: tuple[Need, ...] = ()  # feeds whose same-night delivery its days wait for (bounded by the registry)
    default_holds: HoldRules = HoldRules()  # when a delivery waits for a person's approval (hub/registry/hold_rules.py)
    # a snapshot feed whose apply of a row depends on nothing but the row, the options and what this returns (conn,
    # options, district id -> that state as text; None: every row is staged): an integration with
    # `stage_changes_only: true` stages only the rows that changed since the applied delivery before it
    # (hub/load/changes.py). None: the feed does not support it; every night stages the whole file
    unchanged_state: Callable[[Any, BaseModel, str], str | None] | None = None

    def file_type_for(self, file_name: str, patterns: tuple[str, ...] = (),
                      file_patterns: Mapping[str, tuple[str, ...]] | None = None) -> FileType | None:
        """The first file type whose patterns match. An integration's `file_patterns` replace a file type's own
        (a district's file names); its `patterns` narrow which files are taken at all."""
        if patterns and not any(fnmatch.fnmatch(file_name.lower(), p.lower()) for p in patterns):
            return None
        own = file_patterns or {}
        return next((ft for ft in self.files if ft.matches(file_name, own.get(ft.name))), None)

    def elements(self) -> tuple[str, ...]:
        """The student data elements the feed may carry (the columns' element tags), sorted."""
        return tuple(sorted({c.element for ft in self.files for c in ft.columns if c.element}))

    def main_file_type(self) -> str:
        return self.main_file or self.files[0].name

    def reference_types(self) -> frozenset[str]:
        """The file types declared `load="reference"` (outside a delta feed's day order, never stale)."""
        return frozenset(ft.name for ft in self.files if ft.load == "reference")

    def all_patterns(self, file_patterns: Mapping[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
        own = file_patterns or {}
        return tuple(p for ft in self.files for p in own.get(ft.name, ft.patterns))
