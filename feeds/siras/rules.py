"""SIRAS's own apply rules: match by SSID, create only designated students, keep identifying fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from hub.apply import ApplyContext, ApplyStats, UpsertPlan, lit, upsert_with_audit
from hub.tables import students

# Never changed by the feed by default (the spec's "Update Identifying Data" option is off).
FROZEN = ("state_student_id", "local_student_id", "first_name", "last_name")
UPDATABLE = ("birthdate", "middle_name", "name_suffix", "preferred_first_name", "preferred_last_name", "school_code",
             "site_code", "school_type", "district_of_residence", "school_of_residence", "grade", "gender", "ethnicity",
             "race1", "race2", "race3", "el_type", "rfep_date", "native_language", "migrant", "residential_status",
             "designation")
DATES = ("birthdate", "rfep_date")
# file type -> designation of a file that holds only that program's students
FILE_DESIGNATION = {"demographics_504": "504"}


class SirasOptions(BaseModel):
    """Per-integration SIRAS options (registry `options:`)."""

    model_config = ConfigDict(extra="forbid")
    designated_file: Literal["SPED", "504", "SST"] | None = None  # the demographics file holds only this program


def _select(ctx: ApplyContext, file_type: str, designation: str | None, priority: int) -> str:
    d = ctx.deliveries[file_type]
    cols = [f"CAST(s.{c} AS DATE) AS {c}" if c in DATES else f"s.{c}" for c in UPDATABLE if c != "designation"]
    return (
        f"SELECT md5({lit(ctx.district.id + ':')} || s.ssid) AS student_key, {lit(ctx.district.id)} AS district_id, "
        f"s.ssid AS state_student_id, s.local_student_id, s.first_name, s.last_name, {', '.join(cols)}, "
        f"COALESCE(s.designation, {lit(designation)}) AS designation, {lit(d.file_name)} AS source_file, "
        f"s.delivery_id, {priority} AS priority, s.source_row FROM {ctx.staged(file_type)} s"
    )


def apply(ctx: ApplyContext) -> ApplyStats:
    """Apply the staged demographics (and 504) files of one delivery day to core.students."""
    opts: SirasOptions = ctx.options  # type: ignore[assignment]
    parts = [_select(ctx, ft, FILE_DESIGNATION.get(ft, opts.designated_file), n)
             for n, ft in enumerate(("demographics", "demographics_504")) if ft in ctx.deliveries]
    if not parts:
        return {}
    # A student in both files: the main demographics row wins (each file alone has unique SSIDs: a gate).
    source = parts[0] if len(parts) == 1 else (
        f"SELECT * FROM (SELECT u.*, ROW_NUMBER() OVER (PARTITION BY state_student_id ORDER BY priority, source_row) "
        f"AS pick FROM ({' UNION ALL '.join(parts)}) u) x WHERE pick = 1")
    plan = UpsertPlan(
        target=students, key=("district_id", "state_student_id"), entity_key="student_key", source_sql=source,
        update_columns=UPDATABLE,
        insert_columns=("student_key", "district_id", *FROZEN, *UPDATABLE),
        can_insert="s.designation IS NOT NULL",
        can_update="t.status = 'active'",
    )
    return {"core.students": upsert_with_audit(ctx, plan)}
