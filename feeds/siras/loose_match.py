"""SIRAS "Update Identifying Data" option: loose matching of names plus birthdate.

When on, Student ID, SSID and names may change if the rest of the record matches closely: same birthdate (and
gender when both have one), and a rapidfuzz name score at or above the threshold. An SSID moves only to a student
the hub does not know yet and away from one the file no longer carries; an ambiguous match changes nothing.
Every loose match is written to ops.field_audit (action 'loose_match', field 'match_score') with its score.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from rapidfuzz import fuzz, utils

from hub.apply.upsert import ApplyContext, lit
from hub.store.tables import field_audit

IDENTIFYING = ("state_student_id", "local_student_id", "first_name", "last_name")

_CANDIDATES = """
SELECT s.state_student_id, s.local_student_id, s.first_name, s.last_name, s.source_file, s.delivery_id,
       t.state_student_id AS old_ssid, t.local_student_id AS old_local, t.first_name AS old_first,
       t.last_name AS old_last, t.student_key
FROM ({source}) s JOIN core.students t ON t.district_id = {district} AND t.status = 'active'
     AND t.birthdate = s.birthdate AND (s.gender IS NULL OR t.gender IS NULL OR s.gender = t.gender)
WHERE (t.state_student_id = s.state_student_id AND (t.first_name <> s.first_name OR t.last_name <> s.last_name
       OR (s.local_student_id IS NOT NULL AND t.local_student_id IS DISTINCT FROM s.local_student_id)))
   OR (t.state_student_id <> s.state_student_id
       AND NOT EXISTS (SELECT 1 FROM core.students x WHERE x.district_id = {district}
                       AND x.state_student_id = s.state_student_id)
       AND NOT EXISTS (SELECT 1 FROM ({source}) y WHERE y.state_student_id = t.state_student_id))
"""


def score(first: str, last: str, other_first: str, other_last: str) -> float:
    """Name similarity 0-100 (case, accents-as-given and punctuation-insensitive, word order ignored)."""
    return fuzz.token_sort_ratio(f"{first} {last}", f"{other_first} {other_last}", processor=utils.default_process)


def apply_loose_matches(ctx: ApplyContext, source: str, threshold: float) -> int:
    """Update identifying fields of closely matching students before the keyed upsert; returns the match count
    (none during limited imports, which never update)."""
    if ctx.limited:
        return 0
    rows = ctx.conn.execute(sa.text(_CANDIDATES.format(source=source, district=lit(ctx.district.id)))).mappings().all()
    by_new: dict[str, list[tuple[float, dict]]] = defaultdict(list)
    for r in rows:
        s = score(r["first_name"], r["last_name"], r["old_first"], r["old_last"])
        if s >= threshold:
            by_new[r["state_student_id"]].append((s, dict(r)))
    chosen = [c[0] for c in by_new.values() if len(c) == 1]  # ambiguous: more than one close candidate
    used = defaultdict(int)
    for _, r in chosen:
        used[r["old_ssid"]] += 1
    chosen = [(s, r) for s, r in chosen if used[r["old_ssid"]] == 1]
    if not chosen:
        return 0
    base = {"district_id": ctx.district.id, "entity": "core.students", "run_id": ctx.run_id, "changed_at": ctx.now}
    audit, updates = [], []
    for s, r in chosen:
        row = {**base, "entity_key": r["student_key"], "source_file": r["source_file"], "delivery_id": r["delivery_id"]}
        audit.append({**row, "action": "loose_match", "field": "match_score", "old_value": None, "new_value": f"{s:.1f}"})
        new = {"state_student_id": r["state_student_id"], "local_student_id": r["local_student_id"] or r["old_local"],
               "first_name": r["first_name"], "last_name": r["last_name"]}
        old = dict(zip(IDENTIFYING, (r["old_ssid"], r["old_local"], r["old_first"], r["old_last"])))
        audit += [{**row, "action": "update", "field": f, "old_value": old[f], "new_value": new[f]}
                  for f in IDENTIFYING if old[f] != new[f]]
        updates.append({**new, "old_ssid": r["old_ssid"], "delivery_id": r["delivery_id"]})
    ctx.conn.execute(sa.insert(field_audit), audit)
    ctx.conn.execute(sa.text(
        "UPDATE core.students SET state_student_id = :state_student_id, local_student_id = :local_student_id, "
        "first_name = :first_name, last_name = :last_name, last_delivery_id = :delivery_id, updated_at = :now "
        "WHERE district_id = :district AND state_student_id = :old_ssid"),
        [{**u, "now": ctx.now, "district": ctx.district.id} for u in updates])
    return len(chosen)

