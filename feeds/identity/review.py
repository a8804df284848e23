"""The identity review queue (ops.identity_review): one entry per record that cannot be linked now."""

from __future__ import annotations

import sqlalchemy as sa

from hub.apply.upsert import ApplyContext, lit

TO_CHECK = {  # reason -> what a person should check (ops.identity_review.to_check; docs/feeds/identity.md)
    "no_student_number_match": "Is the student in PowerSchool's latest export, and is the number in the file the "
                               "PowerSchool STUDENT_NUMBER with its leading zeros?",
    "no_email_match": "Is the student email in PowerSchool the one ClassLink has for the student (and in ClassLink's "
                      "latest users.csv)?",
    "ambiguous_email": "Which student owns the address? Give each student their own, or mark the one who left "
                       "(ClassLink tobedeleted, PowerSchool ENROLL_STATUS not 0).",
    "email_reassigned": "ClassLink gave this student's address to another user: did the student leave (then set "
                        "ENROLL_STATUS and change the email in PowerSchool) or was the address moved by mistake? "
                        "Stored scores stay with the student meanwhile.",
}


def _to_check(reason: str) -> str:
    return "CASE " + " ".join(f"WHEN {reason} = {lit(k)} THEN {lit(v)}" for k, v in TO_CHECK.items()) + " END"


def sync_review(ctx: ApplyContext, feed: str, file_type: str, items_sql: str) -> int:
    """Make the district's open items of one file type the rows of `items_sql` (delivery_id, source_row, file_name,
    record_key, reason): the type's other items leave (they link now, or their record is queued again here); an
    item still open for the same reason keeps the time it was first queued. Returns the open items."""
    d = lit(ctx.district.id)
    ours = (f"district_id = {d} AND (delivery_id IN (SELECT delivery_id FROM ops.deliveries WHERE district_id = {d} "
            f"AND feed = {lit(feed)} AND file_type = {lit(file_type)}) OR record_key IN (SELECT record_key FROM "
            f"({items_sql}) i))")
    run = ctx.conn.exec_driver_sql
    run("DROP TABLE IF EXISTS _review_open")
    run(f"CREATE TEMP TABLE _review_open AS SELECT record_key, reason, min(queued_at) AS queued_at "
        f"FROM ops.identity_review WHERE {ours} GROUP BY record_key, reason")
    run(f"DELETE FROM ops.identity_review WHERE {ours}")
    queued = ctx.conn.execute(sa.text(
        f"INSERT INTO ops.identity_review (delivery_id, source_row, district_id, file_name, record_key, reason, "
        f"queued_at, to_check) SELECT i.delivery_id, i.source_row, {d}, i.file_name, i.record_key, i.reason, "
        f"COALESCE(o.queued_at, :now), {_to_check('i.reason')} FROM ({items_sql}) i LEFT JOIN _review_open o ON o.record_key = i.record_key "
        f"AND o.reason = i.reason"), {"now": ctx.now}).rowcount
    run("DROP TABLE _review_open")
    return queued
