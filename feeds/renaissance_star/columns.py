"""Renaissance Star (SM, SR, SEL) columns the hub uses, matched by header name (case, spaces, underscores folded).

Read: the Data Sharing layouts, v2 (SM and SEL 118 columns, SR 126) and 2021-22 v1 (SR 120, ending at CurrentSGP).
Not read: the Historical Enterprise UI export (80 spaced headers, e.g. 'Student Identifier', 'Scaled Score') has no
AssessmentID (its test id is 'Renaissance Activity ID'), so such a file is rejected whole by the schema gate
(required column assessment_id missing); the 2018-19 layout (StudentAssessmentID) and the legacy Assessment Detail
Upload lack it too. All columns not listed here stay out of the core tables."""

from hub.registry.declarations import Column

# 2023-08-21T17:16:48.415Z (API 3.x) and 2022-08-15 00:00:00.000 (older exports)
TIMESTAMP = r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?Z?)?"

COLUMNS = (
    Column("assessment_id", ("AssessmentID", "Assessment ID"), required=True, nullable=False,
           element="assessment results"),
    Column("student_identifier", ("StudentIdentifier", "Student Identifier", "StudentID", "Student ID"),
           required=True, kind="identifier", description="the district's student number (PowerSchool STUDENT_NUMBER)",
           element="local student id"),
    Column("district_name", ("DistrictName", "District Name"), description="matched fuzzily to the registry"),
    Column("school_year", ("SchoolYear", "School Year"), element="assessment results"),
    Column("completed_date", ("CompletedDate", "Completed Date", "Activity Completed Date"), required=True,
           nullable=False, pattern=TIMESTAMP, pattern_rule="timestamp like 2023-08-21T17:16:48.415Z or "
                                                           "2022-08-15 00:00:00.000", element="assessment results"),
    Column("scaled_score", ("ScaledScore", "Scaled Score"), pattern=r"\d{1,4}(\.0+)?", pattern_rule="whole number",
           element="assessment results"),
    Column("percentile_rank", ("PercentileRank", "Percentile Rank"), pattern=r"\d{1,2}|100",
           pattern_rule="percentile 0-100", element="assessment results"),
    Column("grade_equivalent", ("GradeEquivalent", "Grade Equivalent"), description="text: '< 1', '> 12.9', '3.2'",
           element="assessment results"),
    Column("benchmark_category", ("RenaissanceBenchmarkCategoryName", "Renaissance Benchmark Category Name"),
           element="assessment results"),
    Column("benchmark_level", ("RenaissanceBenchmarkCategoryLevel", "Renaissance Benchmark Category Level"),
           pattern=r"\d{1,2}", pattern_rule="whole number", element="assessment results"),
    Column("screening_window", ("ScreeningPeriodWindowName", "Screening Period Window Name"),
           element="assessment results"),
)
