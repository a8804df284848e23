"""Renaissance Star (SM, SR, SEL) columns the hub uses, matched by header name in every layout (2021-22 v1 with 120
columns, v2 with 118-126, spaced headers of older exports); all other columns stay out of the core tables."""

from hub.declarations import Column

# 2023-08-21T17:16:48.415Z (API 3.x) and 2022-08-15 00:00:00.000 (older exports)
TIMESTAMP = r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?Z?)?"

COLUMNS = (
    Column("assessment_id", ("AssessmentID", "Assessment ID"), required=True, nullable=False,
           element="assessment results"),
    Column("student_identifier", ("StudentIdentifier", "Student Identifier", "StudentID", "Student ID"),
           required=True, description="the district's student number (PowerSchool STUDENT_NUMBER)",
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
