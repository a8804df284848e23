"""District records for the district gate: the registry's districts and, optionally, a directory of every district
(an NCES ElSi export or a hub registry YAML). Read without rapidfuzz, so the definitions can check the configured
directory at load; the matching is hub/gates/district_match.py."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class DistrictRecord:
    leaid: str  # NCES LEAID, 7 chars, leading zeros kept
    name: str  # official name
    state: str  # 2-letter, stripped
    aliases: tuple[str, ...] = ()
    account_id: str | None = None


def load_nces_elsi(path: Path) -> list[DistrictRecord]:
    """Districts of an NCES ElSi export ('Agency Name', mixed-case 'Agency Name [District] …' as alias, 'State Abbr …',
    'Agency ID - NCES Assigned …'); preamble, 'Totals:' row, legend and rows without a LEAID are skipped."""
    rows = csv.reader(Path(path).read_text(encoding="utf-8-sig").splitlines())
    for header in rows:
        heads = [h.strip() for h in header]
        col = {key: next((i for i, h in enumerate(heads) if h.startswith(prefix)), -1) for key, prefix in (
            ("alias", "Agency Name ["), ("state", "State Abbr"), ("leaid", "Agency ID - NCES Assigned"))}
        if "Agency Name" in heads and min(col["state"], col["leaid"]) >= 0:
            break
    else:
        raise ValueError(f"{path}: no ElSi header with 'Agency Name', 'State Abbr' and 'Agency ID' columns")
    name_col, records = heads.index("Agency Name"), []
    for row in rows:
        cell = row[col["leaid"]].strip().strip('="') if len(row) > max(name_col, *col.values()) else ""
        if not (cell.isdigit() and len(cell) in (6, 7)):  # 6: a leading zero lost to Excel
            continue
        name, alias = row[name_col].strip(), row[col["alias"]].strip() if col["alias"] >= 0 else ""
        aliases = (alias,) if alias not in ("", "–", "†") and alias.upper() != name.upper() else ()
        records.append(DistrictRecord(cell.zfill(7), name, row[col["state"]].strip().upper(), aliases))
    return records


def load_registry_districts(path: Path) -> list[DistrictRecord]:
    """Districts of the hub registry YAML (top-level `districts:` list; keys id, name, nces_leaid, state, aliases,
    account_id).  Read with BaseLoader so IDs stay strings (0601620 would be an octal int); a district without
    nces_leaid is keyed by its id."""
    doc = yaml.load(Path(path).read_text(encoding="utf-8-sig"), Loader=yaml.BaseLoader)
    if not isinstance(doc, dict) or not isinstance(doc.get("districts"), list):
        raise ValueError(f"{path}: expected a top-level 'districts:' list")
    records = []
    for d in doc["districts"]:
        f = {k: _scalar(d.get(k) if isinstance(d, dict) else "")
             for k in ("id", "name", "nces_leaid", "state", "account_id")}
        if not (f["name"] and f["state"] and (f["nces_leaid"] or f["id"])):
            raise ValueError(f"{path}: district {d!r} needs name, state and nces_leaid or id")
        aliases = d.get("aliases") or []
        leaid = f["nces_leaid"].zfill(7) if f["nces_leaid"].isdigit() else f["nces_leaid"] or f["id"]
        aliases = tuple(filter(None, map(_scalar, [aliases] if isinstance(aliases, str) else aliases)))
        records.append(DistrictRecord(leaid, f["name"], f["state"].upper(), aliases, f["account_id"] or None))
    return records


def _scalar(value: object) -> str:
    """A BaseLoader scalar as stripped text; '' for null, ~ and non-scalars."""
    text = value.strip() if isinstance(value, str) else ""
    return "" if text in ("null", "Null", "NULL", "~") else text


def load_district_records(path: Path) -> list[DistrictRecord]:
    """.csv -> NCES ElSi export, .yaml/.yml -> hub registry."""
    loaders = {".csv": load_nces_elsi, ".yaml": load_registry_districts, ".yml": load_registry_districts}
    if (loader := loaders.get(Path(path).suffix.lower())) is None:
        raise ValueError(f"{path}: expected a .csv (NCES ElSi export) or .yaml/.yml (hub registry) file")
    return loader(Path(path))
