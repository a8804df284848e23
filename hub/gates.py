"""The district gate: a file is applied only to the district it belongs to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.declarations import FileType
from hub.district_match import DistrictRecord
from hub.district_names import verify_names
from hub.registry import Integration, Registry


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
