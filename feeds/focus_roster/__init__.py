"""District SIS roster (Focus-style students and enrollment exports): who is enrolled, where, and whether active."""

from hub.declarations import Column, Feed, FileType
from feeds.focus_roster.rules import apply

FLEID = r"[A-Z0-9]{14}"

STUDENTS = (
    Column("local_student_id", ("STDT_ID", "STUDENT_ID", "Student ID"), required=True, nullable=False,
           description="Focus student id (the district's local number)"),
    Column("state_student_id", ("FLEID", "FL_EDUCATION_ID", "Florida Education Identifier"), required=True,
           nullable=False, pattern=FLEID, pattern_rule="FLEID must be 14 letters or digits"),
    Column("last_name", ("LAST_NAME",)),
    Column("first_name", ("FIRST_NAME",)),
    Column("middle_name", ("MIDDLE_NAME",)),
    Column("birthdate", ("DT_BIRTH", "BIRTHDATE"), kind="date"),
    Column("gender", ("GENDER",), kind="code", codes=("M", "F", "X")),
)
ENROLLMENT = (
    Column("local_student_id", ("STUDENT_ID", "STDT_ID"), required=True, nullable=False),
    Column("school_code", ("SCHOOL_ID", "SCHOOL_NUMBER"), required=True, nullable=False,
           description="Focus school id (the 4-character FLDOE school number)"),
    Column("school_year", ("SYEAR",)),
    Column("grade", ("GRADE_ID",)),
    Column("start_date", ("START_DATE",), kind="date", required=True, nullable=False),
    Column("end_date", ("END_DATE",), kind="date", description="blank while the enrollment is current"),
    Column("enrollment_code", ("ENROLLMENT_CODE",)),
    Column("drop_code", ("DROP_CODE",)),
)
_NAME = r"^(?P<code>\d{2})_"

FEED = Feed(
    name="focus_roster",
    title="District SIS roster (Focus)",
    description="Nightly Focus students and student_enrollment exports: students keyed by FLEID and local id, "
                "their primary (current) school and whether they are active.",
    files=(
        FileType("students", ("*students*.csv", "*demographics*.csv"), STUDENTS, unique_key=("local_student_id",),
                 district_code_in_name=_NAME, description="Students ({FL district number}_students.csv)."),
        FileType("enrollment", ("*student_enrollment*.csv",), ENROLLMENT, district_code_in_name=_NAME,
                 description="Enrollment records ({FL district number}_student_enrollment.csv)."),
    ),
    apply=apply,
    target_tables=("core.students",),
    date_formats=("YYYY-MM-DD", "YYYYMMDD", "MM/DD/YYYY"),
    apply_asset="roster_updates",
    apply_description="Applies the day's Focus roster to core.students: ids, names, primary school and status.",
    kinds=frozenset({"csv"}),
)
