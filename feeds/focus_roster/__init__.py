"""District SIS roster (Focus-style students and enrollment exports): who is enrolled, where, and whether active."""

from feeds.focus_roster.matching import link_enrollment
from feeds.focus_roster.rules import apply
from hub.registry.declarations import Column, Feed, FileType, KeyedColumn

FLEID = r"[A-Z0-9]{14}"

STUDENTS = (
    Column("local_student_id", ("STDT_ID", "STUDENT_ID", "Student ID"), required=True, nullable=False,
           description="Focus student id (the district's local number)", element="local student id"),
    Column("state_student_id", ("FLEID", "FL_EDUCATION_ID", "Florida Education Identifier"), required=True,
           nullable=False, pattern=FLEID, pattern_rule="FLEID must be 14 letters or digits",
           element="state student id"),
    Column("last_name", ("LAST_NAME",), element="name"),
    Column("first_name", ("FIRST_NAME",), element="name"),
    Column("middle_name", ("MIDDLE_NAME",), element="name"),
    Column("birthdate", ("DT_BIRTH", "BIRTHDATE"), kind="date", element="birthdate"),
    Column("gender", ("GENDER",), kind="code", codes=("M", "F", "X"), element="gender"),
)
ENROLLMENT = (
    Column("local_student_id", ("STUDENT_ID", "STDT_ID"), required=True, nullable=False, element="local student id"),
    Column("school_code", ("SCHOOL_ID", "SCHOOL_NUMBER"), required=True, nullable=False,
           description="Focus school id (the 4-character FLDOE school number)", element="enrollment"),
    Column("school_year", ("SYEAR",), element="enrollment"),
    Column("grade", ("GRADE_ID",), element="grade level"),
    Column("start_date", ("START_DATE",), kind="date", required=True, nullable=False, element="enrollment"),
    Column("end_date", ("END_DATE",), kind="date", description="blank while the enrollment is current",
           element="enrollment"),
    Column("enrollment_code", ("ENROLLMENT_CODE",), element="enrollment"),
    Column("drop_code", ("DROP_CODE",), element="enrollment"),
)
_NAME = r"^(?P<code>\d{2})_"

FEED = Feed(
    name="focus_roster",
    title="District SIS roster (Focus)",
    description="Nightly Focus students and student_enrollment exports: students keyed by FLEID and local id, "
                "their primary (current) school and whether they are active.",
    files=(
        FileType("students", ("*students*.csv", "*demographics*.csv"), STUDENTS, unique_key=("local_student_id",),
                 district_code_in_name=_NAME, keyed=(KeyedColumn("state_student_id_key", "state_student_id"),), description="Students ({FL district number}_students.csv)."),
        FileType("enrollment", ("*student_enrollment*.csv",), ENROLLMENT, district_code_in_name=_NAME,
                 link=link_enrollment, after=("students",),
                 description="Enrollment records ({FL district number}_student_enrollment.csv); its rows must "
                             "name students of the district (match_rate gate)."),
    ),
    apply=apply,
    target_tables=("core.students",),
    date_formats=("YYYY-MM-DD", "YYYYMMDD", "MM/DD/YYYY"),
    apply_asset="roster_updates",
    apply_description="Applies the day's Focus roster to core.students: ids, names, primary school and status.",
    kinds=frozenset({"csv"}),
)
