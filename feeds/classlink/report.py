"""What a ClassLink import tells a coordinator beyond the upsert: users who are not students, and the students the
chain cannot link to PowerSchool (counts only)."""

from __future__ import annotations

import sqlalchemy as sa

from hub.apply.upsert import ApplyContext, TableStats, lit


def not_students(ctx: ApplyContext) -> int:
    """Users of the delivery whose role is not student (kept out of the student chain)."""
    return int(ctx.conn.execute(sa.text(f"SELECT count(*) FROM {ctx.staged('users')} s WHERE s.role <> 'STUDENT'"))
               .scalar_one())


def unlinked(ctx: ApplyContext) -> TableStats:
    """The delivery's students the crosswalk has no PowerSchool row for: without an email, or with one no single
    PowerSchool student has."""
    d = lit(ctx.district.id)
    no_email, no_match = ctx.conn.execute(sa.text(
        f"SELECT COALESCE(SUM(CASE WHEN c.email_hash IS NULL THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN c.email_hash IS NOT NULL THEN 1 ELSE 0 END), 0) "
        f"FROM {ctx.staged('users')} s JOIN core.classlink_users c ON c.district_id = {d} AND c.sourced_id = s.sourced_id "
        f"WHERE s.role = 'STUDENT' AND NOT EXISTS (SELECT 1 FROM core.student_crosswalk w WHERE w.district_id = {d} "
        f"AND w.system = 'powerschool' AND w.hub_student_key = c.hub_student_key)")).one()
    return TableStats(skipped={"student without email": int(no_email),
                               "no PowerSchool student with the email": int(no_match)})
