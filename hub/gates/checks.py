"""The district gate: a file is applied only to the district it belongs to. The identifier gate: a file whose
stored identifiers look damaged by Excel changes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from hub.gates.district_match import DistrictMatcher
from hub.gates.district_records import DistrictRecord
from hub.registry.declarations import Column, FileType
from hub.registry.registry import District, Integration, Registry


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reason: str  # a sentence for people; district codes and names only, never student data
    district_code: str | None = None


def district_gate(registry: Registry, integration: Integration, ft: FileType, file_name: str,
                  names: Sequence[str] = (), records: list[DistrictRecord] | None = None,
                  confirmed: Mapping[tuple[str, str], str] | None = None) -> GateResult:
    """Check the district a file names (a code in its file name, district names in its rows) against the registry
    and the integration's district.

    A file that names no district gets the integration's own district attached, which must be in the registry.
    """
    own = registry.district(integration.district)
    if ft.district_name_column and names:
        ok, reason = verify_names(list(names), own, records or [], dict(confirmed or {}))
        if not ok:
            return GateResult(False, reason)
    code = ft.district_code(file_name)
    if code is None:
        if ft.district_name_column and names:
            return GateResult(True, reason)
        return GateResult(True, f"file names no district; attached the integration's district {own.id} "
                                f"(NCES {own.nces_leaid})")
    named = [d for d in registry.districts if code in (d.state_district_id, d.nces_leaid)]
    if not named:
        return GateResult(False, f"district code {code} in the file name is not in the hub's district registry", code)
    if own not in named:
        return GateResult(False, f"file names district code {code} ({', '.join(d.id for d in named)}) but integration "
                                 f"{integration.id} belongs to district {own.id}", code)
    return GateResult(True, f"district code {code} matches district {own.id} (NCES {own.nces_leaid})", code)


SCIENTIFIC = r"^[0-9]+([.][0-9]+)?[eE][+-][0-9]+$"  # 1.2E+05
DECIMAL = r"^[0-9]+[.][0-9]+$"  # left after a whole number's .0 was read as the number: 605000.5 is not an id



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


def identifier_gate(conn: sa.Connection, ft: FileType, table: str, delivery_id: str, district_id: str) -> GateResult:
    """Block a file whose identifier columns look saved through Excel: numbers that lost the leading zeros of a
    stored identifier (stored 012345, file 12345), scientific notation (1.2E+05), decimals. Counts only."""
    found = [_damage(conn, c, table, delivery_id, district_id) for c in ft.stored_identifiers()]
    bad = [f for f in found if f]
    if not bad:
        return GateResult(True, "identifiers look as exported: " + (", ".join(
            c.name for c in ft.stored_identifiers()) or "none declared"))
    return GateResult(False, "; ".join(bad) + ". The file looks opened and saved in Excel, which turns identifiers "
                      "into numbers: export it again from the source system and deliver it without opening it in "
                      "Excel (or import the column as text); nothing was changed")


def _damage(conn: sa.Connection, col: Column, table: str, delivery_id: str, district_id: str) -> str:
    schema_table, stored = (col.stored_in or "").rsplit(".", 1)
    v = f"s.{col.name}"
    lost, sci, dec, total = conn.execute(sa.text(
        f"SELECT COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM {schema_table} k WHERE k.district_id = :district AND "
        f"k.{stored} <> {v} AND k.{stored} LIKE '0%' AND ltrim(k.{stored}, '0') = {v}) AND NOT EXISTS (SELECT 1 FROM "
        f"{schema_table} k WHERE k.district_id = :district AND k.{stored} = {v}) THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN {v} ~ '{SCIENTIFIC}' THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN {v} ~ '{DECIMAL}' THEN 1 ELSE 0 END), 0), count({v}) "
        f"FROM {table} s WHERE s.delivery_id = :d AND {v} IS NOT NULL AND {v} <> ''"),
        {"district": district_id, "d": delivery_id}).one()
    parts = [f"{n} {what}" for n, what in ((lost, "lost the leading zeros of a stored one"),
                                           (sci, "in scientific notation (like 1.2E+05)"),
                                           (dec, "with decimals")) if n]
    return f"{sum((lost, sci, dec))} of {total} {col.name} values look damaged by Excel: {', '.join(parts)}" \
        if parts else ""
