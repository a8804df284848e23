"""Star apply rules: rows are linked through the current identity chain, at each Star delivery and again after each
ClassLink or PowerSchool import, so stored scores, the crosswalk and the review queue always follow the chain."""

from __future__ import annotations

import sqlalchemy as sa

from feeds.identity import follows_chain, left_sql, link_by_student_number, sync_system
from feeds.identity.review import sync_review
from hub.apply.upsert import AUDIT_COLUMNS, ApplyContext, ApplyStats, TableStats, UpsertPlan, lit, upsert_with_audit
from hub.store.keyed import KEYED
from hub.store.tables import lineage_columns, metadata

FEED_NAME = "renaissance_star"
SUBJECTS = {"sm": "math", "sr": "reading", "sel": "early_literacy"}  # file type -> subject

assessments = sa.Table(
    "star_assessments", metadata,
    sa.Column("assessment_key", sa.String, nullable=False, info=KEYED),  # keyed hash of the AssessmentID (audit key)
    sa.Column("district_id", sa.String, primary_key=True),
    sa.Column("assessment_id", sa.String, primary_key=True),
    sa.Column("hub_student_key", sa.String, nullable=False, info=KEYED),
    sa.Column("subject", sa.String, nullable=False),
    sa.Column("school_year", sa.String),
    sa.Column("completed_at", sa.DateTime),
    sa.Column("scaled_score", sa.Integer),
    sa.Column("percentile_rank", sa.Integer),
    sa.Column("grade_equivalent", sa.String),
    sa.Column("benchmark_category", sa.String),
    sa.Column("benchmark_level", sa.Integer),
    sa.Column("screening_window", sa.String),
    *lineage_columns(),  # the staged row of its last delivery is the score's source when it is linked again
    schema="core")

FACTS = ("hub_student_key", "subject", "school_year", "completed_at", "scaled_score", "percentile_rank",
         "grade_equivalent", "benchmark_category", "benchmark_level", "screening_window")


def apply(ctx: ApplyContext) -> ApplyStats:
    """Link each delivered file's rows and store them (see `_apply_rows`)."""
    return {f"core.star_assessments ({ft})": _apply_rows(ctx, ft, ctx.staged(ft)) for ft in SUBJECTS
            if ft in ctx.deliveries}


@follows_chain
def relink(ctx: ApplyContext) -> ApplyStats:
    """After a ClassLink or PowerSchool import: link the district's current Star rows again, i.e. the staged row of
    each stored score (its last delivery) and of each open review item (the newest when a record has several)."""
    d = lit(ctx.district.id)
    stats: ApplyStats = {}
    for ft, subject in SUBJECTS.items():
        ours = (f"SELECT delivery_id, mtime FROM ops.deliveries WHERE district_id = {d} AND feed = {lit(FEED_NAME)} "
                f"AND file_type = {lit(ft)} AND status = 'applied'")
        if ctx.conn.exec_driver_sql(f"SELECT count(*) FROM ({ours}) x").scalar_one() == 0:
            continue  # nothing applied: the file type's staging table may not exist
        staged = f"staging.{FEED_NAME}__{ft}"
        ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS _star_current")
        ctx.conn.exec_driver_sql(
            f"CREATE TEMP TABLE _star_current AS SELECT * FROM (SELECT c.*, ROW_NUMBER() OVER (PARTITION BY "
            f"c.assessment_id ORDER BY o.mtime DESC, c.delivery_id DESC) AS _newest FROM ("
            f"SELECT s.* FROM {staged} s JOIN core.star_assessments t ON t.last_delivery_id = s.delivery_id AND "
            f"t.assessment_id = s.assessment_id WHERE t.district_id = {d} AND t.subject = {lit(subject)} UNION ALL "
            f"SELECT s.* FROM {staged} s JOIN ops.identity_review q ON q.delivery_id = s.delivery_id AND "
            f"q.source_row = s.source_row WHERE q.district_id = {d}) c JOIN ({ours}) o ON o.delivery_id = c.delivery_id"
            f") x WHERE _newest = 1")
        stats[f"core.star_assessments ({ft}, linked again)"] = _apply_rows(ctx, ft, "_star_current")
        ctx.conn.exec_driver_sql("DROP TABLE _star_current")
    return stats


def _apply_rows(ctx: ApplyContext, ft: str, staged: str) -> TableStats:
    """Link `staged` (one row per AssessmentID) through the current chain: linked rows upsert into
    core.star_assessments (a relinked score moves, audited), rows that no longer link leave it (audited) and become
    the file type's open review items, and the crosswalk's Renaissance rows follow.

    A stored score stays with its student, unchanged, when the student left (`left_sql`) or the address was
    reassigned: the history of a student who left is never moved or deleted by churn; reassigned ones are also
    queued (`email_reassigned`) for a person to check."""
    ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS _star_linked")
    ctx.conn.exec_driver_sql(  # link once
        f"CREATE TEMP TABLE _star_linked AS SELECT x.*, t.hub_student_key AS stored_key, COALESCE(t.assessment_id "
        f"IS NOT NULL AND (x.reason IS NOT NULL OR x.hub_student_key <> t.hub_student_key) AND (x.reason = "
        f"'email_reassigned' OR {left_sql(ctx.district.id, 't.hub_student_key')}), FALSE) "
        f"AS kept FROM ({_source(ctx, ft, staged)}) x LEFT JOIN core.star_assessments t ON t.district_id = "
        f"x.district_id AND t.assessment_id = x.assessment_id")
    queued = sync_review(ctx, FEED_NAME, ft, "SELECT delivery_id, source_row, source_file AS file_name, assessment_key "
                                             "AS record_key, reason FROM _star_linked WHERE reason IS NOT NULL AND "
                                             "(NOT kept OR reason = 'email_reassigned')")
    unlinked = _unlink(ctx)
    stats = upsert_with_audit(ctx, UpsertPlan(
        target=assessments, key=("district_id", "assessment_id"), entity_key="assessment_key",
        source_sql="SELECT * FROM _star_linked WHERE reason IS NULL AND NOT kept", update_columns=FACTS,
        insert_columns=("assessment_key", "district_id", "assessment_id", *FACTS), can_insert="TRUE"))
    stats.deleted, stats.skipped["to review"] = unlinked, queued
    stats.skipped["kept with a student who left or whose address was reassigned"] = ctx.conn.exec_driver_sql(
        "SELECT count(*) FROM _star_linked WHERE kept").scalar_one()
    sync_system(ctx, "renaissance", "SELECT student_identifier AS system_id, CASE WHEN kept THEN stored_key ELSE "
                                    "hub_student_key END AS hub_student_key FROM _star_linked "
                                    "WHERE student_identifier IS NOT NULL")
    ctx.conn.exec_driver_sql("DROP TABLE _star_linked")
    return stats


def _ts(col: str) -> str:
    return f"CAST(REPLACE(REPLACE(s.{col}, 'T', ' '), 'Z', '') AS TIMESTAMP)"


def _source(ctx: ApplyContext, ft: str, staged: str) -> str:
    """SQL: the staged rows in core.star_assessments' columns, with their link (hub student or review reason)."""
    return (
        f"SELECT {ctx.keyed('s.assessment_id', staged)} AS assessment_key, {lit(ctx.district.id)} AS district_id, "
        f"s.assessment_id, "
        f"l.hub_student_key, {lit(SUBJECTS[ft])} AS subject, s.school_year, {_ts('completed_date')} AS completed_at, "
        f"CAST(CAST(s.scaled_score AS NUMERIC) AS INTEGER) AS scaled_score, "
        f"CAST(s.percentile_rank AS INTEGER) AS percentile_rank, s.grade_equivalent, s.benchmark_category, "
        f"CAST(s.benchmark_level AS INTEGER) AS benchmark_level, s.screening_window, "
        f"d.file_name AS source_file, s.delivery_id, l.reason, s.source_row, s.student_identifier "
        f"FROM {staged} s JOIN ops.deliveries d ON d.delivery_id = s.delivery_id "
        f"JOIN ({link_by_student_number(staged, ctx.district.id, 'student_identifier')}) l "
        f"ON l.delivery_id = s.delivery_id AND l.source_row = s.source_row")


def _unlink(ctx: ApplyContext) -> int:
    """Delete the stored scores of rows that no longer link (one 'delete' audit row each); returns how many.
    Limited imports delete nothing."""
    if ctx.limited:
        return 0
    gone = ("FROM core.star_assessments t JOIN _star_linked s ON s.district_id = t.district_id AND "
            "s.assessment_id = t.assessment_id WHERE s.reason IS NOT NULL AND NOT s.kept")
    ctx.conn.execute(sa.text(
        f"INSERT INTO ops.field_audit ({AUDIT_COLUMNS}) SELECT t.district_id, 'core.star_assessments', "
        f"t.assessment_key, 'delete', 'hub_student_key', t.hub_student_key, NULL, s.source_file, s.delivery_id, "
        f":run_id, :now, s.source_row {gone}"), {"run_id": ctx.run_id, "now": ctx.now})
    return ctx.conn.exec_driver_sql(
        f"DELETE FROM core.star_assessments WHERE district_id = {lit(ctx.district.id)} AND assessment_id IN "
        "(SELECT assessment_id FROM _star_linked WHERE reason IS NOT NULL AND NOT kept)").rowcount
