"""EdReflect file layouts, generated from one compact table (no public layout exists: see docs/feeds/edreflect.md).

Each line: file stem | key columns | "drop rule" reference file | other columns. In the column list `+c` is a field
the spec says was added, `-c` one it says was dropped (not declared: a file still carrying it has it ignored);
unprefixed columns are invented by the hub. All ids are strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.registry.declarations import Column, FileType, RowCheck

LAYOUT = """
Aggregated_Eoy_Snapshots | snapshot_id | | employee_id rubric_id final_rating +school_year school_year_id
Aggregated_Observation_Ratings | observation_group_id indicator_id | Observation_Modified | employee_id rating +school_year school_year_id
Aggregated_Slo_Assessments | slo_id slo_assessment_id | | employee_id score -slo_assessment_type_name
Aggregated_Snapshot_Ratings | snapshot_id indicator_id +observation_group_id | Observation_Modified | rating +observation_school_year
Goal_Posts | goal_post_id | Goals_Modified | goal_id employee_id post_date -uploaded_content_id -catalog_item_id -post_created_date
Goals_Deleted | goal_id | | goal_deleted_date
Goals_Indicators | goal_id indicator_id | |
Goals_Modified | goal_id | | goal_modified_date
Goals_Questions | goal_id question_id | Goals_Modified | answer
Goals | goal_id | | employee_id goal_type goal_status goal_created_date school_year school_year_id
Indicator_Proficiency_Levels | indicator_id proficiency_level | Rubrics | rubric_id level_name
Indicators | indicator_id | Rubrics | rubric_id indicator_name indicator_order
Observation_Answers | observation_group_id question_id | Observation_Modified | step_id answer
Observation_Comments | observation_group_id step_id commenter_employee_id comment_order | Observation_Modified | comment -resource_name -resource_id -comment_id -comment_date_time -commenter_note
Observation_Feedback | observation_group_id employee_id | Observation_Modified | feedback next_steps observer_notes -feedback_date -next_steps_date -observer_notes_date
Observation_Forms | observation_group_id form_id | Observation_Modified | observation_template_id
Observation_History | observation_group_id history_date history_event | | employee_id
Observation_Modified | observation_group_id | | observation_modified_date
Observation_Participants | observation_group_id employee_id | Observation_Modified | participant_role
Observation_Snapshots | observation_group_id snapshot_id | Observation_Modified |
Observation_Step_Scripting_Notes | observation_group_id step_id | | scripting_note -scripting_note_updated_date -scripting_note_created_date
Observation_Step_Sharing | observation_group_id step_id employee_id | | shared_date
Observation_Steps | step_id | | observation_group_id step_name step_status step_order
Observations | observation_group_id | | observation_template_id observer_employee_id learner_employee_id observation_status observation_date school_year school_year_id +observation_is_deleted -observation_accepted_date -observation_first_viewed_date
Ratings | observation_group_id indicator_id | Observation_Modified | employee_id rating
Rubrics | rubric_id | | rubric_name rubric_status
Slo_Assessment_Answers | slo_assessment_id question_id | Slos | slo_id answer -answer_date
Slo_Assessments | slo_assessment_id | Slos | slo_id slo_assessment_name -slo_assessment_attribute -slo_assessment_type -slo_assessment_modified_date -slo_assessment_created_date
Slos | slo_id | | employee_id slo_template_id slo_status school_year school_year_id
Snapshots_Ratings | snapshot_id indicator_id | | rating
Snapshots | snapshot_id | | employee_id rubric_id snapshot_date school_year school_year_id
Trending_Ratings | trending_id indicator_id | Trendings | rating
Trendings | trending_id | | employee_id rubric_id trending_date
User_Accounts | employee_id | User_Modified | account_status
User_Affiliations | learner_employee_id observer_employee_id | | affiliation_type date_deleted
User_Artifacts | artifact_id | | employee_id artifact_type artifact_created_date -uploaded_content_id
User_Grades | employee_id grade | User_Modified |
User_Groups | employee_id user_group_id | User_Modified |
User_Modified | employee_id | | user_modified_date
User_Roles | employee_id role | User_Modified |
User_Rubrics_Modified | employee_id | | user_rubrics_modified_date
User_Rubrics | employee_id rubric_id | User_Rubrics_Modified |
User_Subjects | employee_id subject | User_Modified |
"""

# the id column of each reference file: its rows name the models whose dependent rows are dropped
REFERENCE_KEY = {"Observation_Modified": "observation_group_id", "Goals_Modified": "goal_id",
                 "User_Modified": "employee_id", "User_Rubrics_Modified": "employee_id", "Rubrics": "rubric_id",
                 "Slos": "slo_id", "Trendings": "trending_id"}
LEGACY_MODELS = ("artifact", "artifact_content", "goal", "indicator", "observation_group", "observation_template",
                 "organization", "rubric", "slo_assessment", "slo", "slo_template", "step", "snapshot", "trending",
                 "user", "user_group")
DEPRECATED = ("Aggregated_EOY_Reports_Summary.csv", "Observation_Survey.csv", "Observation_Template_Scheduling_Groups.csv")
SLO_STATUSES = ("created", "unlocked", "locked", "awaiting approval", "approved", "completed")
# code columns: accepted in any case (validation upper-cases codes), stored in the spec's lowercase spelling
LOWERCASE_CODES = {"slo_status": SLO_STATUSES}
SCHOOL_YEAR_BASE = 2009


@dataclass(frozen=True)
class Table:
    """One exported file: its stem, key, drop-rule reference, declared, added and dropped columns."""

    stem: str
    key: tuple[str, ...]
    drop_by: str | None
    columns: tuple[str, ...]
    added: tuple[str, ...]
    dropped: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.stem.lower()

    @property
    def drop_column(self) -> str | None:
        return REFERENCE_KEY[self.drop_by] if self.drop_by else None


def _parse(line: str) -> Table:
    stem, key, ref, cols = (p.strip() for p in line.split("|"))
    words = key.split() + cols.split()
    return Table(stem, tuple(w.lstrip("+") for w in key.split()), ref or None,
                 tuple(w.lstrip("+") for w in words if not w.startswith("-")),
                 tuple(w[1:] for w in words if w.startswith("+")), tuple(w[1:] for w in words if w.startswith("-")))


TABLES: tuple[Table, ...] = tuple(_parse(line) for line in LAYOUT.strip().splitlines())
BY_NAME = {t.name: t for t in TABLES}


def school_year_agrees(df) -> "object":  # noqa: ANN001
    """school_year (calendar year) and school_year_id (years since 2009) agree when both are given."""
    both = (df["school_year"] != "") & (df["school_year_id"] != "")
    year = df["school_year"].where(both, "0").str.fullmatch(r"\d{4}")
    yid = df["school_year_id"].where(both, "0").str.fullmatch(r"\d{1,3}")
    agree = (df["school_year"].where(both & year & yid, str(SCHOOL_YEAR_BASE)).astype(int) - SCHOOL_YEAR_BASE
             == df["school_year_id"].where(both & year & yid, "0").astype(int))
    return ~both | (year & yid & agree)


SCHOOL_YEAR_CHECK = RowCheck("school_year_id", ("school_year", "school_year_id"), school_year_agrees,
                             f"school_year_id must equal school_year - {SCHOOL_YEAR_BASE}")


def _column(t: Table, name: str) -> Column:
    key = name in t.key
    element = "staff id" if name.endswith("employee_id") else "educator evaluation"  # staff data, not students'
    if name in LOWERCASE_CODES:
        return Column(name, kind="code", codes=tuple(c.upper() for c in LOWERCASE_CODES[name]), element=element,
                      description="Slos.csv status list (any case; stored in lower case)")
    if name in ("school_year", "observation_school_year"):
        return Column(name, pattern=r"\d{4}", pattern_rule="a 4-digit calendar year", element=element)
    return Column(name, required=key, nullable=not key, element=element,
                  description=("new field (spec)" if name in t.added else "invented by the hub: no public layout"))


def _file_type(t: Table) -> FileType:
    checks = (SCHOOL_YEAR_CHECK,) if {"school_year", "school_year_id"} <= set(t.columns) else ()
    return FileType(t.name, (f"{t.stem}.csv",), tuple(_column(t, c) for c in t.columns), unique_key=t.key,
                    checks=checks, description=f"{t.stem}.csv" + (f"; drop rule: {t.drop_by}.csv" if t.drop_by else ""),
                    group=_group(t.name))


def _legacy(model: str) -> FileType:
    cols = tuple(Column(c, required=True, nullable=False, element="educator evaluation")
                 for c in ("legacy_id", "new_id"))
    return FileType(f"{model}_ids", (f"{model}_ids.csv",), cols, unique_key=("legacy_id",), load="reference",
                    description=f"export/all/{model}_ids.csv: legacy {model} id -> new id (reference data: applied "
                                "whenever received, outside the daily order)", group="legacy_ids")


# catalog groups: 59 file types in one group made an unreadable graph; grouped by what they describe
GROUPS = (("aggregated_", "aggregates"), ("goal", "goals"), ("indicator", "rubrics"), ("rubric", "rubrics"),
          ("observation", "observations"), ("ratings", "observations"), ("slo", "slos"), ("snapshot", "snapshots"),
          ("trending", "snapshots"), ("user_", "users"))


def _group(name: str) -> str:
    return next(group for prefix, group in GROUPS if name.startswith(prefix))


FILE_TYPES: tuple[FileType, ...] = (*(_file_type(t) for t in TABLES), *(_legacy(m) for m in LEGACY_MODELS))
