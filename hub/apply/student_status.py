"""Students who left a program (SIRAS: exited or found not eligible; SIRAS is the authority on it): marked inactive
with the reason and audited in ops.field_audit. Feeds leave inactive students untouched (their apply rules update
and loosely match only active students, and count the rows skipped). The SIS gets the list with reasons as CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

import sqlalchemy as sa

from hub.intake.ledger import utcnow
from hub.store.tables import field_audit, students

INACTIVE_REASONS = ("exited", "not_eligible")
EXPORT_COLUMNS = ("ssid", "local_student_id", "inactive_reason", "inactive_since")


@dataclass(frozen=True)
class StatusChange:
    """What a status change did (counts only)."""

    changed: int
    already: int  # had that status before
    not_found: int  # SSIDs the district does not have


def set_status(conn: sa.Connection, district_id: str, ssids: Iterable[str], status: str, by: str,
               command: str) -> StatusChange:
    """Set the status of the district's students with these SSIDs; one audit row (field 'status') per change."""
    wanted = sorted({s.strip() for s in ssids if s.strip()})
    s = students.c
    found = conn.execute(sa.select(s.state_student_id, s.student_key, s.status)
                         .where(s.district_id == district_id, s.state_student_id.in_(wanted))).all()
    todo = [r for r in found if r.status != status]
    now = utcnow()
    if todo:
        conn.execute(sa.insert(field_audit), [
            {"district_id": district_id, "entity": "core.students", "entity_key": r.student_key, "action": "update",
             "field": "status", "old_value": r.status, "new_value": status, "source_file": f"{command} (by {by})",
             "delivery_id": None, "run_id": None, "changed_at": now} for r in todo])
        conn.execute(sa.update(students).where(s.district_id == district_id,
                                               s.state_student_id.in_([r.state_student_id for r in todo]))
                     .values(status=status, updated_at=now))
    return StatusChange(len(todo), len(found) - len(todo), len(wanted) - len(found))


def write_inactive_csv(conn: sa.Connection, district_id: str, out: TextIO) -> int:
    """The district's students who are not active, with the reason and since when (the latest audited change to
    it), as CSV keyed by SSID (the SIS's key); returns the number of students."""
    since = (sa.select(field_audit.c.entity_key, field_audit.c.new_value, sa.func.max(field_audit.c.changed_at)
                       .label("since"))
             .where(field_audit.c.district_id == district_id, field_audit.c.entity == "core.students",
                    field_audit.c.field == "status")
             .group_by(field_audit.c.entity_key, field_audit.c.new_value).subquery())
    s = students.c
    rows = conn.execute(
        sa.select(s.state_student_id, s.local_student_id, s.status, since.c.since)
        .select_from(students.outerjoin(since, sa.and_(since.c.entity_key == s.student_key,
                                                       since.c.new_value == s.status)))
        .where(s.district_id == district_id, s.status != "active").order_by(s.state_student_id)).all()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows((r.state_student_id, r.local_student_id or "", r.status,
                      r.since.date().isoformat() if r.since else "") for r in rows)
    return len(rows)
