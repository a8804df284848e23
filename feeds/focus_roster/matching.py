"""The roster's match gate. The students file creates the district's students, so it has nothing to match on a
first delivery; the enrollment file gives each student of the night's students file a school and status, so an
enrollment file whose rows match almost no student (another district's file, ids in the wrong column) would turn
every student inactive in a green run. Its rows must name a student of the district: one already in core.students,
one of a students file staged (gates passed, not applied yet) for the district, or one of the students file of the
same night imported again in this run (it stays applied: hub/intake/siblings.py)."""

from __future__ import annotations

from hub.apply.upsert import lit
from hub.registry.declarations import LinkRequest


def link_enrollment(req: LinkRequest) -> dict[str, int]:
    """Rows per outcome: 'linked' (STUDENT_ID names a student of the district) or 'unknown student'."""
    district = lit(req.district_id)
    night = (f"SELECT n.partition_date FROM ops.deliveries n WHERE n.delivery_id IN "
             f"(SELECT e.delivery_id FROM {req.staged} e)")
    known = (f"SELECT local_student_id FROM core.students WHERE district_id = {district} UNION "
             f"SELECT s.local_student_id FROM staging.focus_roster__students s JOIN ops.deliveries d ON "
             f"d.delivery_id = s.delivery_id WHERE d.district_id = {district} AND (d.status = 'staged' OR "
             f"d.status = 'applied' AND d.partition_date IN ({night}))")
    linked, total = req.conn.exec_driver_sql(
        f"SELECT COALESCE(SUM(CASE WHEN k.local_student_id IS NULL THEN 0 ELSE 1 END), 0), COUNT(*) "
        f"FROM {req.staged} e LEFT JOIN ({known}) k ON k.local_student_id = e.local_student_id").one()
    return {"linked": int(linked), "unknown student": int(total) - int(linked)}
