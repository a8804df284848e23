"""One sensor tick for one integration: list once, wait for stable files, archive new bytes, record deliveries.

Plain Python (clock injected) so it is tested without Dagster; sensors/ wraps it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from hub import ledger
from hub.declarations import Feed
from hub.registry import FolderTransportConfig, Integration, Registry
from resources.archive import Archive
from resources.sftp import SftpTransport
from resources.transport import FolderTransport, RemoteFile, Transport, TransportError
from resources.warehouse import Warehouse

log = logging.getLogger("hub.intake")


def make_transport(integration: Integration, base_dir: Path | None = None) -> Transport:
    """The transport an integration's registry entry describes."""
    t = integration.transport
    if isinstance(t, FolderTransportConfig):
        root = Path(t.path)
        return FolderTransport(integration.id, root if root.is_absolute() or base_dir is None else base_dir / root)
    return SftpTransport(integration.id, host=t.host, port=t.port, username=t.username, remote_dir=t.remote_dir,
                         host_key=t.host_key, private_key_env=t.private_key_env, password_env=t.password_env)


@dataclass
class PartitionRun:
    """A run to start: one district/day partition and the file types that arrived for it."""

    district_id: str
    day: str
    file_types: set[str] = field(default_factory=set)
    delivery_ids: list[str] = field(default_factory=list)


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


def scan(*, registry: Registry, feed: Feed, integration: Integration, transport: Transport, archive: Archive,
         warehouse: Warehouse, cursor: dict[str, list[float]], now: float) -> TickResult:
    """Evaluate one tick. `cursor` maps remote path -> [size, mtime, first time seen with that size and mtime]."""
    tz = registry.timezone_of(integration)
    result = TickResult(runs=[], cursor={}, counts=Counter())
    try:
        with transport:
            listing = transport.list_files(integration.patterns or feed.all_patterns())
            _warn_deprecated(feed, transport, result)
            stable = _stable_files(feed, integration, warehouse, listing, cursor, now, result)
            runs: dict[str, PartitionRun] = {}
            for remote, file_type in stable:
                _receive(registry, feed, integration, transport, archive, warehouse, remote, file_type, tz, runs, result)
            result.runs = sorted(runs.values(), key=lambda r: r.day)  # oldest delivery day first
    except TransportError as exc:
        result.error = str(exc)
        result.cursor = cursor
    return result


def _warn_deprecated(feed: Feed, transport: Transport, result: TickResult) -> None:
    """Exports the feed no longer produces are recognised and skipped with a warning, not an error."""
    for remote in transport.list_files(feed.deprecated) if feed.deprecated else ():
        log.warning("skipped deprecated %s export: %s", feed.name, remote.name)
        result.counts["deprecated exports (skipped)"] += 1


def _stable_files(feed: Feed, integration: Integration, warehouse: Warehouse, listing: list[RemoteFile],
                  cursor: dict[str, list[float]], now: float, result: TickResult) -> list[tuple[RemoteFile, str]]:
    typed = [(f, ft.name) for f in listing if (ft := feed.file_type_for(f.name, integration.patterns))]
    ids = {f.path: ledger.delivery_id(integration.id, f.path, f.size, f.mtime) for f, _ in typed}
    with warehouse.begin() as conn:
        known = {i for i in ids.values() if ledger.get(conn, i)}
    stable = []
    for remote, file_type in typed:
        if ids[remote.path] in known:
            result.counts["already received"] += 1
            continue
        seen = cursor.get(remote.path)
        since = seen[2] if seen and seen[0] == remote.size and seen[1] == remote.mtime else now
        if now - since >= integration.quiet_period_seconds:
            stable.append((remote, file_type))
        else:
            result.cursor[remote.path] = [remote.size, remote.mtime, since]
            result.counts["still growing or recently changed (waiting for a quiet period)"] += 1
    return stable


def _receive(registry: Registry, feed: Feed, integration: Integration, transport: Transport, archive: Archive,
             warehouse: Warehouse, remote: RemoteFile, file_type: str, tz: str, runs: dict[str, PartitionRun],
             result: TickResult) -> None:
    day = delivery_day(remote.mtime, tz)
    did = ledger.delivery_id(integration.id, remote.path, remote.size, remote.mtime)
    base = dict(delivery_id=did, integration_id=integration.id, district_id=integration.district, feed=feed.name,
                file_type=file_type, remote_path=remote.path, file_name=remote.name, size=remote.size,
                mtime=dt.datetime.fromtimestamp(remote.mtime, dt.timezone.utc).replace(tzinfo=None), partition_date=day)
    if day < integration.start_date.isoformat():
        with warehouse.begin() as conn:
            ledger.record(conn, **base, status="skipped", reason=f"modified before the integration's start date")
        result.counts["older than the integration's start date"] += 1
        return
    got = archive.receive(transport, remote, integration.id, day)
    with warehouse.begin() as conn:
        same = ledger.find_same_bytes(conn, integration.id, got.sha256)
        status, reason = ("duplicate", f"same bytes as delivery {same.delivery_id}") if same else ("queued", None)
        ledger.record(conn, **base, sha256=got.sha256, archive_path=str(got.path), status=status, reason=reason)
    if same:
        result.counts["re-uploaded with identical bytes (no run)"] += 1
        return
    result.counts["new deliveries"] += 1
    run = runs.setdefault(day, PartitionRun(integration.district, day))
    run.file_types.add(file_type)
    run.delivery_ids.append(did)
