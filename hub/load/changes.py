"""Nights that cost what changed: a snapshot delivery parses, validates and stages only the lines that differ from
the applied delivery before it.

Each staged delivery of an integration that opts in (`stage_changes_only: true` in the registry; off by default)
whose feed allows it (Feed.unchanged_state) keeps, for every row it stages, two keyed 64-bit digests of the row's raw
line and a keyed 64-bit hash of its unique key (ops.row_hashes, written in the staging transaction; digests only,
never values), with the file's layout (header line, encoding). The next delivery of the same integration and file
type is split by its raw lines before any parsing (hub/load/changed_lines.py): a line whose bytes equal a line of the
base, under the same header and encoding, is the same record, read and validated before; only the other lines are
parsed, validated and staged, with their rows in the delivered file. The lines left out are counted
(ops.unchanged_rows, the delivery's "rows unchanged"; rows read and the size hold rule see the whole file), so the
night's work follows the changes. A key repeated anywhere in the file is still caught (the unchanged lines' keys
come from the base), and a night whose changed lines hold any error is staged whole, so its errors are those of the
whole file.

The whole file is parsed and staged, and its digests kept for the next night, whenever the shortcut could be wrong:
no earlier applied delivery, or its digests are missing or were taken under another registry entry, declaration,
feed state (e.g. school entities), hub code (the fingerprint), header line or encoding; the delivery is not newer
than it (a re-import, an older file); it was not the last delivery of its type applied; it set rows aside or its
day was a limited import; another file type of the feed came the same day (their rows are merged field by field);
anything else wrote the feed's target tables of the district since it was applied (another feed, a status change);
a key repeats; or the file's records are not one per line (a spreadsheet, a quoted line break, a lone carriage
return: no digests are kept then).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from hub.intake.ledger import Delivery
from hub.load.change_base import OPEN, base_of, fingerprint
from hub.load.changed_lines import FIRST_ROW, PARTS, BaseChanged, Split, split
from hub.load.changed_reader import ChangedLines, open_changed
from hub.read.parsing import TableReader, open_table
from hub.registry.declarations import Feed, FileType
from hub.registry.registry import Integration, Registry
from hub.store.keyed import hash_key
from hub.store.tables import deliveries, delivery_events, row_hashes, unchanged_rows
from resources.archive import remove, write_file

SEP = "\x1f"  # between the parts of a unique key
LINES = ".lines"  # the suffix of a delivery's line digests beside its archived file
NO_KEY = np.uint64(0)  # the key hash of a row with a blank key part (never compared)
SHIFT = np.uint64(44)  # keys >> SHIFT: their top 20 bits


class FullNeeded(Exception):
    """The changed lines hold an error, or the file repeats a unique key: staged whole, so errors and the duplicate
    search see every row."""


@dataclass
class Changes:
    """One delivery's line digests while it is staged, and (with a `base`) the base's digests to leave out."""

    delivery: Delivery
    fingerprint: str
    base: str | None = None
    layout: str = ""  # the base's header line and encoding (hub/read/raw_lines.py)
    base_file: tuple[str, int, bytes] | None = None  # the base's digests: where, how many rows, sha256
    unchanged: int = 0
    key: tuple[str, ...] = ()
    _split: Split | None = field(default=None, repr=False)  # this file's line digests (None: not comparable)
    _keys: list[np.ndarray] = field(default_factory=list, repr=False)  # with a base: key hashes of the rows staged

    def whole(self) -> Changes:
        """The same delivery staged whole (its digests kept)."""
        return Changes(self.delivery, self.fingerprint, key=self.key)

    def open(self, source: Path, aliases: Mapping[str, Sequence[str]], chunk_rows: int,
             max_cells: int | None) -> TableReader | ChangedLines:
        """The reader of what to stage: with a base of the same layout, only the file's changed lines; else all."""
        found = self._split = split(source, _keys())
        if found is not None and self.base_file is not None and found.raw.layout() == self.layout \
                and found.compare(*self.base_file):
            self.unchanged = found.unchanged
            return open_changed(found, aliases, chunk_rows, max_cells)
        self.base, self.base_file = None, None  # staged whole
        return open_table(source, aliases, chunk_rows=chunk_rows, max_cells=max_cells)

    def keep(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows about to be staged: their key hashes are kept (with their line digests, for the next night)."""
        if self._split is None:  # no digests of this file: nothing to keep
            return frame
        rows, keys = frame["source_row"].to_numpy(np.int64), _key_hashes(frame, self.key)
        self._split.staged.add(self._split.parts[rows - FIRST_ROW], np.column_stack([rows.astype(np.uint64), keys]))
        if self.base is not None:
            self._keys.append(keys)
        return frame

    def finish(self, conn: sa.Connection, complete: bool, errors: bool) -> None:
        """In the staging transaction: keep the digests when every row of the file was staged cleanly (`complete`),
        and the count of lines left out. With lines left out, an error or a key repeated in the file stages the file
        again whole (FullNeeded)."""
        try:
            if self.base is not None and (errors or self._repeated()):
                raise FullNeeded
            forget(conn, self.delivery.delivery_id)
            _forget_older(conn, self.delivery)
            if not complete or self._split is None or not self.delivery.archive_path:
                return
            rows, sha256 = self._write(_lines_file(self.delivery))
            conn.execute(sa.insert(row_hashes).values(
                delivery_id=self.delivery.delivery_id, fingerprint=f"{self.fingerprint}:{self._split.raw.layout()}",
                rows=rows, digests=sha256))
            if self.base is not None:
                conn.execute(sa.insert(unchanged_rows).values(delivery_id=self.delivery.delivery_id,
                                                              base_delivery_id=self.base, rows=self.unchanged))
        except BaseChanged as exc:  # the base's digests changed since they were compared: trust none of them
            raise FullNeeded from exc
        finally:
            self.close()

    def close(self) -> None:
        """Remove the spilled digests and the changed lines' file."""
        if self._split is not None:
            self._split.close()

    def _write(self, location: str) -> tuple[int, bytes]:
        """Write the rows to keep for the next night, sorted by the first digest, a part at a time (memory stays
        flat): the rows staged with their line digests, and the base's rows of the unchanged lines. Returns their
        count and sha256."""
        assert self._split is not None
        h, count = hashlib.sha256(), 0
        same = self._split.same_parts() if self._split.matched is not None else None
        with write_file(location) as out:
            for p in range(PARTS):
                lines, staged = self._split.lines.read(p), self._split.staged.read(p)  # both in file order
                at = np.searchsorted(lines[:, 2], staged[:, 0])
                part = np.column_stack([lines[at, :2], staged[:, 1]])
                if same is not None:
                    part = np.concatenate([next(same), part])
                part = np.ascontiguousarray(part[np.argsort(part[:, 0], kind="stable")])
                out.write(part.data)
                h.update(part.data)
                count += len(part)
            if same is not None:
                next(same, None)  # past its last part: the base is checked whole
        return count, h.digest()

    def _repeated(self) -> bool:
        """Whether two rows of the file share a unique key (keys alike in 64 bits stage whole, safely): two lines
        equal to one line of the base, two rows staged, or a row staged and an unchanged line. The base's rows have
        distinct keys (a file whose keys repeat is never a base)."""
        assert self._split is not None
        if self._split.twice:
            return True
        keys = np.concatenate(self._keys) if self._keys else np.empty(0, np.uint64)
        keys = np.sort(keys[keys != NO_KEY])
        if (keys[1:] == keys[:-1]).any():
            return True
        if not len(keys) or self._split.matched is None:
            return False
        seen = np.zeros(1 << 20, bool)  # the staged keys' top 20 bits: most unchanged keys are ruled out by one lookup
        seen[keys >> SHIFT] = True
        for part in self._split.same_parts():
            same = part[:, 2]
            same = same[seen[same >> SHIFT] & (same != NO_KEY)]
            at = np.minimum(np.searchsorted(keys, same), len(keys) - 1)
            if (keys[at] == same).any():
                return True
        return False


def _forget_older(conn: sa.Connection, delivery: Delivery) -> None:
    """Digests of the integration's deliveries of the type that no night compares with any more: all but those of
    the last one applied and of those not final yet."""
    d, e = deliveries.c, delivery_events.c
    same_type = sa.and_(d.integration_id == delivery.integration_id, d.file_type == delivery.file_type)
    last = sa.select(e.delivery_id).join(deliveries, e.delivery_id == d.delivery_id).where(
        same_type, e.status == "applied").order_by(e.occurred_at.desc()).limit(1).scalar_subquery()
    done = sa.select(d.delivery_id).where(same_type, d.status.not_in(OPEN[:-1]), d.delivery_id != sa.func.coalesce(
        last, ""), d.delivery_id != delivery.delivery_id)
    old = [Delivery.from_row(r) for r in conn.execute(sa.select(deliveries).where(
        d.delivery_id.in_(done), d.delivery_id.in_(sa.select(row_hashes.c.delivery_id))))]
    conn.execute(sa.delete(row_hashes).where(row_hashes.c.delivery_id.in_([o.delivery_id for o in old])))
    for o in old:  # never a base again, whatever this transaction ends in
        if o.archive_path:
            remove(_lines_file(o))


def _key_hashes(frame: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray:
    """Keyed 64-bit hashes of the rows' unique keys, NO_KEY for a row with a blank key part (not compared, as in
    staging)."""
    if not key or not all(k in frame for k in key) or not len(frame):
        return np.full(len(frame), NO_KEY, np.uint64)
    cols = [pc.cast(pa.array(frame[k].array, from_pandas=True), pa.string()) for k in key]
    filled = np.logical_and.reduce([pc.fill_null(pc.not_equal(c, ""), False).to_numpy(zero_copy_only=False)
                                    for c in cols])
    joined = cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, SEP)
    out = pd.util.hash_array(pc.fill_null(joined, "").to_numpy(zero_copy_only=False), hash_key=_keys()[0],
                             categorize=False)
    out[out == NO_KEY] = 1  # alike with another key at worst: staged whole
    out[~filled] = NO_KEY
    return out


@lru_cache(maxsize=None)
def _derived(secret: bytes) -> tuple[str, str]:
    return tuple(hmac.new(secret, f"row digest {i}".encode(), hashlib.sha256).hexdigest()[:16]  # type: ignore[return-value]
                 for i in (1, 2))


def _keys() -> tuple[str, str]:
    """Two 16-character SipHash keys derived from the hub's hash key: digests are keyed like every stored hash."""
    return _derived(hash_key())


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
    base = base_of(conn, registry, feed, integration, delivery)
    if base is None:
        return out
    row = conn.execute(sa.select(row_hashes.c.fingerprint, row_hashes.c.digests, row_hashes.c.rows)
                       .where(row_hashes.c.delivery_id == base.delivery_id)).first()
    if row is None or row.fingerprint.rpartition(":")[0] != out.fingerprint or not base.archive_path:
        return out
    out.base, out.layout = base.delivery_id, row.fingerprint.rpartition(":")[2]
    out.base_file = (_lines_file(base), int(row.rows), bytes(row.digests))  # read and checked while compared
    return out


def _lines_file(delivery: Delivery) -> str:
    """Where a delivery's line digests are kept: beside its archived file (removed with it by retention)."""
    return f"{delivery.archive_path}{LINES}"


def forget(conn: sa.Connection, delivery_id: str) -> None:
    """A delivery staged whole without digests: no earlier count or digests of it stay."""
    for t in (row_hashes, unchanged_rows):
        conn.execute(sa.delete(t).where(t.c.delivery_id == delivery_id))


def unchanged(conn: sa.Connection, delivery_id: str) -> int:
    """Rows of a delivery left out of staging as identical to its base's (0 for a delivery staged whole)."""
    return int(conn.execute(sa.select(unchanged_rows.c.rows).where(unchanged_rows.c.delivery_id == delivery_id))
               .scalar() or 0)
