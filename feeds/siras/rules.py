"""SIRAS's own apply rules: match by SSID, create only designated students, keep identifying fields."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from feeds.siras.same_day import merged_sql
from hub.apply.schools import has_schools_sql, resolve_sql, schools
from hub.apply.upsert import ApplyContext, ApplyStats, TableStats, UpsertPlan, lit, upsert_with_audit
from hub.store.tables import students

# Never changed by the feed by default (the spec's "Update Identifying Data" option is off).
FROZEN = ("state_student_id", "local_student_id", "first_name", "last_name")
UPDATABLE = ("birthdate", "middle_name", "name_suffix", "preferred_first_name", "preferred_last_name", "school_code",
             "site_code", "school_type", "district_of_residence", "school_of_residence", "grade", "gender", "ethnicity",
             "race1", "race2", "race3", "el_type", "rfep_date", "native_language", "migrant", "residential_status",
             "designation", "school_entity")
DATES = ("birthdate", "rfep_date")
# file type -> designation of a file that holds only that program's students
FILE_DESIGNATION = {"demographics_504": "504"}


class SirasOptions(BaseModel):
    """Per-integration SIRAS options (registry `options:`)."""

    model_config = ConfigDict(extra="forbid")
    designated_file: Literal["SPED", "504", "SST"] | None = None  # the demographics file holds only this program
    loose_matching: bool = False  # "Update Identifying Data": names + birthdate may move SSID, Student ID, names
    loose_match_threshold: Annotated[float, Field(ge=50, le=100)] = 90.0  # rapidfuzz name score needed


def _school(district: str, has_entities: bool) -> dict[str, str]:
    """School of attendance: no change when the student already has the code; a code the district's school
    entities do not know is held (counted, not applied); NULL keeps the current value. A district without
    registered entities takes codes as delivered (no per-row lookups)."""
    if not has_entities:
        return {"school_entity": "CAST(NULL AS VARCHAR) AS school_entity", "school_held": "0 AS school_held"}
    entity = resolve_sql(district, "s.school_code", "s.site_code")
    same = "cur.school_code = s.school_code"
    unknown = f"(s.school_code IS NOT NULL AND {has_schools_sql(district)} AND {entity} IS NULL)"
    out = {c: f"CASE WHEN {same} OR {unknown} THEN NULL ELSE s.{c} END AS {c}" for c in ("school_code", "site_code")}
    out["school_entity"] = f"CASE WHEN {same} THEN NULL ELSE {entity} END AS school_entity"
    out["school_held"] = f"CASE WHEN {unknown} AND NOT COALESCE({same}, FALSE) THEN 1 ELSE 0 END AS school_held"
    return out


def _select(ctx: ApplyContext, merged: str, has_entities: bool) -> str:
    """The day's merged rows (feeds/siras/same_day.py) in core.students' columns, each with the delivery that
    supplied it."""
    district = lit(ctx.district.id)
    school = _school(district, has_entities)
    current = (f"LEFT JOIN core.students cur ON cur.district_id = {district} AND cur.state_student_id = s.ssid"
               if has_entities else "")
    cols = [f"CAST(s.{c} AS DATE) AS {c}" if c in DATES else school.get(c, f"s.{c}")
            for c in UPDATABLE if c != "designation"]
    by = [f"s.{'school_code' if c == 'school_entity' else c}__delivery AS {c}__delivery" for c in UPDATABLE]
    return (
        f"SELECT s.ssid_key AS student_key, {district} AS district_id, "
        f"s.ssid AS state_student_id, s.local_student_id, s.first_name, s.last_name, {', '.join(cols)}, "
        f"s.designation, {', '.join(by)}, s.source_file, s.delivery_id, s.source_row, s.conflicts, "
        f"{school['school_held']} FROM ({merged}) s {current}"
    )


def apply(ctx: ApplyContext) -> ApplyStats:
    """Apply the staged demographics (and 504) files of one delivery day to core.students, merged field by field
    (feeds/siras/same_day.py), so the day's later file adds to its earlier one and never masks it."""
    opts: SirasOptions = ctx.options  # type: ignore[assignment]
    if not ctx.deliveries:
        return {}
    has_entities = bool(ctx.conn.execute(sa.text(f"SELECT {has_schools_sql(lit(ctx.district.id))}")).scalar_one())
    designation_of = {"demographics": opts.designated_file, **FILE_DESIGNATION}
    source = _select(ctx, merged_sql(ctx, designation_of), has_entities)
    plan = UpsertPlan(
        target=students, key=("district_id", "state_student_id"), entity_key="student_key", source_sql=source,
        update_columns=UPDATABLE,
        insert_columns=("student_key", "district_id", *FROZEN, *UPDATABLE),
        can_insert="s.designation IS NOT NULL",
        can_update="t.status = 'active'", field_deliveries=True,
    )
    held, conflicts = ctx.conn.execute(sa.text(  # one scan, only when there is something to count
        f"SELECT COALESCE(SUM(school_held), 0), COALESCE(SUM(conflicts), 0) FROM ({source}) h")).one() \
        if has_entities or len(ctx.deliveries) > 1 else (0, 0)
    from feeds.siras.loose_match import apply_loose_matches  # rapidfuzz loads in the apply, not with the declarations

    loose = apply_loose_matches(ctx, source, opts.loose_match_threshold) if opts.loose_matching else 0
    stats = upsert_with_audit(ctx, plan)
    stats.skipped["school_code_unknown"] = int(held)
    if conflicts:  # fields of a student both files carry, with different values: the main file's applies
        stats.skipped["504 file value differs from main file (main kept)"] = int(conflicts)
    out = {"core.students": stats}
    if opts.loose_matching:
        out["core.students (loose matches)"] = TableStats(updated=loose)
    return out


def unchanged_state(conn: sa.Connection, options: BaseModel, district_id: str) -> str | None:
    """What the apply of a row reads besides the row and the options (hub/load/changes.py): the district's school
    entities. None with loose matching, which reads the whole file (an SSID moves away from a student the file no
    longer carries), so every row is staged."""
    if getattr(options, "loose_matching", False):
        return None
    rows = conn.execute(sa.select(schools).where(schools.c.district_id == district_id)
                        .order_by(schools.c.entity_id)).all()
    return repr([tuple(r) for r in rows])
