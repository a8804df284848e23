"""Keyed hashes of student identifiers: HMAC-SHA256 with the secret HUB_HASH_KEY, so a dictionary of known emails or
ids cannot reverse what the hub stores and logs (keys, email hashes, review queue, crosswalk, audit, import logs).

A keyed hash is HMAC-SHA256(key, md5(text)): the md5 inside is the unkeyed digest older hubs stored, so an existing
warehouse is re-keyed in place (`ensure_hash_key`) without the emails it never kept. Hashes are computed here, in
Python, never in SQL: one implementation on both warehouses, and the key never reaches the database server (a
fingerprint of it does, so a changed key is refused instead of silently breaking every link).

Two ways in: the hash of a delivered identifier is staged with its row (a file type's KeyedColumn, computed in the
chunk before COPY: the apply reads a column); a value the apply derives in SQL (a normalised email) is hashed with
`hash_values` into a per-connection lookup table that `lookup_sql` reads.

The key: $HUB_HASH_KEY (at least 32 characters). In production (HUB_ENV=production, set by `make prod`) a missing
key stops the hub; elsewhere (the demo, tests) one is generated once into <HUB_HOME>/hash.key (0600).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from resources.warehouse import Warehouse

if TYPE_CHECKING:
    import pandas as pd

KEY_ENV, ENV = "HUB_HASH_KEY", "HUB_ENV"
MIN_KEY_CHARS = 32
_OLD_DIGEST = 32  # hex characters of the unkeyed md5 an older hub stored; a keyed hash has 64
KEYED = {"keyed": True}  # Column info of a column holding keyed hashes (re-keyed by ensure_hash_key)
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # hub/store/keyed.py -> the project


class HashKeyError(RuntimeError):
    """HUB_HASH_KEY is missing, too short, or not the key this warehouse's hashes were made with."""


def hub_home() -> Path:
    """The hub's local state: $HUB_HOME, else .hub in the project."""
    return Path(os.environ.get("HUB_HOME", PROJECT_ROOT / ".hub")).resolve()


def in_production() -> bool:
    return os.environ.get(ENV, "").strip().lower() == "production"


def hash_key() -> bytes:
    """The secret key; never logged or echoed (errors name the variable, never its value)."""
    value = os.environ.get(KEY_ENV, "")
    if value:
        if len(value) < MIN_KEY_CHARS:
            raise HashKeyError(f"{KEY_ENV} is too short ({len(value)} characters): use at least {MIN_KEY_CHARS} "
                               "random characters, e.g. the output of `openssl rand -hex 32`")
        return value.encode()
    if in_production():
        raise HashKeyError(f"{KEY_ENV} is not set: in production ({ENV}=production) the hub needs a secret key "
                           f"of at least {MIN_KEY_CHARS} characters to hash student identifiers (docs/deploy.md)")
    return _demo_key(hub_home() / "hash.key")


def _demo_key(path: Path) -> bytes:
    """A key generated once for this hub home (never committed: .hub is ignored), readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def rekey(digest: str, key: bytes) -> str:
    """The keyed hash of a value whose unkeyed md5 (hex) is `digest`."""
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def hasher(key: bytes) -> Callable[[str], str]:
    """text -> HMAC-SHA256(key, md5(text)) in hex (RFC 2104), the key's inner and outer SHA-256 states prepared once:
    two hashlib copies per value, no hmac object (2.5x faster than copying an hmac.HMAC; a million keys a night)."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    md5 = hashlib.md5

    def one(text: str) -> str:
        i = inner.copy()
        i.update(md5(text.encode()).hexdigest().encode())
        o = outer.copy()
        o.update(i.digest())
        return o.hexdigest()
    return one


def keyed_hash(text: str, key: bytes | None = None) -> str:
    """HMAC-SHA256(key, md5(text)) in hex."""
    return hasher(key or hash_key())(text)


def hash_series(values: pd.Series, prefix: str, one: Callable[[str], str]) -> list[str | None]:
    """The keyed hash (`one`, from `hasher`) of `prefix` + each value, as `lookup_sql` gives it for the staged value:
    a blank or missing value (NULL once staged) stays None."""
    return [one(prefix + v) if v else None for v in values.astype("string").fillna("").tolist()]


def hash_values(conn: sa.Connection, warehouse: Warehouse, values_sql: str, chunk: int = 200_000) -> None:
    """Make the keyed hash of every distinct value `values_sql` yields (one column) available to `lookup_sql` in this
    connection, `chunk` values at a time (memory does not grow with the file). The lookup table is indexed once
    loaded (one sorted build, not one insert per value)."""
    key = hash_key()
    lookup = _lookup_table(key)
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {lookup} (value VARCHAR, keyed VARCHAR)")
    new = sa.text(f"SELECT DISTINCT v FROM ({values_sql}) x(v) WHERE v IS NOT NULL AND v <> '' AND NOT EXISTS "
                  f"(SELECT 1 FROM {lookup} k WHERE k.value = x.v) LIMIT {chunk}")
    one = hasher(key)
    while values := conn.execute(new).scalars().all():
        warehouse.load_frame(conn, lookup, {"value": values, "keyed": [one(v) for v in values]})
        if len(values) < chunk:  # the last chunk: no need to look again
            break
    conn.exec_driver_sql(f"CREATE UNIQUE INDEX IF NOT EXISTS {lookup}_value ON {lookup} (value)")


def lookup_sql(expr: str) -> str:
    """SQL: the keyed hash of `expr` (a value `hash_values` was given; NULL stays NULL)."""
    return f"(SELECT k.keyed FROM {_lookup_table(hash_key())} k WHERE k.value = ({expr}))"


def _lookup_table(key: bytes) -> str:
    """The per-connection temp table of value -> keyed hash, one per key (a pooled connection may outlive a key)."""
    return f"_hub_keys_{fingerprint(key)[:8]}"


def fingerprint(key: bytes) -> str:
    """Names the key without revealing it."""
    return hmac.new(key, b"hub hash key fingerprint", hashlib.sha256).hexdigest()[:16]


_keys = sa.MetaData()  # created by ensure_hash_key
hash_key_table = sa.Table(
    "hash_key", _keys,
    sa.Column("fingerprint", sa.String, primary_key=True),
    sa.Column("since", sa.DateTime, nullable=False),
    schema="ops")
rekeyed_table = sa.Table(  # what ensure_hash_key re-keyed (each once): schema.table.column, or field_audit's per field
    "hash_key_rekeyed", _keys,
    sa.Column("unit", sa.String, primary_key=True),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("rekeyed_at", sa.DateTime, nullable=False),
    schema="ops")


def ensure_hash_key(conn: sa.Connection, warehouse: Warehouse, tables: list[sa.Table]) -> None:
    """On the hub's start: the key's fingerprint is recorded in a new warehouse, and a warehouse whose hashes were
    made with another key is refused. Unkeyed md5 hashes an older hub stored (columns declared with info=KEYED, and
    field_audit values of such fields) are re-keyed in place, each column once, the first time a hub with a key
    declares it."""
    key = hash_key()
    _keys.create_all(conn)
    stored = conn.execute(sa.select(hash_key_table.c.fingerprint)).scalars().all()
    if stored and fingerprint(key) not in stored:
        raise HashKeyError(f"{KEY_ENV} is not the key this warehouse's hashes were made with (ops.hash_key): set the "
                           "key it was started with; a new key would break every stored link")
    if not stored:
        conn.execute(sa.insert(hash_key_table).values(fingerprint=fingerprint(key), since=_now()))
    done = set(conn.execute(sa.select(rekeyed_table.c.unit)).scalars())
    keyed = [(f"{t.schema}.{t.name}", c.name) for t in tables for c in t.columns if c.info.get("keyed")]
    units = [(table, column, "TRUE", f"{table}.{column}") for table, column in keyed]
    if any(t.name == "field_audit" and t.schema == "ops" for t in tables):
        units += [("ops.field_audit", col, f"field = '{field}'", f"ops.field_audit.{col}:{field}")
                  for field in sorted({c for _, c in keyed}) for col in ("old_value", "new_value")]
    for table, column, where, unit in units:
        if unit not in done:
            rows = _rekey_column(conn, warehouse, table, column, where, key)
            conn.execute(sa.insert(rekeyed_table).values(unit=unit, rows=rows, rekeyed_at=_now()))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _rekey_column(conn: sa.Connection, warehouse: Warehouse, table: str, column: str, where: str,
                  key: bytes) -> int:
    digests = conn.exec_driver_sql(f"SELECT DISTINCT {column} FROM {table} WHERE length({column}) = {_OLD_DIGEST} "
                                   f"AND {where}").scalars().all()
    if not digests:
        return 0
    conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_rekey")
    conn.exec_driver_sql("CREATE TEMP TABLE _hub_rekey (old VARCHAR PRIMARY KEY, new VARCHAR)")
    warehouse.load_frame(conn, "_hub_rekey", {"old": digests, "new": [rekey(d, key) for d in digests]})
    n = conn.exec_driver_sql(f"UPDATE {table} AS t SET {column} = r.new FROM _hub_rekey r "
                             f"WHERE t.{column} = r.old AND {where}").rowcount
    conn.exec_driver_sql("DROP TABLE _hub_rekey")
    return n
