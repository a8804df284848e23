"""Renaissance Star assessments (SM, SR, SEL), loose or in one zip per client, linked to hub students through
PowerSchool STUDENT_NUMBER and the ClassLink email; rows that cannot be linked go to the review queue."""

from __future__ import annotations

import sqlalchemy as sa

from hub.apply import ApplyContext, ApplyStats, UpsertPlan, lit, upsert_with_audit
from hub.declarations import Feed, FileType, LinkRequest
from hub.tables import metadata
from feeds.identity import link_by_student_number, link_counts, refresh_crosswalk
from feeds.renaissance_star.columns import COLUMNS

SUBJECTS = {"sm": "math", "sr": "reading", "sel": "early_literacy"}

assessments = sa.Table(
    "star_assessments", metadata,
    sa.Column("assessment_key", sa.String, nullable=False),  # md5 of the AssessmentID (audit key)
    sa.Column("district_id", sa.String, primary_key=True),
    sa.Column("assessment_id", sa.String, primary_key=True),
    sa.Column("hub_student_key", sa.String, nullable=False),
    sa.Column("subject", sa.String, nullable=False),
    sa.Column("school_year", sa.String),
    sa.Column("completed_at", sa.DateTime),
    sa.Column("scaled_score", sa.Integer),
    sa.Column("percentile_rank", sa.Integer),
    sa.Column("grade_equivalent", sa.String),
    sa.Column("benchmark_category", sa.String),
    sa.Column("benchmark_level", sa.Integer),
    sa.Column("screening_window", sa.String),
    sa.Column("last_delivery_id", sa.String),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    schema="core")

FACTS = ("hub_student_key", "subject", "school_year", "completed_at", "scaled_score", "percentile_rank",
         "grade_equivalent", "benchmark_category", "benchmark_level", "screening_window")


def link(req: LinkRequest) -> dict[str, int]:
    """The match-rate gate's counts for one staged Star file."""
    return link_counts(req.conn, link_by_student_number(req.staged, req.district_id, "student_identifier"))


def _ts(col: str) -> str:
    return f"CAST(REPLACE(REPLACE(s.{col}, 'T', ' '), 'Z', '') AS TIMESTAMP)"


def _source(ctx: ApplyContext, ft: str) -> str:
    d = ctx.deliveries[ft]
    staged = ctx.staged(ft)
    return (
        f"SELECT md5(s.assessment_id) AS assessment_key, {lit(ctx.district.id)} AS district_id, s.assessment_id, "
        f"l.hub_student_key, {lit(SUBJECTS[ft])} AS subject, s.school_year, {_ts('completed_date')} AS completed_at, "
        f"CAST(CAST(s.scaled_score AS NUMERIC) AS INTEGER) AS scaled_score, "
        f"CAST(s.percentile_rank AS INTEGER) AS percentile_rank, s.grade_equivalent, s.benchmark_category, "
        f"CAST(s.benchmark_level AS INTEGER) AS benchmark_level, s.screening_window, "
        f"{lit(d.file_name)} AS source_file, s.delivery_id, l.reason, s.source_row, s.student_identifier "
        f"FROM {staged} s JOIN ({link_by_student_number(staged, ctx.district.id, 'student_identifier')}) l "
        f"ON l.source_row = s.source_row")


def apply(ctx: ApplyContext) -> ApplyStats:
    """Linked rows upsert into core.star_assessments by AssessmentID; the rest are queued for review."""
    stats: ApplyStats = {}
    for ft in (f for f in SUBJECTS if f in ctx.deliveries):
        d = ctx.deliveries[ft]
        ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS _star_linked")
        ctx.conn.exec_driver_sql(f"CREATE TEMP TABLE _star_linked AS {_source(ctx, ft)}")  # link once per file
        ctx.conn.execute(sa.text("DELETE FROM ops.identity_review WHERE delivery_id = :d"), {"d": d.delivery_id})
        ctx.conn.execute(sa.text(
            "INSERT INTO ops.identity_review (delivery_id, source_row, district_id, file_name, record_key, reason, "
            "queued_at) SELECT delivery_id, source_row, district_id, source_file, assessment_key, reason, :now "
            "FROM _star_linked WHERE reason IS NOT NULL"), {"now": ctx.now})
        stats[f"core.star_assessments ({ft})"] = upsert_with_audit(ctx, UpsertPlan(
            target=assessments, key=("district_id", "assessment_id"), entity_key="assessment_key",
            source_sql="SELECT * FROM _star_linked WHERE reason IS NULL", update_columns=FACTS,
            insert_columns=("assessment_key", "district_id", "assessment_id", *FACTS), can_insert="TRUE"))
        refresh_crosswalk(ctx, "renaissance", "SELECT student_identifier AS system_id, hub_student_key "
                                              "FROM _star_linked WHERE reason IS NULL")
        ctx.conn.exec_driver_sql("DROP TABLE _star_linked")
    return stats


def _file(name: str, code: str, title: str) -> FileType:
    return FileType(name, (f"{code}.csv", f"{code}_v2.csv"), COLUMNS, unique_key=("assessment_id",),
                    district_name_column="district_name", link=link,
                    description=f"Star {title} ({code}.csv or {code}_v2.csv): one row per completed test.")


FEED = Feed(
    name="renaissance_star",
    title="Renaissance Star assessments",
    description="Star Math, Reading and Early Literacy results from Renaissance Data Sharing (one zip per client).",
    files=(_file("sm", "SM", "Math"), _file("sr", "SR", "Reading"), _file("sel", "SEL", "Early Literacy")),
    apply=apply,
    target_tables=("core.star_assessments", "core.student_crosswalk", "ops.identity_review"),
    containers=("*.zip",),
    load="append",
    apply_asset="assessments",
    apply_description="Upserts linked Star results by AssessmentID; unlinked rows go to ops.identity_review.",
    kinds=frozenset({"csv"}),
)
