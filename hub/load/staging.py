"""Parse an archived file in chunks, validate it, and stage it — all or nothing, in one transaction."""

from __future__ import annotations

import time
from contextlib import closing, nullcontext
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from hub.intake.ledger import Delivery
from hub.load import changes as changed
from hub.load.change_base import StaleChanges, same_day_changes
from hub.load.layouts import layout_errors
from hub.load.minimisation import record_dropped_columns
from hub.load.quarantine import KeyHashes, quarantine_rows, quarantine_staged, set_aside_duplicates, staged_rows
from hub.load.validation import RowError, build_schema, missing_columns, prepare_chunk
from hub.read.errors import FileFormatError
from hub.read.parsing import ROW, open_table
from hub.registry.declarations import Feed, FileType
from hub.registry.registry import Integration, Registry
from hub.store.keyed import hash_key, hash_series, hasher
from hub.store.schema import quarantine_table, staging_table
from hub.store.tables import deliveries, row_errors
from resources.archive import local_copy
from resources.bulk_load import BulkLoad
from resources.warehouse import Warehouse

FIRST_ERRORS = 20
REJECT_FILE, SKIP_ROWS = "reject_file", "skip_rows"


@dataclass
class StageResult:
    """What staging one delivery found; `errors` counts row errors (all stored in ops.row_errors)."""

    file_name: str
    rows: int = 0  # data records read (blank rows and footers not counted; rows with errors counted)
    errors: int = 0
    first_errors: list[RowError] = field(default_factory=list)
    encoding: str | None = None
    columns: list[str] = field(default_factory=list)
    unmatched_headers: list[str] = field(default_factory=list)
    seconds: float = 0.0
    on_row_error: str = REJECT_FILE
    max_row_error_share: float = 0.01
    file_error: str | None = None  # why the file as a whole is refused (truncated, unreadable, layout, columns)
    footers: list[int] = field(default_factory=list)  # rows read as footers
    unchanged: int = 0  # valid rows identical to a row of the applied delivery before it: not staged (changes.py)
    _bad_rows: set[int] = field(default_factory=set, repr=False)

    @property
    def rows_rejected(self) -> int:
        """Rows with at least one error."""
        return len(self._bad_rows)

    @property
    def share(self) -> float:
        return self.rows_rejected / self.rows if self.rows else 0.0

    @property
    def passed(self) -> bool:
        if self.file_error is not None:
            return False
        if self.on_row_error == SKIP_ROWS:
            return self.share <= self.max_row_error_share
        return self.errors == 0

    @property
    def skipped(self) -> int:
        """Rows quarantined while the others are staged (skip_rows, below the share)."""
        return self.rows_rejected if self.passed else 0

    @property
    def reason(self) -> str:
        """Why the file is rejected, for people: counts, rows, columns and rules, never values."""
        if self.file_error is not None:
            return self.file_error
        first = self.first_errors[0] if self.first_errors else None
        where = f"; first: row {first.row_number}, column {first.column}: {first.rule}" if first else ""
        if self.on_row_error == SKIP_ROWS:
            return (f"{self.rows_rejected} of {self.rows} rows have errors ({self.share:.1%}), above the integration's "
                    f"max_row_error_share of {self.max_row_error_share:.1%}{where}")
        return f"{self.errors} row error(s){where}"

    def add_errors(self, conn: sa.Connection, warehouse: Warehouse, delivery_id: str, errs: Sequence[RowError]) -> None:
        if not errs:
            return
        self.errors += len(errs)
        self.first_errors += list(errs[: max(0, FIRST_ERRORS - len(self.first_errors))])
        self._bad_rows.update(e.row_number for e in errs if e.row_number > 1)
        if self.file_error is None and (whole := next((e for e in errs if e.row_number <= 1), None)):
            self.file_error = whole.rule if whole.column == "*" else f"row 1, column {whole.column}: {whole.rule}"
        frame = pd.DataFrame({"delivery_id": delivery_id, "file_name": self.file_name,
                              "row_number": [e.row_number for e in errs], "column_name": [e.column for e in errs],
                              "rule": [e.rule for e in errs],
                              "line_number": pd.array([e.line for e in errs], dtype="Int64")})
        warehouse.load_frame(conn, "ops.row_errors", frame)


def stage_delivery(warehouse: Warehouse, feed: Feed, ft: FileType, delivery: Delivery, *,
                   date_formats: Sequence[str], value_maps: Mapping[str, Mapping[str, str]],
                   headers: Mapping[str, Sequence[str]] | None = None, chunk_rows: int = 25_000,
                   max_cells: int | None = None, on_row_error: str = REJECT_FILE,
                   max_row_error_share: float = 0.01, changes: changed.Changes | None = None) -> StageResult:
    """Stage `delivery`'s archived file into its staging table. `reject_file`: on any row error nothing stays staged.
    `skip_rows`: rows with errors go to the quarantine table, the others are staged, unless their share is above
    `max_row_error_share` (then nothing stays staged). A whole-file error (truncated, unreadable, layout, missing
    columns, a spreadsheet of more than `max_cells` cells) stages nothing either way. `headers` adds the
    integration's own headers to the declared ones. With `changes`, lines identical to the base's are not read."""
    started = time.monotonic()
    table, quarantine = staging_table(feed, ft), quarantine_table(feed, ft)
    target = f"staging.{table.name}"
    result = StageResult(file_name=delivery.file_name, on_row_error=on_row_error,
                         max_row_error_share=max_row_error_share)
    skip = on_row_error == SKIP_ROWS
    schema = build_schema(ft)
    keys = KeyHashes(ft.unique_key)
    keyed = _keyed_columns(ft, delivery.district_id)
    keep = changes.keep if changes is not None else (lambda frame: frame)
    # two runs of one integration: one after the other; the archived file may be in object storage (a local copy)
    # the spilled line digests are removed at the end, whatever happens (finish keeps what the next night needs)
    with warehouse.begin(lock=delivery.integration_id) as conn, local_copy(delivery.archive_path or "") as source, \
            closing(changes) if changes is not None else nullcontext():
        for t in (table, quarantine, row_errors):
            conn.execute(sa.delete(t).where(t.c.delivery_id == delivery.delivery_id))
        load = BulkLoad(warehouse, conn, target)
        reader = None
        try:
            aliases = {c: (*hs, *(headers or {}).get(c, ())) for c, hs in ft.aliases().items()}
            reader = changes.open(source, aliases, chunk_rows, max_cells) if changes is not None else \
                open_table(source, aliases, chunk_rows=chunk_rows, max_cells=max_cells)
            result.encoding, result.columns = reader.encoding, list(reader.columns)
            result.unmatched_headers = list(reader.unmatched_headers)
            record_dropped_columns(conn, delivery, result.unmatched_headers)
            result.add_errors(conn, warehouse, delivery.delivery_id,
                              layout_errors(ft, reader) or missing_columns(ft, result.columns))
            for chunk in reader.chunks():
                chunk, errs = prepare_chunk(ft, chunk, schema, date_formats, value_maps)
                unread = reader.take_errors()  # records not in the chunk (wrong field count)
                errs = sorted([*unread, *errs], key=lambda e: (e.row_number, e.column))
                result.rows = reader.records
                if errs:
                    load.close()  # the COPY ends before errors are written
                    result.add_errors(conn, warehouse, delivery.delivery_id, errs)
                if skip and result.file_error is None:
                    keys.add(chunk)
                    bad = chunk[ROW].isin([e.row_number for e in errs]).to_numpy()
                    if errs:
                        quarantine_rows(conn, warehouse, quarantine, delivery.delivery_id, chunk[bad], errs, unread)
                    load.write(keep(keyed(staged_rows(chunk[~bad], delivery.delivery_id))))
                elif result.passed:
                    load.write(keep(keyed(staged_rows(chunk, delivery.delivery_id))))
                    keys.add(chunk)
            unread = reader.take_errors()  # a last record of another field count, after the last chunk
            load.close()
            result.add_errors(conn, warehouse, delivery.delivery_id, unread)
            if skip and result.file_error is None and unread:
                quarantine_rows(conn, warehouse, quarantine, delivery.delivery_id, pd.DataFrame({ROW: []}), unread, unread)
            result.rows, result.footers = reader.records, list(reader.footers)
        except FileFormatError as exc:
            load.close()
            # the file as a whole (row 0; a truncated upload is not an error of its last row), named as delivered
            rule = str(exc).replace(source.name, delivery.file_name)  # the local copy has the archived name
            result.add_errors(conn, warehouse, delivery.delivery_id, [RowError(0, "*", rule)])
            result.rows = reader.records if reader is not None else 0
        finally:
            load.close()
        if (skip or result.passed) and result.file_error is None and keys.may_repeat():
            dups = set_aside_duplicates(conn, target, quarantine, ft, delivery.delivery_id, skip)
            result.add_errors(conn, warehouse, delivery.delivery_id, dups)
            if skip and dups:
                quarantine_staged(conn, target, quarantine, ft, delivery.delivery_id, dups)
        if not result.passed:
            for t in (table, quarantine):
                conn.execute(sa.delete(t).where(t.c.delivery_id == delivery.delivery_id))
        if changes is not None:  # lines left out and an error or a key repeated in the file: FullNeeded (rolled back)
            changes.finish(conn, result.passed and not result.skipped, result.errors > 0)
            result.unchanged = changes.unchanged if result.passed else 0
        if result.passed:  # row estimates for the apply's joins (autovacuum would come too late)
            warehouse.analyze(conn, target, ["delivery_id"])
    result.seconds = round(time.monotonic() - started, 3)
    return result


def stage_changes(warehouse: Warehouse, registry: Registry, feed: Feed, ft: FileType, integration: Integration,
                  delivery: Delivery, **options: object) -> StageResult:
    """stage_delivery, staging only the rows that changed since the applied delivery before it where that is safe
    (hub/load/changes.py); the whole file when a key repeats in it."""
    with warehouse.begin() as conn:
        changes = changed.prepare(conn, registry, feed, ft, integration, delivery)
        others = same_day_changes(conn, delivery)
        if changes is None:
            changed.forget(conn, delivery.delivery_id)
    for other in others:
        oft = next(f for f in feed.files if f.name == other.file_type)
        again = stage_delivery(warehouse, feed, oft, other, changes=changed.Changes(other, "", key=oft.unique_key),
                               **options)  # type: ignore[arg-type]
        if not again.passed:
            raise StaleChanges(f"{other.file_name} could not be staged again whole beside {delivery.file_name}:"
                                       f" {again.reason}")
    try:
        return stage_delivery(warehouse, feed, ft, delivery, changes=changes, **options)  # type: ignore[arg-type]
    except changed.FullNeeded:
        return stage_delivery(warehouse, feed, ft, delivery, changes=changes and changes.whole(), **options)  # type: ignore[arg-type]


def _keyed_columns(ft: FileType, district_id: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Adds the file type's keyed hash columns (KeyedColumn) to a frame of rows to stage."""
    one = hasher(hash_key()) if ft.keyed else None

    def add(frame: pd.DataFrame) -> pd.DataFrame:
        for k in ft.keyed:
            frame[k.name] = hash_series(frame[k.source], f"{district_id}:{k.prefix}", one) if k.source in frame \
                else None
        return frame
    return add


def rows_set_aside(conn: sa.Connection, feed: Feed, file_type: str, delivery_id: str) -> int:
    """Rows of a staged delivery kept in its quarantine table (skip_rows): never applied."""
    ft = next(f for f in feed.files if f.name == file_type)
    q = quarantine_table(feed, ft)
    return conn.execute(sa.select(sa.func.count()).select_from(q).where(q.c.delivery_id == delivery_id)).scalar_one()


def applied_outcome(conn: sa.Connection, feed: Feed, file_type: str, delivery_id: str) -> str:
    """'applied', or 'applied with N rows rejected' (also the applied delivery's reason) when skip_rows set rows
    of it aside."""
    if not (n := rows_set_aside(conn, feed, file_type, delivery_id)):
        return "applied"
    outcome = f"applied with {n} rows rejected"
    conn.execute(sa.update(deliveries).where(deliveries.c.delivery_id == delivery_id).values(reason=outcome))
    return outcome
