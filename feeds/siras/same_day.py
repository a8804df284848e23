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

from hub.apply import ApplyContext, lit

MAIN, PLANS = "demographics", "demographics_504"
FIELDS = ("local_student_id", "first_name", "last_name", "birthdate", "middle_name", "name_suffix", "school_type",
          "district_of_residence", "school_of_residence", "grade", "gender", "ethnicity", "race1", "race2", "race3",
          "el_type", "rfep_date", "native_language", "migrant", "residential_status", "preferred_first_name",
          "preferred_last_name")
SCHOOL = ("school_code", "site_code")  # one file's pair


def merged_sql(ctx: ApplyContext, designation_of: Mapping[str, str | None]) -> str:
    """SQL: one row per SSID of the day's staged files (columns as staged, plus `<field>__delivery`, `designation`,
    the row's `delivery_id` and `source_file`, and `conflicts`: fields where the 504 file's value lost)."""
    has = {ft: ft in ctx.deliveries for ft in (MAIN, PLANS)}

    def col(side: str, c: str) -> str:
        return f"{side}.{c}" if has[MAIN if side == "a" else PLANS] else "NULL"

    out = [f"COALESCE({col('a', 'ssid')}, {col('b', 'ssid')}) AS ssid"]
    for c in FIELDS:
        out += [f"COALESCE({col('a', c)}, {col('b', c)}) AS {c}",
                f"CASE WHEN {col('a', c)} IS NOT NULL THEN {col('a', 'delivery_id')} ELSE {col('b', 'delivery_id')} "
                f"END AS {c}__delivery"]
    main_school = f"{col('a', 'school_code')} IS NOT NULL"
    for c in SCHOOL:
        fallback = f"COALESCE({col('a', c)}, {col('b', c)})" if c != "school_code" else col("b", c)
        out += [f"CASE WHEN {main_school} THEN {col('a', c)} ELSE {fallback} END AS {c}",
                f"CASE WHEN {main_school} THEN {col('a', 'delivery_id')} ELSE {col('b', 'delivery_id')} END "
                f"AS {c}__delivery"]
    main_designation = f"COALESCE({col('a', 'designation')}, {lit(designation_of.get(MAIN))})"
    by_main = f"{col('a', 'ssid')} IS NOT NULL AND ({col('b', 'ssid')} IS NULL OR {main_designation} IS NOT NULL)"
    row = {k: f"CASE WHEN {by_main} THEN {col('a', k)} ELSE {col('b', k)} END" for k in ("delivery_id", "source_row")}
    plans_designation = f"COALESCE({col('b', 'designation')}, {lit(designation_of.get(PLANS))})"
    out += [f"CASE WHEN {main_designation} IS NOT NULL THEN {main_designation} "
            f"WHEN {col('b', 'ssid')} IS NOT NULL THEN {plans_designation} END AS designation",
            f"{row['delivery_id']} AS delivery_id", f"{row['delivery_id']} AS designation__delivery",
            f"{row['source_row']} AS source_row",
            f"CASE WHEN {by_main} THEN {lit(_file(ctx, MAIN))} ELSE {lit(_file(ctx, PLANS))} END AS source_file",
            " + ".join(f"CASE WHEN {col('a', c)} <> {col('b', c)} THEN 1 ELSE 0 END" for c in (*FIELDS, *SCHOOL))
            + " AS conflicts" if all(has.values()) else "0 AS conflicts"]
    sides = [f"{ctx.staged(MAIN)} a"] if has[MAIN] else []
    sides += [f"{ctx.staged(PLANS)} b"] if has[PLANS] else []
    source = " FULL OUTER JOIN ".join(sides) + (" ON a.ssid = b.ssid" if len(sides) == 2 else "")
    return f"SELECT {', '.join(out)} FROM {source}"


def _file(ctx: ApplyContext, file_type: str) -> str | None:
    d = ctx.deliveries.get(file_type)
    return d.file_name if d else None
