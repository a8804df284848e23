"""Roster rules: the SIS is the system of record. Primary school = the current enrollment with the latest start;
a student without a current enrollment is inactive."""

from __future__ import annotations

from hub.apply.upsert import ApplyContext, ApplyStats, UpsertPlan, lit, upsert_with_audit
from hub.store.tables import students

UPDATABLE = ("local_student_id", "first_name", "last_name", "middle_name", "birthdate", "gender", "school_code",
             "grade", "status")


def _current(ctx: ApplyContext) -> str:
    """Each student's current enrollment (end date blank or not yet passed), the latest start winning."""
    today = lit(ctx.now.date().isoformat())  # type: ignore[attr-defined]
    return (f"SELECT * FROM (SELECT e.local_student_id, e.school_code, e.grade, ROW_NUMBER() OVER (PARTITION BY "
            f"e.local_student_id ORDER BY e.start_date DESC, e.source_row DESC) AS n FROM {ctx.staged('enrollment')} e "
            f"WHERE e.start_date <= {today} AND (e.end_date IS NULL OR e.end_date >= {today})) c WHERE n = 1")


def apply(ctx: ApplyContext) -> ApplyStats:
    """Upsert the delivered students; with an enrollment file, also their primary school and status."""
    if "students" not in ctx.deliveries:
        return {}
    with_enr = "enrollment" in ctx.deliveries
    school = "c.school_code" if with_enr else "NULL"
    grade = "c.grade" if with_enr else "NULL"
    status = "CASE WHEN c.local_student_id IS NULL THEN 'inactive' ELSE 'active' END" if with_enr else "NULL"
    join = f"LEFT JOIN ({_current(ctx)}) c ON c.local_student_id = s.local_student_id" if with_enr else ""
    source = (
        f"SELECT s.state_student_id_key AS student_key, {lit(ctx.district.id)} AS "
        f"district_id, s.state_student_id, s.local_student_id, s.first_name, s.last_name, s.middle_name, "
        f"CAST(s.birthdate AS DATE) AS birthdate, s.gender, {school} AS school_code, {grade} AS grade, "
        f"{status} AS status, {lit(ctx.deliveries['students'].file_name)} AS source_file, s.delivery_id, s.source_row "
        f"FROM {ctx.staged('students')} s {join}")
    plan = UpsertPlan(target=students, key=("district_id", "state_student_id"), entity_key="student_key",
                      source_sql=source, update_columns=UPDATABLE,
                      insert_columns=("student_key", "district_id", "state_student_id", *UPDATABLE),
                      can_insert="s.status IS NOT NULL")  # created only once enrollment is known
    return {"core.students": upsert_with_audit(ctx, plan)}
