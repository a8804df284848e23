"""One sensor tick for one integration: list once, wait for stable files, archive new bytes, record deliveries.

Plain Python (clock injected) so it is tested without Dagster; sensors/ wraps it.
"""

from __future__ import annotations

import datetime as dt
import errno
import fnmatch
import logging
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from hub.intake import ledger
from hub.intake.dependencies import dependency_hold, epoch, reapply
from hub.intake.rewrites import rewritten, stale_anyway
from hub.intake.siblings import sibling_hold, take_along
from hub.intake.receive import (CONTAINER, Batch, PartitionRun, TickResult, is_container, ledger_base, receive,
                                remote_id)
from hub.registry.declarations import Feed
from hub.registry.registry import FolderTransportConfig, Integration, Registry
from hub.registry.schedule_rules import hold_reason, stale_reason
from resources.archive import Archive, name_problem
from resources.transport import FolderTransport, RemoteFile, Transport, TransportError, printable
from resources.warehouse import Warehouse

log = logging.getLogger("hub.intake.tick")


def make_transport(integration: Integration, base_dir: Path | None = None) -> Transport:
    """The transport an integration's registry entry describes."""
    t = integration.transport
    if isinstance(t, FolderTransportConfig):
        root = Path(t.path)
        return FolderTransport(integration.id, root if root.is_absolute() or base_dir is None else base_dir / root)
    from resources.sftp import SftpTransport  # paramiko: only runs and sensors that reach an SFTP server import it

    return SftpTransport(integration.id, host=t.host, port=t.port, username=t.username, remote_dir=t.remote_dir,
                         host_key=t.host_key, private_key_env=t.private_key_env, password_env=t.password_env)


def scan(*, registry: Registry, feed: Feed, integration: Integration, transport: Transport, archive: Archive,
         warehouse: Warehouse, cursor: dict[str, list[float]], now: float, day: str | None = None,
         waiting: bool = True) -> TickResult:
    """Evaluate one tick. `cursor` maps remote path -> [size, mtime, first time seen with that size and mtime].

    With `day` (a fetch inside a run): files count as stable once unmodified for the quiet period, and are
    recorded for that partition day instead of their modification day. `waiting=False`: the caller knows the ledger
    holds no `waiting` delivery of the integration (a folder that lists nothing then costs no warehouse query)."""
    tz = registry.timezone_of(integration)
    result = TickResult(runs=[], cursor={}, counts=Counter())
    runs: dict[str, PartitionRun] = {}
    try:
        with transport:
            listing = transport.list_files((*(integration.patterns or feed.all_patterns(integration.file_patterns)),
                                            *feed.containers,
                                            *feed.deprecated))
            listing = _warn_deprecated(feed, listing, result)
            stable = _stable_files(feed, integration, transport, warehouse, listing, cursor, now, result,
                                   by_mtime=day is not None)
            hold = hold_reason(registry, integration, now)
            batch = Batch()
            try:
                stale = _stale(feed, integration, warehouse, stable, now)
                for remote, file_type in sorted(stable, key=lambda s: _staged_later(feed, s[1])):
                    if _bad_name(feed, integration, batch, remote, file_type, tz, now, result):
                        continue
                    if not _too_old(feed, integration, batch, remote, file_type, tz, now, result,
                                    stale.get(remote.path)):
                        receive(registry, feed, integration, transport, archive, batch, remote, file_type, tz, now,
                                None if day else hold, day)
            finally:  # also what was archived before a fault: it runs
                batch.commit(warehouse, runs, result.counts)
            if day is None:  # a fetch inside a run is timed by its schedule or operator, not held
                if waiting or stable:  # (files received now may wait too)
                    _waiting(registry, feed, integration, warehouse, hold, now, runs, result)
                _reapply(registry, feed, integration, warehouse, runs, result)
                if runs and any(ft.after for ft in feed.files):
                    with warehouse.begin() as conn:
                        if added := take_along(conn, feed, integration, runs):
                            result.counts["applied again with the other files of their night"] += added
    except TransportError as exc:
        result.error = str(exc)
    except OSError as exc:  # e.g. the archive's disk is full
        result.error = (f"integration {integration.id}: a file could not be received: {_os_cause(exc)}. Nothing was "
                        "recorded for it; it is received again on a later tick once the cause is fixed.")
    except sa.exc.SQLAlchemyError as exc:  # the warehouse is down or refused a ledger write
        result.error = (f"integration {integration.id}: the warehouse refused the delivery ledger "
                        f"({type(getattr(exc, 'orig', None) or exc).__name__}); the tick is retried.")
    if result.error:
        result.cursor = {**cursor, **result.cursor}
        log.warning("tick of integration %s stopped: %s", integration.id, result.error)
    result.runs = sorted(runs.values(), key=lambda r: r.day)  # oldest delivery day first; also those before an error
    return result


def _staged_later(feed: Feed, file_type: str) -> bool:
    """Files of types staged after others are received last in a tick: those they go with join the run first."""
    return any(ft.name == file_type and ft.after for ft in feed.files)


def _os_cause(exc: OSError) -> str:
    """An OSError's cause without its file path (which may carry a hostile name): 'No space left on device
    (ENOSPC)'."""
    code = errno.errorcode.get(exc.errno or 0)
    return f"{exc.strerror or type(exc).__name__}" + (f" ({code})" if code else "")


def _bad_name(feed: Feed, integration: Integration, batch: Batch, remote: RemoteFile, file_type: str, tz: str,
              now: float, result: TickResult) -> bool:
    """A file whose name the hub cannot keep (a NUL, a backslash, a line break, too long) is recorded once as
    rejected with the reason; the tick goes on with the other files."""
    problem = name_problem(remote.path)
    if problem is None:
        return False
    reason = f"not received: {problem}"
    base = ledger_base(feed, integration, remote, file_type, tz, now)

    def write(conn: sa.Connection, runs: dict[str, PartitionRun], counts: Counter[str]) -> None:
        if ledger.record(conn, **base, status="rejected", reason=reason):
            ledger.log_ingest_error(conn, integration_id=integration.id, district_id=integration.district,
                                    file_name=base["file_name"], gate="file name", reason=reason,
                                    delivery_id=base["delivery_id"])
    batch.add(write)
    result.counts["rejected: a file name the hub cannot keep"] += 1
    return True


def _warn_deprecated(feed: Feed, listing: list[RemoteFile], result: TickResult) -> list[RemoteFile]:
    """Exports the feed no longer produces are recognised and skipped with a warning, not an error (same listing)."""
    keep = []
    for remote in listing:
        if any(fnmatch.fnmatch(remote.name.lower(), p.lower()) for p in feed.deprecated):
            log.warning("skipped deprecated %s export: %s", feed.name, printable(remote.name))
            result.counts["deprecated exports (skipped)"] += 1
        else:
            keep.append(remote)
    return keep


def _stable_files(feed: Feed, integration: Integration, transport: Transport, warehouse: Warehouse,
                  listing: list[RemoteFile], cursor: dict[str, list[float]], now: float, result: TickResult,
                  by_mtime: bool = False) -> list[tuple[RemoteFile, str]]:
    typed = [(f, CONTAINER) for f in listing if feed.containers and is_container(feed, f.name)]
    typed += [(f, ft.name) for f in listing
              if (ft := feed.file_type_for(f.name, integration.patterns, integration.file_patterns))]
    hashes = _received_hashes(warehouse, [remote_id(integration, f) for f, _ in typed])
    typed = [(f if stale_anyway(feed, integration, f, t, now) else rewritten(integration, transport, hashes, f), t)
             for f, t in typed]
    ids = {f.path: remote_id(integration, f) for f, _ in typed}
    known = set(hashes) | set(_received_hashes(warehouse, [ids[f.path] for f, _ in typed if f.rewritten]))
    stable = []
    for remote, file_type in typed:
        if ids[remote.path] in known:
            result.counts["already received"] += 1
            continue
        seen = cursor.get(remote.path)
        since = seen[2] if seen and seen[0] == remote.size and seen[1] == remote.mtime else now
        since = min(since, remote.mtime) if by_mtime else since
        if now - since >= integration.quiet_period_seconds:
            stable.append((remote, file_type))
        else:
            result.cursor[remote.path] = [remote.size, remote.mtime, since]
            result.counts["still growing or recently changed (waiting for a quiet period)"] += 1
    return stable


def _received_hashes(warehouse: Warehouse, ids: list[str]) -> dict[str, str | None]:
    """Delivery id -> content hash of those of `ids` the ledger holds: one transaction for a whole listing (a
    DuckDB transaction opens the database file, about 0.3 s on a busy machine: one per file kept a folder of 66
    files past Dagster's 60 s deadline for a sensor tick, whose run requests were then lost)."""
    if not ids:
        return {}
    with warehouse.begin() as conn:
        return ledger.hashes(conn, ids)


def _stale(feed: Feed, integration: Integration, warehouse: Warehouse, stable: list[tuple[RemoteFile, str]],
           now: float) -> dict[str, str]:
    """Remote path -> why a stable file of a snapshot or full feed is stale against the newest processed file of its
    type: one transaction for the tick (a delta feed's day order decides, not the newest processed file; a file
    too old by its age alone needs no warehouse)."""
    ask = [(r, t) for r, t in stable if feed.load != "delta" and t not in feed.reference_types()
           and stale_reason(r.mtime, now, integration.max_file_age_days, None) is None]
    if not ask:
        return {}
    reasons = {}
    with warehouse.begin() as conn:
        for remote, file_type in ask:
            if reason := stale_reason(remote.mtime, now, integration.max_file_age_days,
                                      _newest_processed(conn, feed, integration, file_type),
                                      None if remote.rewritten else _processed_at(conn, feed, integration, file_type)):
                reasons[remote.path] = reason
    return reasons


def _too_old(feed: Feed, integration: Integration, batch: Batch, remote: RemoteFile, file_type: str, tz: str,
             now: float, result: TickResult, stale: str | None) -> bool:
    """Freshness: a stale file (`stale`: why, against the newest processed file) is recorded once as skipped (its
    ledger row stops later ticks) and never run. Reference files are never stale."""
    if file_type in feed.reference_types():
        return False
    reason = stale_reason(remote.mtime, now, integration.max_file_age_days, None) or stale  # its age first
    if reason:
        base = ledger_base(feed, integration, remote, file_type, tz, now)
        batch.add(lambda conn, runs, counts: ledger.record(conn, **base, status="skipped", reason=reason))
        result.counts[f"skipped: {reason}"] += 1
    return reason is not None


def _newest_processed(conn: sa.Connection, feed: Feed, integration: Integration, file_type: str
                      ) -> dt.datetime | None:
    """The newest applied delivery's modification time of the file type (a file modified before it is stale), except
    for delta feeds, whose day order decides (hub/apply/delta.py): a late or re-sent earlier day is applied, never stale."""
    if feed.load == "delta":
        return None
    newest = ledger.newest_applied(conn, integration.id, file_type)
    return newest.mtime if newest else None


def _processed_at(conn: sa.Connection, feed: Feed, integration: Integration, file_type: str
                  ) -> dt.datetime | None:
    """Snapshot feeds: when the file type was last processed (a file modified before it is stale)."""
    return ledger.last_processed_at(conn, integration.id, file_type) if feed.load == "snapshot" else None


def _waiting(registry: Registry, feed: Feed, integration: Integration, warehouse: Warehouse, hold: str | None,
             now: float, runs: dict[str, PartitionRun], result: TickResult) -> None:
    """Deliveries waiting for the window, a blackout or a feed they need: report while they wait; once free, run them
    (or skip stale ones)."""
    with warehouse.begin() as conn:
        waiting = ledger.with_status(conn, integration.id, "waiting")
        if waiting and hold:
            result.counts[f"waiting: {hold}"] += len(waiting)
            return
        for d in waiting:
            since, reason = ledger.received(conn, d.delivery_id)
            if feed.needs and (need := dependency_hold(conn, registry, feed, integration, d.partition_date,
                                                       epoch(since), now)):
                if need != reason:  # the reason says what for, as of now
                    ledger.set_status(conn, [d.delivery_id], "waiting", need)
                result.counts[f"waiting: {need}"] += 1
                continue
            if sibling := sibling_hold(conn, feed, integration, d.file_type, d.partition_date, epoch(since), now,
                                       runs.get(d.partition_date)):
                if sibling != reason:
                    ledger.set_status(conn, [d.delivery_id], "waiting", sibling)
                result.counts[f"waiting: {sibling}"] += 1
                continue
            mtime = d.mtime.replace(tzinfo=dt.timezone.utc).timestamp()
            stale = None if d.file_type in feed.reference_types() else stale_reason(
                mtime, now, integration.max_file_age_days, _newest_processed(conn, feed, integration, d.file_type),
                _processed_at(conn, feed, integration, d.file_type))
            ledger.set_status(conn, [d.delivery_id], "skipped" if stale else "queued", stale)
            if stale:
                result.counts[f"skipped: {stale}"] += 1
                continue
            result.counts["new deliveries"] += 1
            run = runs.setdefault(d.partition_date, PartitionRun(integration.district, d.partition_date))
            run.file_types.add(d.file_type)
            run.delivery_ids.append(d.delivery_id)


def _reapply(registry: Registry, feed: Feed, integration: Integration, warehouse: Warehouse,
             runs: dict[str, PartitionRun], result: TickResult) -> None:
    """Days that ran before a delivery they need of the same day was applied run again (hub/intake/dependencies.py)."""
    if not feed.needs:
        return
    with warehouse.begin() as conn:
        again = reapply(conn, registry, feed, integration)
    for delivery_id, day, file_type, after in again:
        run = runs.setdefault(day, PartitionRun(integration.district, day))
        if delivery_id not in run.delivery_ids:
            run.file_types.add(file_type)
            run.delivery_ids.append(delivery_id)
            run.after.append(after)
            result.counts["applied again: a delivery they need arrived"] += 1
