"""A stable file of one tick into the archive and the ledger: its delivery day, identical bytes, holds, limits, and a
container's members one by one (hub/intake/tick.py lists and decides which files; this module receives them)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hub.intake import ledger
from hub.intake.container_members import record_skipped_members
from hub.intake.containers import ContainerError, other_members, unpack
from hub.intake.dependencies import dependency_hold
from hub.intake.siblings import sibling_hold
from hub.read.errors import FileFormatError
from hub.registry.declarations import Feed, FileType
from hub.registry.limits import xlsx_problem, zip_problem
from hub.registry.registry import Integration, Registry
from resources.archive import Archive, ArchivedFile, local_copy, name_problem
from resources.transport import RemoteFile, Transport, printable
from resources.warehouse import Warehouse


@dataclass
class PartitionRun:
    """A run to start: one district/day partition and the file types that arrived for it (or that the retry sweep,
    hub/intake/retries.py, imports again)."""

    district_id: str
    day: str
    file_types: set[str] = field(default_factory=set)
    delivery_ids: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # in its run key: the needed deliveries applied since the day ran
    # and when (a re-apply), or the run each retried delivery had last (a retry is a new run, never one Dagster dropped)
    attempt: int = 0  # the hub's retry of deliveries a dead run left behind: 1, 2, ...; 0: their first run


@dataclass
class TickResult:
    runs: list[PartitionRun]
    cursor: dict[str, list[float]]
    counts: Counter[str]
    error: str | None = None

    @property
    def skip_reason(self) -> str:
        if self.error:
            return self.error
        if not self.counts:
            return "no matching files"
        return "; ".join(f"{n} {what}" for what, n in sorted(self.counts.items()))


def delivery_day(mtime: float, tz: str) -> str:
    return dt.datetime.fromtimestamp(mtime, ZoneInfo(tz)).date().isoformat()


def remote_id(integration: Integration, remote: RemoteFile) -> str:
    return ledger.delivery_id(integration.id, remote.path, remote.size, remote.mtime, remote.rewritten)


def ledger_base(feed: Feed, integration: Integration, remote: RemoteFile, file_type: str, tz: str,
                now: float) -> dict:
    """The ledger row of a received file; its partition day is the modification day (reference files: the day
    received, as their modification day says nothing about when they apply)."""
    received = now if file_type in feed.reference_types() else remote.mtime
    return dict(delivery_id=remote_id(integration, remote),
                integration_id=integration.id, district_id=integration.district, feed=feed.name,
                file_type=file_type, remote_path=printable(remote.path), file_name=printable(remote.name),
                size=remote.size,
                mtime=dt.datetime.fromtimestamp(remote.mtime, dt.timezone.utc).replace(tzinfo=None),
                partition_date=delivery_day(received, tz))


class Batch:
    """The ledger writes of one tick, in one transaction at its end (`commit`). A DuckDB transaction opens the database
    file (about 0.3 s on a busy machine: one per file kept the demo's 66 EdReflect files past Dagster's 60 s deadline
    for a sensor tick, and its run requests were lost); files are copied, hashed and parsed before it, so the file
    stays unlocked for other processes' runs meanwhile. Each write sees those before it (identical bytes within a
    tick are a duplicate; a file staged after others sees them). A tick that stops records what it archived so far;
    a crash before the commit records nothing (the archived files are received again on the next tick)."""

    def __init__(self) -> None:
        self.writes: list[Write] = []

    def add(self, write: Write) -> None:
        self.writes.append(write)

    def commit(self, warehouse: Warehouse, runs: dict[str, PartitionRun], counts: Counter[str]) -> None:
        """Write them all; their runs and counts join the tick's once written."""
        if not self.writes:
            return
        staged = {day: replace(r, file_types=set(r.file_types), delivery_ids=list(r.delivery_ids))
                  for day, r in runs.items()}
        tally: Counter[str] = Counter()
        with warehouse.begin() as conn:
            for write in self.writes:
                write(conn, staged, tally)
        self.writes = []
        runs.update(staged)
        counts.update(tally)


Write = Callable[[sa.Connection, dict[str, PartitionRun], Counter[str]], None]


def receive(registry: Registry, feed: Feed, integration: Integration, transport: Transport, archive: Archive,
            batch: Batch, remote: RemoteFile, file_type: str, tz: str, now: float, hold: str | None,
            day: str | None = None) -> None:
    """Archive the file (outside any transaction) and add its ledger row to the tick's `batch`."""
    base = ledger_base(feed, integration, remote, file_type, tz, now)
    tick = None if day else now  # a fetch inside a run (its day given) never waits for the night's other files
    if day:
        base["partition_date"] = day
    day = base["partition_date"]
    if day < integration.start_date.isoformat():
        def skip(conn: sa.Connection, runs: dict[str, PartitionRun], counts: Counter[str]) -> None:
            ledger.record(conn, **base, status="skipped", reason="modified before the integration's start date")
            counts["older than the integration's start date"] += 1
        batch.add(skip)
        return
    got = archive.receive(transport, remote, integration.id, day)
    if file_type != CONTAINER and feed.load == "delta" and file_type not in feed.reference_types():
        base["partition_date"] = export_day(feed.file_type_for(remote.name) or feed.files[0], remote.path,
                                            got.path) or day
    needs = (registry, day, now) if hold is None and feed.needs else None
    if file_type == CONTAINER:
        _unpack(feed, integration, archive, batch, remote, got, base, day, hold, needs, tick)
        return
    batch.add(_record_file(feed, integration, base, got.sha256, got.path, hold, needs, tick))


_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def export_day(ft: FileType, remote_path: str, archived: Path) -> str | None:
    """A delta file's own date, where it carries one: a date in a folder of its path (2026-03-01 or 20260301), else
    the newest date of its `*_modified_date` column; None otherwise (the modification day decides)."""
    for folder in reversed(remote_path.split("/")[:-1]):
        if (m := _DATE.search(folder)) and (day := _iso(*m.groups())):
            return day
    dated = [c.name for c in ft.columns if c.name.endswith("_modified_date")]
    if not dated:
        return None
    from hub.read.parsing import open_table  # pandas, pyarrow: loaded when a delta file is read, not with the sensors

    try:
        reader = open_table(archived, {c: ft.column(c).headers for c in dated})
        days = {_iso(*m.groups()) for chunk in reader.chunks() for c in dated if c in chunk
                for v in chunk[c] if (m := _DATE.match(str(v)))}
    except (FileFormatError, OSError, UnicodeError):
        return None  # the schema gate reports an unreadable file; its modification day stands
    return max((d for d in days if d), default=None)


def _iso(year: str, month: str, day: str) -> str | None:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _record_file(feed: Feed, integration: Integration, base: dict, sha256: str, archive_path: str, hold: str | None,
                 needs: tuple[Registry, str, float] | None, tick: float | None) -> Write:
    """The write of one received file's ledger row; identical bytes start no run, a hold waits, anything else joins a
    run. `needs`: (registry, day, now) of a feed that waits for others' deliveries (hub/intake/dependencies.py);
    `tick`: the time of a sensor tick, whose files of a type staged after others wait for those of their night
    (hub/intake/siblings.py); None for a fetch inside a run.

    For delta feeds identical bytes on another day are a new change set (e.g. the same ids modified again); reference
    files are days-independent. Identical bytes of another file type are not a duplicate (e.g. two empty crosswalks)."""
    bomb = _workbook_problem(integration, archive_path)  # read outside the transaction

    def write(conn: sa.Connection, runs: dict[str, PartitionRun], counts: Counter[str]) -> None:
        status, reason, path, held = "queued", None, archive_path, hold
        if needs:
            held = dependency_hold(conn, needs[0], feed, integration, needs[1], needs[2], needs[2])
        dated = feed.load == "delta" and base["file_type"] not in feed.reference_types()
        same = ledger.find_same_bytes(conn, base["integration_id"], base["file_type"], sha256,
                                      base["partition_date"] if dated else None)
        if same:
            status, reason = "duplicate", f"same bytes as delivery {same.delivery_id}"
        if held is None and not same and tick is not None:
            held = sibling_hold(conn, feed, integration, base["file_type"], base["partition_date"], tick, tick,
                                runs.get(base["partition_date"]))
        if held and not same:  # archived now, run when the window opens (or by an operator's materialization)
            status, reason = "waiting", held
        if bomb and not same:  # kept in the archive but not importable (no archive_path): staging never opens it
            status, reason, path = "rejected", f"{base['file_name']}: not imported: {bomb}", None
        if not ledger.record(conn, **base, sha256=sha256, archive_path=path, status=status, reason=reason):
            counts["already received (by a concurrent tick)"] += 1
            return
        if bomb and not same:
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=base["file_name"], gate="limits", reason=str(reason),
                                    delivery_id=base["delivery_id"])
            counts["rejected: beyond the integration's limits"] += 1
            return
        if same:
            counts["re-uploaded with identical bytes (no run)"] += 1
        if same or held:
            return
        counts["new deliveries"] += 1
        run = runs.setdefault(base["partition_date"], PartitionRun(base["district_id"], base["partition_date"]))
        run.file_types.add(base["file_type"])
        run.delivery_ids.append(base["delivery_id"])

    return write


def _workbook_problem(integration: Integration, archive_path: str) -> str | None:
    """Why an XLSX workbook would expand beyond the integration's limits (None for other files)."""
    if not archive_path.lower().endswith(".xlsx"):
        return None
    with local_copy(archive_path) as path:
        return xlsx_problem(path, integration.limits)


CONTAINER = "container"  # ledger file type of an archive whose members are the delivery's files


def is_container(feed: Feed, name: str) -> bool:
    return any(fnmatch.fnmatch(name.lower(), p.lower()) for p in feed.containers)


def _unpack(feed: Feed, integration: Integration, archive: Archive, batch: Batch, remote: RemoteFile,
            got: ArchivedFile, base: dict, day: str, hold: str | None, needs: tuple[Registry, str, float] | None,
            tick: float | None) -> None:
    """Keep the container, then record each member that is a file of the feed as a delivery of its own."""
    def type_of(name: str) -> FileType | None:  # a member whose name the archive cannot keep is not extracted
        return None if name_problem(name) else feed.file_type_for(name, file_patterns=integration.file_patterns)

    expected = ", ".join(feed.all_patterns(integration.file_patterns))
    with local_copy(got.path) as container:
        try:
            if problem := zip_problem(container, integration.limits):  # from the zip's directory: nothing inflated
                raise ContainerError(f"{base['file_name']}: not unpacked: {problem}")
            members = list(unpack(archive, container, integration.id, day, lambda n: type_of(n) is not None))
            status, reason = ("unpacked", f"{len(members)} member(s) received") if members else (
                "rejected", f"no file of this feed inside (expected {expected})")
        except ContainerError as exc:
            members, status, reason = [], "rejected", str(exc)
        others = other_members(container, lambda n: type_of(n) is not None)
    if others:
        reason += f"; {len(others)} skipped: {', '.join(printable(n) for n, _, _ in others)} (not files of this feed)"

    def write(conn: sa.Connection, runs: dict[str, PartitionRun], counts: Counter[str]) -> None:
        ledger.record(conn, **base, sha256=got.sha256, archive_path=got.path, status=status, reason=reason)
        if members:  # a rejected container's reason lists them
            record_skipped_members(conn, base, remote.mtime, others,
                                   f"not a file of this feed inside {remote.name} (the feed takes {expected})")
        if status == "rejected":
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=base["file_name"], gate="container", reason=reason,
                                    delivery_id=base["delivery_id"])
        counts["containers unpacked" if members else "containers without files of this feed"] += 1

    batch.add(write)
    for m in members:
        path = printable(f"{remote.path}!{m.inner_path}")
        member = {**base, "file_type": type_of(m.name).name, "remote_path": path, "file_name": m.name, "size": m.size,
                  "delivery_id": ledger.delivery_id(integration.id, path, m.size, remote.mtime, remote.rewritten)}
        batch.add(_unless_recorded(member["delivery_id"],
                                   _record_file(feed, integration, member, m.sha256, m.path, hold, needs, tick)))


def _unless_recorded(delivery_id: str, write: Write) -> Write:
    """`write`, unless the ledger holds the delivery already (a container's member received on an earlier tick)."""
    def maybe(conn: sa.Connection, runs: dict[str, PartitionRun], counts: Counter[str]) -> None:
        if not ledger.get(conn, delivery_id):
            write(conn, runs, counts)
    return maybe
