"""District names inside files: fuzzy-matched to the integration's district, with confirmations a person made once."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import sqlalchemy as sa
import yaml

from hub.gates.district_match import DistrictMatcher, DistrictRecord, load_district_records
from hub.intake.ledger import utcnow
from hub.registry.configuration import ConfigurationError
from hub.registry.registry import District, Registry
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


def verify_names(names: list[str], district: District, records: list[DistrictRecord],
                 confirmed_names: dict[tuple[str, str], str]) -> tuple[bool, str]:
    """Every name must be accepted as `district` (state-blocked, threshold and margin, or confirmed)."""
    if not names:
        return True, "no district name in the file"
    records = [r for r in records if r.state == district.state]  # candidates are blocked by state anyway
    leaids = {r.leaid for r in records}
    matcher = DistrictMatcher(records, confirmed={k: v for k, v in confirmed_names.items() if v in leaids})
    problems = []
    for name in sorted(names):
        res = matcher.match(name, district.state)
        got = res.best.leaid if res.best else "none"
        if res.decision != "accepted":
            problems.append(f"{name!r}: {res.decision} (best NCES {got}, score {res.score:.0f}, runner-up "
                            f"{res.runner_up_score:.0f}); confirm it with `hub districts confirm` if it is {district.id}")
        elif got != district.nces_leaid:
            problems.append(f"{name!r} is NCES {got}, not {district.id} (NCES {district.nces_leaid})")
    if problems:
        return False, "district name not verified: " + "; ".join(problems)
    return True, f"district name(s) {', '.join(map(repr, sorted(names)))} verified as {district.id} (NCES {district.nces_leaid})"
