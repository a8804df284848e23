"""A stable file of one tick into the archive and the ledger: its delivery day, identical bytes, holds, limits, and a
container's members one by one (hub/intake/tick.py lists and decides which files; this module receives them)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

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
    after: list[str] = field(default_factory=list)  # in its run key: the needed deliveries applied since the day
    # ran (a re-apply), or the run each retried delivery had last (a retry is a new run, never one Dagster dropped)
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


def receive(registry: Registry, feed: Feed, integration: Integration, transport: Transport, archive: Archive,
            warehouse: Warehouse, remote: RemoteFile, file_type: str, tz: str, now: float,
            runs: dict[str, PartitionRun], result: TickResult, hold: str | None, day: str | None = None) -> None:
    base = ledger_base(feed, integration, remote, file_type, tz, now)
    tick = None if day else now  # a fetch inside a run (its day given) never waits for the night's other files
    if day:
        base["partition_date"] = day
    day = base["partition_date"]
    if day < integration.start_date.isoformat():
        with warehouse.begin() as conn:
            ledger.record(conn, **base, status="skipped", reason="modified before the integration's start date")
        result.counts["older than the integration's start date"] += 1
        return
    got = archive.receive(transport, remote, integration.id, day)
    if file_type != CONTAINER and feed.load == "delta" and file_type not in feed.reference_types():
        base["partition_date"] = export_day(feed.file_type_for(remote.name) or feed.files[0], remote.path,
                                            got.path) or day
    if hold is None and feed.needs:
        with warehouse.begin() as conn:
            hold = dependency_hold(conn, registry, feed, integration, day, now, now)
    if file_type == CONTAINER:
        _unpack(feed, integration, archive, warehouse, remote, got, base, day, runs, result, hold, tick)
        return
    _record_file(feed, integration, warehouse, base, got.sha256, got.path, hold, runs, result, tick)


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


def _record_file(feed: Feed, integration: Integration, warehouse: Warehouse, base: dict, sha256: str,
                 archive_path: str, hold: str | None, runs: dict[str, PartitionRun], result: TickResult,
                 tick: float | None) -> None:
    """Ledger row for one received file; identical bytes start no run, a hold waits, anything else joins a run.
    `tick`: the time of a sensor tick, whose files of a type staged after others wait for those of their night
    (hub/intake/siblings.py); None for a fetch inside a run.

    For delta feeds identical bytes on another day are a new change set (e.g. the same ids modified again); reference
    files are days-independent. Identical bytes of another file type are not a duplicate (e.g. two empty crosswalks)."""
    with warehouse.begin() as conn:
        dated = feed.load == "delta" and base["file_type"] not in feed.reference_types()
        same = ledger.find_same_bytes(conn, base["integration_id"], base["file_type"], sha256,
                                      base["partition_date"] if dated else None)
        status, reason = ("duplicate", f"same bytes as delivery {same.delivery_id}") if same else ("queued", None)
        if hold is None and not same and tick is not None:
            hold = sibling_hold(conn, feed, integration, base["file_type"], base["partition_date"], tick, tick,
                                runs.get(base["partition_date"]))
        if hold and not same:  # archived now, run when the window opens (or by an operator's materialization)
            status, reason = "waiting", hold
        bomb = None if same else _workbook_problem(integration, archive_path)
        if bomb:  # kept in the archive but not importable (no archive_path): staging never opens it
            status, reason, archive_path = "rejected", f"{base['file_name']}: not imported: {bomb}", None
        if not ledger.record(conn, **base, sha256=sha256, archive_path=archive_path, status=status, reason=reason):
            result.counts["already received (by a concurrent tick)"] += 1
            return
        if bomb:
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=base["file_name"], gate="limits", reason=str(reason),
                                    delivery_id=base["delivery_id"])
    if bomb:
        result.counts["rejected: beyond the integration's limits"] += 1
        return
    if same:
        result.counts["re-uploaded with identical bytes (no run)"] += 1
    if same or hold:
        return
    result.counts["new deliveries"] += 1
    run = runs.setdefault(base["partition_date"], PartitionRun(base["district_id"], base["partition_date"]))
    run.file_types.add(base["file_type"])
    run.delivery_ids.append(base["delivery_id"])


def _workbook_problem(integration: Integration, archive_path: str) -> str | None:
    """Why an XLSX workbook would expand beyond the integration's limits (None for other files)."""
    if not archive_path.lower().endswith(".xlsx"):
        return None
    with local_copy(archive_path) as path:
        return xlsx_problem(path, integration.limits)


CONTAINER = "container"  # ledger file type of an archive whose members are the delivery's files


def is_container(feed: Feed, name: str) -> bool:
    return any(fnmatch.fnmatch(name.lower(), p.lower()) for p in feed.containers)


def _unpack(feed: Feed, integration: Integration, archive: Archive, warehouse: Warehouse, remote: RemoteFile,
            got: ArchivedFile, base: dict, day: str, runs: dict[str, PartitionRun], result: TickResult,
            hold: str | None, tick: float | None) -> None:
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
    with warehouse.begin() as conn:
        ledger.record(conn, **base, sha256=got.sha256, archive_path=got.path, status=status, reason=reason)
        if members:  # a rejected container's reason lists them
            record_skipped_members(conn, base, remote.mtime, others,
                                   f"not a file of this feed inside {remote.name} (the feed takes {expected})")
        if status == "rejected":
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=base["file_name"], gate="container", reason=reason,
                                    delivery_id=base["delivery_id"])
    result.counts["containers unpacked" if members else "containers without files of this feed"] += 1
    for m in members:
        path = printable(f"{remote.path}!{m.inner_path}")
        member = {**base, "file_type": type_of(m.name).name, "remote_path": path, "file_name": m.name, "size": m.size,
                  "delivery_id": ledger.delivery_id(integration.id, path, m.size, remote.mtime, remote.rewritten)}
        with warehouse.begin() as conn:
            if ledger.get(conn, member["delivery_id"]):
                continue
        _record_file(feed, integration, warehouse, member, m.sha256, m.path, hold, runs, result, tick)
