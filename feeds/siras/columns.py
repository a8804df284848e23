"""SIRAS student demographics: the columns of the spec's field table, with their alternate headers. Columns the spec
marks "CALPADS code value" are checked against the code sets of feeds/siras/calpads_codes.py (sources there).

The spec's alias table lists FIRST_NAME beside "Last Name" and LAST_NAME beside "First Name"; each header is
mapped to its own meaning here.
"""

from dataclasses import replace

from feeds.siras.calpads_codes import CODE_SHAPE, ETHNICITY, LANGUAGES, RACES
from hub.registry.declarations import Column

CDE7 = r"\d{7}"
GRADES = ("IN", "TD", "PS", "TK", "KN", *(f"{g:02d}" for g in range(1, 13)), "UE", "US", "AD", "UG")

COLUMNS = (
    Column("ssid", ("SSID", "Statewide Student ID"), required=True, nullable=False, pattern=r"\d{10}",
           pattern_rule="SSID must be 10 digits", description="Primary identifier used to locate the record"),
    Column("local_student_id", ("Local Student ID", "LOCAL_ID", "STUDENT_ID"), description="Record id in the SIS"),
    Column("last_name", ("Last Name", "LAST_NAME"), required=True, nullable=False),
    Column("first_name", ("First Name", "FIRST_NAME"), required=True, nullable=False),
    Column("birthdate", ("Birthdate", "BIRTHDATE", "DOB"), required=True, nullable=False, kind="date"),
    Column("middle_name", ("Middle Name", "MIDDLE_NAME")),
    Column("name_suffix", ("Name Suffix", "GENERATION")),
    Column("school_code", ("School of Attendance", "SCH_CODE"), pattern=CDE7,
           pattern_rule="7-digit CDE school code", description="School of attendance"),
    Column("site_code", ("Site Code", "SITE_CODE"), description="Distinguishes same-coded school entities"),
    Column("school_type", ("School Type", "SCH_TYPE"), kind="code", pattern=CODE_SHAPE,
           pattern_rule="a CALPADS school type code (1-4 letters or digits), not a label",
           description="CALPADS code value"),
    Column("district_of_residence", ("District of Geographic Residence", "DIST_RESI", "DOGR"), pattern=CDE7,
           pattern_rule="7-digit CDE district code", description="Where the student lives, not whose file it is"),
    Column("school_of_residence", ("School of Residence", "SCH_RESI"), pattern=CDE7,
           pattern_rule="7-digit CDE school code"),
    Column("grade", ("Grade Level", "GRADE"), kind="code", codes=GRADES, description="CALPADS grade code"),
    Column("gender", ("Gender", "GENDER"), kind="code", codes=("M", "F", "X"), description="CALPADS code value"),
    Column("ethnicity", ("Federal Ethnicity", "ETHNICITY"), kind="code", codes=ETHNICITY,
           description="CALPADS Hispanic or Latino indicator (Y/N)"),
    *(Column(f"race{n}", (f"Race{n}", f"RACE{n}"), kind="code", codes=RACES, description="CALPADS race code")
      for n in (1, 2, 3)),
    Column("el_type", ("English Language Acquisition Status Code", "EL_TYPE", "EL Type"), kind="code",
           codes=("EL", "EO", "IFEP", "RFEP", "TBD"), description="English Language Acquisition Status"),
    Column("rfep_date", ("RFEP Date", "RFEP_DATE"), kind="date"),
    Column("native_language", ("Primary Language Code", "NATIV_LANG"), kind="code", codes=LANGUAGES,
           description="CALPADS language code (two characters until 2022-23, three-letter ISO 639 since)"),
    Column("migrant", ("Migrant", "MIGRANT"), kind="code", codes=("Y", "N")),
    Column("residential_status", ("Residential Status", "RESID_STAT"), kind="code", pattern=CODE_SHAPE,
           pattern_rule="a CALPADS residential status code (1-4 letters or digits), not a label"),
    Column("designation", ("Designation",), kind="code", codes=("SPED", "504", "SST"),
           description="Program: Special Ed, 504 or SST; needed to create records"),
    Column("preferred_first_name", ("PreferredFirstName", "Preferred First Name")),
    Column("preferred_last_name", ("PreferredLastName", "Preferred Last Name")),
)

# The student data element each column carries (the inventory's "what data goes where").
_ELEMENTS = {
    "ssid": "state student id", "local_student_id": "local student id", "last_name": "name", "first_name": "name",
    "middle_name": "name", "name_suffix": "name", "preferred_first_name": "name", "preferred_last_name": "name",
    "birthdate": "birthdate", "school_code": "enrollment", "site_code": "enrollment", "school_type": "enrollment",
    "district_of_residence": "residence", "school_of_residence": "residence", "residential_status": "residence",
    "grade": "grade level", "gender": "gender", "ethnicity": "race and ethnicity", "race1": "race and ethnicity",
    "race2": "race and ethnicity", "race3": "race and ethnicity", "el_type": "english learner status",
    "rfep_date": "english learner status", "native_language": "home language", "migrant": "migrant status",
    "designation": "special education / 504 status",
}
COLUMNS = tuple(replace(c, element=_ELEMENTS[c.name]) for c in COLUMNS)
