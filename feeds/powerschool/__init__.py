"""PowerSchool students export: STUDENT_NUMBER, the student email field, school, grade and enroll status."""

from feeds.identity import email_hash, ps_students, refresh_crosswalk, replace_snapshot
from hub.apply.upsert import ApplyContext, ApplyStats, UpsertPlan, lit, upsert_with_audit
from hub.registry.declarations import Column, Feed, FileType, KeyedColumn

# Headers match after hub.read.headers.normalize_header (case, spaces, underscores and hyphens folded; dots kept), so
# "STUDENTS STUDENT_NUMBER" (the spec's spelling) also covers "Students Student_Number", and "Students.Email" covers
# "STUDENTS.EMAIL".
COLUMNS = (
    Column("student_number", ("STUDENT_NUMBER", "STUDENTS STUDENT_NUMBER", "Students.Student_Number"), required=True,
           nullable=False, kind="identifier", stored_in="core.ps_students.student_number",
           element="local student id"),
    Column("email", ("STUDENTS EMAIL", "Students.Email", "Student_Email", "U_StudentsUserFields.StudentEmail",
                     "u_studentsuserfields__studentemail"), required=True, element="email"),
    Column("school_id", ("SCHOOLID", "SchoolID"), element="enrollment"),
    Column("grade_level", ("GRADE_LEVEL", "Grade_Level"), pattern=r"-?\d{1,2}", pattern_rule="integer grade (0 = K)",
           element="grade level"),
    Column("enroll_status", ("ENROLL_STATUS", "Enroll_Status"), pattern=r"-?\d", pattern_rule="PowerSchool code -2..4",
           element="enrollment"),
)
UPDATABLE = ("email_hash", "school_id", "grade_level", "enroll_status")


def apply(ctx: ApplyContext) -> ApplyStats:
    """Upsert the day's students (emails hashed); the export replaces the previous one (students it leaves out are
    kept, no longer linked); then rebuild the district's crosswalk."""
    d, staged = ctx.deliveries["students"], ctx.staged("students")
    source = (f"SELECT s.ps_key, {lit(ctx.district.id)} AS district_id, s.student_number, "
              f"{email_hash(ctx, 's.email', staged)} AS email_hash, "
              f"s.school_id, s.grade_level, s.enroll_status, {lit(d.file_name)} AS source_file, s.delivery_id, s.source_row "
              f"FROM {ctx.staged('students')} s")
    stats = upsert_with_audit(ctx, UpsertPlan(
        target=ps_students, key=("district_id", "student_number"), entity_key="ps_key", source_sql=source,
        update_columns=UPDATABLE, insert_columns=("ps_key", "district_id", "student_number", *UPDATABLE),
        can_insert="TRUE"))
    stats.skipped.update(replace_snapshot(ctx, "core.ps_students", "student_number",
                                          f"SELECT student_number FROM {ctx.staged('students')} x"))
    return {"core.ps_students": stats, **refresh_crosswalk(ctx)}


FEED = Feed(
    name="powerschool",
    title="PowerSchool students",
    description="Students export from PowerSchool (CSV or tab-delimited): student number, email, school, grade.",
    files=(FileType("students", ("*students*.csv", "*students*.txt"), COLUMNS, unique_key=("student_number",),
                    keyed=(KeyedColumn("ps_key", "student_number", "powerschool:"),),
                    description="Students export with the district's student email field."),),
    apply=apply,
    target_tables=("core.ps_students", "core.student_crosswalk"),
    apply_asset="student_records",
    apply_description="Upserts PowerSchool students (emails hashed) and rebuilds the district's student crosswalk.",
    kinds=frozenset({"csv"}),
)
