"""Nights that cost what changed: a snapshot delivery stages only the rows that differ from the applied delivery before it.

Each staged delivery of an integration that opts in (`stage_changes_only: true` in the registry; off by default)
whose feed allows it (Feed.unchanged_state) keeps a 128-bit digest of every row it stages
(ops.row_hashes, written in the staging transaction; digests only, never values). The next delivery of the same
integration and file type compares its validated rows with them and stages only the rows that are new or differ;
the rows left out are counted (ops.unchanged_rows, the delivery's "rows unchanged"). Applying an unchanged row would
change nothing, so the apply's work follows the changes. Every row is still read and validated: errors name the file,
row and column as before, and a key repeated anywhere in the file is still caught (the file is then staged whole).

The whole file is staged, and its digests kept for the next night, whenever the shortcut could be wrong: no earlier
applied delivery, or its digests are missing or were taken under another registry entry, declaration, feed state
(e.g. school entities) or hub code (the fingerprint); the delivery is not newer than it (a re-import, an older file);
it was not the last delivery of its type applied; it set rows aside or its day was a limited import; another file
type of the feed came the same day (their rows are merged field by field); or anything else wrote the feed's target
tables of the district since it was applied (another feed, a status change).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from hub.intake.ledger import Delivery
from hub.registry.declarations import Feed, FileType
from hub.registry.registry import Integration, Registry
from hub.registry.schedule_rules import limited_reason
from hub.store.keyed import hash_key
from hub.store.tables import deliveries, delivery_events, field_audit, row_hashes, unchanged_rows

NOT_HASHED = frozenset({"delivery_id", "source_row", "source_line"})  # where a row sits, not what it says
SEP, NULL = "\x1f", "\x1e"  # field separator and the text of a missing value in a row's digest
CODE = ("hub/load", "hub/read", "hub/apply", "hub/store", "resources/warehouse.py")  # code a row's apply depends on
OPEN = ("staged", "held", "queued", "waiting", "applied")  # statuses of a delivery that is or may be applied


class StaleChanges(RuntimeError):
    """A delivery staged as its changes may no longer be applied so: its base is not the last applied delivery any
    more, or something else wrote the target tables since (the message names files and deliveries only)."""


class FullNeeded(Exception):
    """The file repeats a unique key: staged whole, so the duplicate search sees every row."""


@dataclass
class Changes:
    """Digests of one delivery's rows while it is staged, and (with a `base`) the base's digests to leave out."""

    delivery: Delivery
    fingerprint: str
    base: str | None = None
    previous: np.ndarray | None = None  # the base's digests, (n, 2) uint64, sorted by row
    unchanged: int = 0
    key: tuple[str, ...] = ()
    _parts: list[np.ndarray] = field(default_factory=list, repr=False)
    _keys: list[np.ndarray] = field(default_factory=list, repr=False)  # 64-bit hashes of every row's unique key

    def whole(self) -> Changes:
        """The same delivery staged whole (its digests kept)."""
        return Changes(self.delivery, self.fingerprint, key=self.key)

    def keep(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of `frame` (rows to stage) that are new or changed; every row's digest is kept."""
        digests = row_digests(frame)
        self._parts.append(digests)
        self._keys.append(_key_hashes(frame, self.key))
        if self.previous is None or not len(frame):
            return frame
        same = _contains(self.previous, digests)
        self.unchanged += int(same.sum())
        return frame[~same]

    def finish(self, conn: sa.Connection, complete: bool, repeats: bool, rejected: bool) -> None:
        """In the staging transaction: keep the digests when every row of the file was staged cleanly (`complete`),
        and the count of rows left out. With rows left out, a key that may repeat (`repeats`: staging's own search,
        which sees the staged rows only) among the rows kept (or beside `rejected` rows) stages the file again whole."""
        if repeats and self.unchanged and (rejected or _repeated(self._keys)):
            raise FullNeeded
        forget(conn, self.delivery.delivery_id)
        _forget_older(conn, self.delivery)
        if not complete:
            return
        digests = np.concatenate(self._parts) if self._parts else np.empty((0, 2), np.uint64)
        digests = digests[np.lexsort((digests[:, 1], digests[:, 0]))]
        conn.execute(sa.insert(row_hashes).values(delivery_id=self.delivery.delivery_id, fingerprint=self.fingerprint,
                                                  rows=len(digests), digests=digests.tobytes()))
        if self.base is not None:
            conn.execute(sa.insert(unchanged_rows).values(delivery_id=self.delivery.delivery_id, base_delivery_id=self.base,
                                                          rows=self.unchanged))


def _forget_older(conn: sa.Connection, delivery: Delivery) -> None:
    """Digests of the integration's deliveries of the type that no night compares with any more: all but those of
    the last one applied and of those not final yet."""
    d, e = deliveries.c, delivery_events.c
    same_type = sa.and_(d.integration_id == delivery.integration_id, d.file_type == delivery.file_type)
    last = sa.select(e.delivery_id).join(deliveries, e.delivery_id == d.delivery_id).where(
        same_type, e.status == "applied").order_by(e.occurred_at.desc()).limit(1).scalar_subquery()
    done = sa.select(d.delivery_id).where(same_type, d.status.not_in(OPEN[:-1]), d.delivery_id != sa.func.coalesce(
        last, ""), d.delivery_id != delivery.delivery_id)
    conn.execute(sa.delete(row_hashes).where(row_hashes.c.delivery_id.in_(done)))


def row_digests(frame: pd.DataFrame) -> np.ndarray:
    """(n, 2) uint64: two 64-bit digests of each row's values (column order as staged; a missing value differs from
    an empty one). A row whose text holds the separator characters gets digests no other row has."""
    cols = [c for c in frame.columns if c not in NOT_HASHED]
    if not cols or not len(frame):
        return np.empty((len(frame), 2), np.uint64)
    arrays = [pc.cast(pa.array(frame[c].array if hasattr(frame[c], "array") else frame[c], from_pandas=True),
                      pa.string()) for c in cols]
    nulls = np.sum([a.is_null().to_numpy(zero_copy_only=False) for a in arrays], axis=0)
    joined = pc.binary_join_element_wise(*[pc.fill_null(a, NULL) for a in arrays], SEP)
    plain = np.ones(len(frame), bool)
    if not _only_marks(joined, len(frame) * (len(cols) - 1), int(nulls.sum())):  # a value holds a mark: which rows
        plain = (pc.count_substring(joined, SEP).to_numpy(zero_copy_only=False) == len(cols) - 1) & \
                (pc.count_substring(joined, NULL).to_numpy(zero_copy_only=False) == nulls)
    text = joined.to_numpy(zero_copy_only=False)
    out = np.stack([pd.util.hash_array(text, hash_key=k, categorize=False) for k in _keys()], axis=1)
    out[~plain] = np.iinfo(np.uint64).max  # never matches a stored digest of a plain row (see _contains)
    out[~plain, 1] = np.arange((~plain).sum(), dtype=np.uint64)
    return out


def _key_hashes(frame: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray:
    """64-bit hashes of the rows' unique keys (rows with a blank key part are not compared, as in staging)."""
    if not key or not all(k in frame for k in key) or not len(frame):
        return np.empty(0, np.uint64)
    cols = [pc.cast(pa.array(frame[k].array, from_pandas=True), pa.string()) for k in key]
    filled = np.logical_and.reduce([pc.fill_null(pc.not_equal(c, ""), False).to_numpy(zero_copy_only=False)
                                    for c in cols])
    joined = cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, SEP)
    return pd.util.hash_array(joined.filter(pa.array(filled)).to_numpy(zero_copy_only=False), categorize=False)


def _repeated(parts: list[np.ndarray]) -> bool:
    """Whether two key hashes meet (an equal key always does; keys alike in 64 bits stage whole, safely)."""
    hashes = np.sort(np.concatenate(parts)) if parts else np.empty(0, np.uint64)
    return bool((hashes[1:] == hashes[:-1]).any())


def _keys() -> tuple[str, ...]:
    """Two 16-character SipHash keys derived from the hub's hash key: digests are keyed like every stored hash."""
    secret = hash_key()
    return tuple(hmac.new(secret, f"row digest {i}".encode(), hashlib.sha256).hexdigest()[:16] for i in (1, 2))


def _only_marks(joined: pa.Array, separators: int, nulls: int) -> bool:
    """Whether the joined rows hold exactly the separators and null marks the join put there (one pass over bytes)."""
    joined = joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
    wide = np.int64 if pa.types.is_large_string(joined.type) else np.int32
    offsets = np.frombuffer(joined.buffers()[1], wide)[joined.offset:joined.offset + len(joined) + 1]
    data = np.frombuffer(joined.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    return int(np.count_nonzero(data == ord(SEP))) == separators and int(np.count_nonzero(data == ord(NULL))) == nulls


def _contains(sorted_digests: np.ndarray, digests: np.ndarray) -> np.ndarray:
    """Which `digests` rows are in `sorted_digests` (both digests equal). Rows without a plain digest never are."""
    first = sorted_digests[:, 0]
    at = np.searchsorted(first, digests[:, 0])
    inside = at < len(first)
    hit = np.zeros(len(digests), bool)
    hit[inside] = (first[at[inside]] == digests[inside, 0]) & (sorted_digests[at[inside], 1] == digests[inside, 1])
    hit &= digests[:, 0] != np.iinfo(np.uint64).max
    return hit  # an equal first digest of two stored rows (1 in 2^64): a row may count as changed, never the reverse


def prepare(conn: sa.Connection, registry: Registry, feed: Feed, ft: FileType, integration: Integration,
            delivery: Delivery) -> Changes | None:
    """What staging `delivery` compares with: None when the feed keeps no digests (stage every row); a Changes
    without a base when the whole file must be staged (its digests are kept for the next night)."""
    if not integration.stage_changes_only or feed.unchanged_state is None or feed.load != "snapshot" \
            or ft.load == "reference" or not ft.unique_key:
        return None
    state = feed.unchanged_state(conn, feed.options_model.model_validate(integration.options), integration.district)
    if state is None:
        return None
    out = Changes(delivery, fingerprint(registry, feed, ft, integration, state), key=tuple(ft.unique_key))
    base = _base(conn, registry, feed, integration, delivery)
    if base is None:
        return out
    row = conn.execute(sa.select(row_hashes.c.fingerprint, row_hashes.c.digests, row_hashes.c.rows)
                       .where(row_hashes.c.delivery_id == base.delivery_id)).first()
    if row is None or row.fingerprint != out.fingerprint:
        return out
    out.base, out.previous = base.delivery_id, np.frombuffer(bytes(row.digests), np.uint64).reshape(-1, 2)
    return out


def _base(conn: sa.Connection, registry: Registry, feed: Feed, integration: Integration,
          delivery: Delivery) -> Delivery | None:
    """The applied delivery `delivery` may be staged as changes against, or None."""
    d, e = deliveries.c, delivery_events.c
    same_type = sa.and_(d.integration_id == delivery.integration_id, d.file_type == delivery.file_type)
    last = conn.execute(sa.select(deliveries, e.occurred_at).join(delivery_events, e.delivery_id == d.delivery_id)
                        .where(same_type, e.status == "applied")
                        .order_by(e.occurred_at.desc()).limit(1)).first()
    if last is None or last.status != "applied" or last.delivery_id == delivery.delivery_id \
            or last.mtime >= delivery.mtime:
        return None  # nothing applied, a re-import, an older file, or the last applied was re-imported over it
    base, applied_at = Delivery.from_row(last), last.occurred_at
    for day in (base.partition_date, delivery.partition_date):
        if limited_reason(registry, integration, dt.date.fromisoformat(day)):
            return None
    other_types = sa.select(d.delivery_id).where(
        d.integration_id == delivery.integration_id, d.file_type != delivery.file_type, d.status.in_(OPEN),
        d.partition_date.in_((base.partition_date, delivery.partition_date))).limit(1)
    if conn.execute(other_types).first() is not None:
        return None
    return None if _written_since(conn, feed, integration, delivery.file_type, applied_at) else base


def check_base(conn: sa.Connection, registry: Registry, feed: Feed, integration: Integration,
               delivery: Delivery) -> None:
    """Before `delivery` is applied: a delivery staged as its changes still has its base as the last applied
    delivery of its type, and nothing else wrote the target tables since; else StaleChanges."""
    recorded = conn.execute(sa.select(unchanged_rows.c.base_delivery_id)
                            .where(unchanged_rows.c.delivery_id == delivery.delivery_id)).scalar()
    if recorded is None:
        return
    base = _base(conn, registry, feed, integration, delivery)
    if base is None or base.delivery_id != recorded:
        raise StaleChanges(f"{delivery.file_name} ({delivery.delivery_id}) was staged as its changes against delivery "
                           f"{recorded}, which is no longer the last applied {delivery.file_type} file of "
                           f"{integration.id} with nothing else written since: import its day again (the whole file "
                           "is staged then)")


def same_day_changes(conn: sa.Connection, delivery: Delivery) -> list[Delivery]:
    """Deliveries of the feed's other file types on `delivery`'s day staged as their changes: a day of several files
    merges them field by field, so they are staged again whole before it is applied."""
    d = deliveries.c
    rows = conn.execute(sa.select(deliveries).join(unchanged_rows, unchanged_rows.c.delivery_id == d.delivery_id).where(
        d.integration_id == delivery.integration_id, d.file_type != delivery.file_type, d.status.in_(OPEN),
        d.partition_date == delivery.partition_date))
    return [Delivery.from_row(r) for r in rows]


def _written_since(conn: sa.Connection, feed: Feed, integration: Integration, file_type: str,
                   since: dt.datetime) -> bool:
    """Whether anything but this integration's deliveries of this file type wrote the feed's target tables of its
    district since (another feed, another file type of the feed: a 504-only day, a status change by hand)."""
    a, d, e = field_audit.c, deliveries.c, delivery_events.c
    targets = a.entity.in_(feed.target_tables)
    by_hand = sa.select(a.delivery_id).where(a.delivery_id.is_(None), targets, a.district_id == integration.district,
                                             a.changed_at > since).limit(1)
    others = sa.select(d.delivery_id).join(delivery_events, e.delivery_id == d.delivery_id).where(
        d.district_id == integration.district, sa.or_(d.integration_id != integration.id, d.file_type != file_type),
        e.status == "applied", e.occurred_at > since)
    by_others = sa.select(a.delivery_id).where(a.delivery_id.in_(others), targets).limit(1)
    return conn.execute(by_hand).first() is not None or conn.execute(by_others).first() is not None


def fingerprint(registry: Registry, feed: Feed, ft: FileType, integration: Integration, state: str) -> str:
    """Digest of what a staged row's values and their apply depend on besides the file: the integration's and its
    district's registry entries, the file type's declaration, the feed's state and the code that stages and applies."""
    parts = [integration.model_dump_json(), registry.district(integration.district).model_dump_json(),
             re.sub(r" at 0x[0-9a-f]+", "", repr(ft)), state, _code(feed.apply.__module__)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@lru_cache(maxsize=None)
def _code(module: str) -> str:
    root = Path(__file__).resolve().parents[2]
    own = Path(sys.modules[module].__file__ or "").parent
    files = sorted(p for c in CODE for p in ((root / c).rglob("*.py") if (root / c).is_dir() else [root / c]))
    files += sorted(own.glob("*.py"))
    h = hashlib.sha256()
    for p in files:
        h.update(p.read_bytes())
    return h.hexdigest()


def forget(conn: sa.Connection, delivery_id: str) -> None:
    """A delivery staged whole without digests: no earlier count or digests of it stay."""
    for t in (row_hashes, unchanged_rows):
        conn.execute(sa.delete(t).where(t.c.delivery_id == delivery_id))


def unchanged(conn: sa.Connection, delivery_id: str) -> int:
    """Rows of a delivery left out of staging as identical to its base's (0 for a delivery staged whole)."""
    return int(conn.execute(sa.select(unchanged_rows.c.rows).where(unchanged_rows.c.delivery_id == delivery_id))
               .scalar() or 0)
