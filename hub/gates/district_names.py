"""District names inside files: the candidates they are matched against (the registry, an optional directory of every
district) and the confirmations a person made once; the gate that matches them is hub/gates/checks.py."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import sqlalchemy as sa
import yaml

from hub.gates.district_records import DistrictRecord, load_district_records
from hub.intake.ledger import utcnow
from hub.registry.configuration import ConfigurationError
from hub.registry.registry import Registry
from hub.store.tables import metadata

confirmations = sa.Table(
    "district_name_confirmations", metadata,
    sa.Column("state", sa.String, primary_key=True),
    sa.Column("name", sa.String, primary_key=True),  # as written in the files
    sa.Column("nces_leaid", sa.String, nullable=False),
    sa.Column("confirmed_by", sa.String, nullable=False),
    sa.Column("confirmed_at", sa.DateTime, nullable=False),
    schema="ops",
)

DIRECTORY_ENV = "HUB_DISTRICT_DIRECTORY"  # optional NCES ElSi export or registry: more candidates to tell apart


def registry_records(registry: Registry) -> list[DistrictRecord]:
    return [DistrictRecord(d.nces_leaid, d.name, d.state, d.aliases, d.account_id) for d in registry.districts]


@functools.lru_cache(maxsize=4)
def _directory(path: str) -> tuple[DistrictRecord, ...]:
    return tuple(load_district_records(Path(path)))


def directory() -> tuple[DistrictRecord, ...]:
    """The configured directory of every district (none when unset); a file that cannot be read as one is a
    ConfigurationError naming the setting."""
    path = os.environ.get(DIRECTORY_ENV)
    if not path:
        return ()
    try:
        return _directory(path)
    except (OSError, ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{DIRECTORY_ENV}={path}: cannot be read as a district directory "
                                 f"({type(exc).__name__}: {exc})") from None


def candidates(registry: Registry) -> list[DistrictRecord]:
    """The registry's districts plus, when configured, a directory of every district (registry entries win)."""
    own = registry_records(registry)
    ids = {r.leaid for r in own}
    return own + [r for r in directory() if r.leaid not in ids]


def confirmed(conn: sa.Connection) -> dict[tuple[str, str], str]:
    return {(r.state, r.name): r.nces_leaid for r in conn.execute(sa.select(confirmations))}


def confirm(conn: sa.Connection, state: str, name: str, leaid: str, by: str) -> None:
    """Record that `name` (as files write it) in `state` is district `leaid`; replaces an earlier confirmation."""
    conn.execute(sa.delete(confirmations).where(confirmations.c.state == state.upper(), confirmations.c.name == name))
    conn.execute(sa.insert(confirmations).values(state=state.upper(), name=name, nces_leaid=leaid, confirmed_by=by,
                                                 confirmed_at=utcnow()))
