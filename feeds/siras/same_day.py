"""A day's SIRAS files merged field by field: the main demographics file and the 504 file of one delivery day.

Whatever order the files arrive in, the day's rows are the same: per student (SSID) and field, the main file's value
where it has one, else the 504 file's (a blank never hides the other file's value). School of attendance and site
code come together from one file. A 504 row designates its student 504 unless the main file designates it. Each
field names the delivery that supplied it (`<field>__delivery`), so the audit credits that file. Applying the day
again when a later file arrives therefore changes only what the later file adds, and the state after any arrival
order equals the state after one run of all the day's files.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.apply.upsert import ApplyContext, lit

MAIN, PLANS = "demographics", "demographics_504"
FIELDS = ("local_student_id", "first_name", "last_name", "birthdate", "middle_name", "name_suffix", "school_type",
          "district_of_residence", "school_of_residence", "grade", "gender", "ethnicity", "race1", "race2", "race3",
          "el_type", "rfep_date", "native_language", "migrant", "residential_status", "preferred_first_name",
          "preferred_last_name")
SCHOOL = ("school_code", "site_code")  # one file's pair


def merged_sql(ctx: ApplyContext, designation_of: Mapping[str, str | None]) -> str:
    """SQL: one row per SSID of the day's staged files (columns as staged, the keyed `ssid_key`, plus `<field>__delivery`, `designation`,
    the row's `delivery_id` and `source_file`, and `conflicts`: fields where the 504 file's value lost). A day of one
    file reads its staged rows as they are (plain columns keep the planner's estimates for the joins that follow)."""
    present = [ft for ft in (MAIN, PLANS) if ft in ctx.deliveries]
    if len(present) == 1:
        return _one_file(ctx, present[0], designation_of.get(present[0]))
    out = ["COALESCE(a.ssid, b.ssid) AS ssid", "COALESCE(a.ssid_key, b.ssid_key) AS ssid_key"]
    for c in FIELDS:
        out += [f"COALESCE(a.{c}, b.{c}) AS {c}",
                f"CASE WHEN a.{c} IS NOT NULL THEN a.delivery_id ELSE b.delivery_id END AS {c}__delivery"]
    for c in SCHOOL:
        fallback = "b.school_code" if c == "school_code" else f"COALESCE(a.{c}, b.{c})"
        out += [f"CASE WHEN a.school_code IS NOT NULL THEN a.{c} ELSE {fallback} END AS {c}",
                f"CASE WHEN a.school_code IS NOT NULL THEN a.delivery_id ELSE b.delivery_id END AS {c}__delivery"]
    main = f"COALESCE(a.designation, {lit(designation_of.get(MAIN))})"
    plans = f"COALESCE(b.designation, {lit(designation_of.get(PLANS))})"
    by_main = f"a.ssid IS NOT NULL AND (b.ssid IS NULL OR {main} IS NOT NULL)"
    out += [f"CASE WHEN {main} IS NOT NULL THEN {main} WHEN b.ssid IS NOT NULL THEN {plans} END AS designation",
            f"CASE WHEN {by_main} THEN a.delivery_id ELSE b.delivery_id END AS delivery_id",
            f"CASE WHEN {by_main} THEN a.delivery_id ELSE b.delivery_id END AS designation__delivery",
            f"CASE WHEN {by_main} THEN a.source_row ELSE b.source_row END AS source_row",
            f"CASE WHEN {by_main} THEN {lit(_file(ctx, MAIN))} ELSE {lit(_file(ctx, PLANS))} END AS source_file",
            " + ".join(f"CASE WHEN a.{c} <> b.{c} THEN 1 ELSE 0 END" for c in (*FIELDS, *SCHOOL)) + " AS conflicts"]
    return (f"SELECT {', '.join(out)} FROM {ctx.staged(MAIN)} a FULL OUTER JOIN {ctx.staged(PLANS)} b "
            f"ON a.ssid = b.ssid")


def _one_file(ctx: ApplyContext, file_type: str, designation: str | None) -> str:
    """The merged columns of a day with one file: every field from it."""
    by = ", ".join(f"s.delivery_id AS {c}__delivery" for c in (*FIELDS, *SCHOOL))
    return (f"SELECT s.ssid, s.ssid_key, {', '.join(f's.{c}' for c in (*FIELDS, *SCHOOL))}, {by}, "
            f"COALESCE(s.designation, {lit(designation)}) AS designation, s.delivery_id, "
            f"s.delivery_id AS designation__delivery, s.source_row, {lit(_file(ctx, file_type))} AS source_file, "
            f"0 AS conflicts FROM {ctx.staged(file_type)} s")


def _file(ctx: ApplyContext, file_type: str) -> str | None:
    d = ctx.deliveries.get(file_type)
    return d.file_name if d else None
