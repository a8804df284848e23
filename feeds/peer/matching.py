"""PEER's match gate: the share of a file's rows whose FLEID is a student of the district's roster (core.students).
A file that matches almost no student (e.g. PEER ran before the roster, or another district's file) is blocked by
the file's match_rate check instead of applying 0 fields in a green run."""

from __future__ import annotations

from hub.apply.upsert import lit
from hub.registry.declarations import LinkRequest


def link_students(req: LinkRequest) -> dict[str, int]:
    """Rows per outcome: 'linked' (FLEID in core.students of the district) or 'unknown student'."""
    linked, total = req.conn.exec_driver_sql(
        f"SELECT COALESCE(SUM(CASE WHEN t.state_student_id IS NULL THEN 0 ELSE 1 END), 0), COUNT(*) "
        f"FROM {req.staged} s LEFT JOIN core.students t ON t.district_id = {lit(req.district_id)} "
        f"AND t.state_student_id = s.fleid").one()
    return {"linked": int(linked), "unknown student": int(total) - int(linked)}
