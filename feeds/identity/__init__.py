"""Student identity across systems: ClassLink users (the hub's students), PowerSchool students, and the crosswalk.

The chain: ClassLink email <-> PowerSchool student email (case- and whitespace-insensitive) -> STUDENT_NUMBER <->
another system's student number (e.g. Renaissance StudentIdentifier). Emails are stored only as hashes. Links
follow the current chain: a ClassLink or PowerSchool import rebuilds the crosswalk's ClassLink and PowerSchool rows
and runs the re-link steps feeds registered with `follows_chain`, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from hub.apply.upsert import ApplyContext, ApplyStats, lit
from hub.store.keyed import KEYED
from hub.store.tables import lineage_columns, metadata


classlink_users = sa.Table(
    "classlink_users", metadata,
    sa.Column("hub_student_key", sa.String, nullable=False, info=KEYED),  # keyed(district:classlink:sourcedId)
    sa.Column("district_id", sa.String, primary_key=True),
    sa.Column("sourced_id", sa.String, primary_key=True),
    sa.Column("email_hash", sa.String, info={"identifying": True, **KEYED}),  # keyed hash of the normalised email
    sa.Column("status", sa.String),
    sa.Column("listed", sa.Boolean),  # in the newest users.csv (NULL: stored before the hub tracked it)
    *lineage_columns(), schema="core")

ps_students = sa.Table(
    "ps_students", metadata,
    sa.Column("ps_key", sa.String, nullable=False, info=KEYED),  # keyed(district:powerschool:STUDENT_NUMBER)
    sa.Column("district_id", sa.String, primary_key=True),
    sa.Column("student_number", sa.String, primary_key=True),
    sa.Column("email_hash", sa.String, info={"identifying": True, **KEYED}),
    sa.Column("school_id", sa.String),
    sa.Column("grade_level", sa.String),
    sa.Column("enroll_status", sa.String),
    sa.Column("listed", sa.Boolean),  # in the newest students export (NULL: stored before the hub tracked it)
    *lineage_columns(), schema="core")

crosswalk = sa.Table(
    "student_crosswalk", metadata,
    sa.Column("district_id", sa.String, primary_key=True),
    sa.Column("system", sa.String, primary_key=True),  # classlink | powerschool | renaissance
    sa.Column("system_id", sa.String, primary_key=True),
    sa.Column("hub_student_key", sa.String, nullable=False, info=KEYED),
    # source | email | student_number | email_reassigned (held on its student: the address now names another user)
    sa.Column("match_method", sa.String, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("email_hash", sa.String, info=KEYED),  # powerschool rows: the address the link was made by
    schema="core")

review_queue = sa.Table(
    "identity_review", metadata,
    sa.Column("delivery_id", sa.String, primary_key=True),
    sa.Column("source_row", sa.BigInteger, primary_key=True),
    sa.Column("district_id", sa.String, nullable=False),
    sa.Column("file_name", sa.String, nullable=False),
    sa.Column("record_key", sa.String, nullable=False, info=KEYED),  # keyed hash of the row's own id, never the id
    # no_student_number_match: no PowerSchool student has the file's student number;
    # no_email_match: the PowerSchool student's email matches no ClassLink user; ambiguous_email: shared by 2+ students
    # email_reassigned: ClassLink gave the address the student was linked by to another user
    sa.Column("reason", sa.String, nullable=False),
    sa.Column("queued_at", sa.DateTime, nullable=False),  # when the open item was first queued
    sa.Column("to_check", sa.String),  # what a person should check, for the reason (feeds/identity/review.py)
    schema="ops")

ChainFollower = Callable[[ApplyContext], ApplyStats]
_FOLLOWERS: list[ChainFollower] = []


def follows_chain(follower: ChainFollower) -> ChainFollower:
    """Register a feed's re-link step; it runs in the transaction of every ClassLink or PowerSchool import."""
    _FOLLOWERS.append(follower)
    return follower


LISTED = "COALESCE({0}.listed, TRUE)"  # SQL: the record is in its system's newest export
MANY_DROPPED = 0.1  # share of a district's listed students an export may leave out before the import says so


def replace_snapshot(ctx: ApplyContext, table: str, key: str, listed_sql: str) -> dict[str, int]:
    """A snapshot export replaces the previous one for the district: records it lists are listed, the others stay
    stored (their history) but are no longer linked. Limited imports list but never unlist. Returns the skipped
    counts for the apply metadata: how many left the export, and a warning when that is many."""
    d = lit(ctx.district.id)
    run = ctx.conn.exec_driver_sql
    before = ctx.conn.execute(sa.text(  # listed by the previous export (this import's new rows are not)
        f"SELECT count(*) FROM {table} WHERE district_id = {d} AND (listed OR (listed IS NULL AND created_at < :now))"),
        {"now": ctx.now}).scalar_one()
    run(f"UPDATE {table} SET listed = TRUE WHERE district_id = {d} AND {key} IN ({listed_sql})")
    if ctx.limited:
        return {}
    dropped = run(f"UPDATE {table} SET listed = FALSE WHERE district_id = {d} AND COALESCE(listed, TRUE) AND "
                  f"{key} NOT IN ({listed_sql})").rowcount
    counts = {"not in this export (kept, no longer linked)": dropped}
    if dropped and dropped >= MANY_DROPPED * before:
        counts[f"MANY left the export: {dropped} of the {before} the previous export listed; check this export is "
               f"complete"] = dropped
    return counts


def email_hash(ctx: ApplyContext, column: str, relation: str) -> str:
    """SQL: the keyed hash of an email of `relation` (as `s`), lower-cased with all whitespace removed (NULL stays
    NULL)."""
    return ctx.keyed(f"lower(regexp_replace({column}, '\\s+', '', 'g'))", relation)


ACTIVE_PS = "COALESCE(NULLIF({0}.enroll_status, ''), '0') IN ('0', '-1')"  # SQL: PowerSchool: active or pre-registered
ACTIVE_CL = "lower(COALESCE(NULLIF({0}.status, ''), 'active')) = 'active'"  # SQL: ClassLink: not tobedeleted/inactive


def left_sql(district_id: str, hub_key: str) -> str:
    """SQL: the hub student `hub_key` left, as either system says: its ClassLink user is no longer listed or not
    active, or the PowerSchool students its Star numbers named are no longer listed or not enrolled (ENROLL_STATUS
    not 0/-1)."""
    d = lit(district_id)
    return (f"(EXISTS (SELECT 1 FROM core.classlink_users c WHERE c.district_id = {d} AND c.hub_student_key = "
            f"{hub_key} AND NOT ({LISTED.format('c')} AND {ACTIVE_CL.format('c')})) OR (EXISTS (SELECT 1 FROM "
            f"core.student_crosswalk r WHERE r.district_id = {d} AND r.system = 'renaissance' AND r.hub_student_key = "
            f"{hub_key}) AND NOT EXISTS (SELECT 1 FROM core.student_crosswalk r JOIN core.ps_students p ON "
            f"p.district_id = r.district_id AND p.student_number = r.system_id WHERE r.district_id = {d} AND r.system "
            f"= 'renaissance' AND r.hub_student_key = {hub_key} AND {LISTED.format('p')} AND {ACTIVE_PS.format('p')})))")


def link_by_student_number(staged: str, district_id: str, number_column: str) -> str:
    """SQL over staged rows: delivery_id, source_row, the hub student (or NULL) and the review reason (or NULL),
    through the PowerSchool rows of the crosswalk (`refresh_crosswalk`)."""
    d = lit(district_id)
    return f"""
        SELECT s.delivery_id, s.source_row, p.student_number AS ps_number,
               CASE WHEN w.match_method = 'email' THEN w.hub_student_key END AS hub_student_key,
               CASE WHEN p.student_number IS NULL THEN 'no_student_number_match'
                    WHEN w.match_method = 'email' THEN NULL
                    WHEN w.match_method = 'email_reassigned' THEN 'email_reassigned'
                    WHEN p.email_hash IS NULL OR c.n IS NULL THEN 'no_email_match'
                    ELSE 'ambiguous_email' END AS reason
        FROM {staged} s
        LEFT JOIN core.ps_students p ON p.district_id = {d} AND p.student_number = s.{number_column}
                  AND {LISTED.format('p')}
        LEFT JOIN core.student_crosswalk w ON w.district_id = {d} AND w.system = 'powerschool'
                  AND w.system_id = p.student_number
        LEFT JOIN (SELECT email_hash, count(*) AS n FROM core.classlink_users c WHERE district_id = {d}
                   AND email_hash IS NOT NULL AND {LISTED.format('c')} GROUP BY email_hash) c
                  ON c.email_hash = p.email_hash"""


def link_counts(conn: sa.Connection, sql: str) -> dict[str, int]:
    """Rows per outcome: 'linked' or a review reason."""
    rows = conn.execute(sa.text(f"SELECT COALESCE(reason, 'linked'), count(*) FROM ({sql}) x GROUP BY 1"))
    return {k: int(v) for k, v in rows}


def _candidates(district_id: str) -> str:
    """SQL: PowerSchool number, email hash and the ClassLink student its email names (NULL when none is sure).
    Listed records only. One PowerSchool and one ClassLink student with the email: linked. More: the one pair whose
    statuses agree (both active, or both left: ENROLL_STATUS not 0/-1, ClassLink tobedeleted or inactive)."""
    d = lit(district_id)
    return f"""
        WITH pk AS (SELECT p.student_number, p.email_hash, {ACTIVE_PS.format('p')} AS act FROM core.ps_students p
                    WHERE p.district_id = {d} AND {LISTED.format('p')} AND p.email_hash IS NOT NULL),
             ck AS (SELECT c.hub_student_key, c.email_hash, {ACTIVE_CL.format('c')} AS act FROM core.classlink_users c
                    WHERE c.district_id = {d} AND {LISTED.format('c')} AND c.email_hash IS NOT NULL),
             pn AS (SELECT email_hash, count(*) AS n, SUM(CASE WHEN act THEN 1 ELSE 0 END) AS na FROM pk GROUP BY 1),
             cn AS (SELECT email_hash, count(*) AS n, SUM(CASE WHEN act THEN 1 ELSE 0 END) AS na,
                           min(hub_student_key) AS hub, min(CASE WHEN act THEN hub_student_key END) AS hub_a,
                           min(CASE WHEN NOT act THEN hub_student_key END) AS hub_d FROM ck GROUP BY 1)
        SELECT pk.student_number, pk.email_hash,
               CASE WHEN pn.n = 1 AND cn.n = 1 THEN cn.hub
                    WHEN pk.act AND pn.na = 1 AND cn.na = 1 THEN cn.hub_a
                    WHEN NOT pk.act AND pn.n - pn.na = 1 AND cn.n - cn.na = 1 THEN cn.hub_d END AS hub_student_key
        FROM pk JOIN pn ON pn.email_hash = pk.email_hash JOIN cn ON cn.email_hash = pk.email_hash"""


def refresh_crosswalk(ctx: ApplyContext) -> ApplyStats:
    """Rebuild the district's chain after a ClassLink or PowerSchool import: ClassLink users (the hub students) and
    PowerSchool students linked by email (`_candidates`); then the registered re-link steps (their stats).

    A link moves only when PowerSchool says so (the student's email changed there). When ClassLink gives the
    address a PowerSchool student was linked by to another user, the link is held on its student with
    match_method 'email_reassigned' (rows to review, never to the new holder) until PowerSchool changes that
    student's email or the address comes back."""
    d = lit(ctx.district.id)
    run = ctx.conn.exec_driver_sql
    run("DROP TABLE IF EXISTS _ps_prev")
    run(f"CREATE TEMP TABLE _ps_prev AS SELECT system_id, hub_student_key, email_hash FROM core.student_crosswalk "
        f"WHERE district_id = {d} AND system = 'powerschool'")
    run(f"DELETE FROM core.student_crosswalk WHERE district_id = {d} AND system IN ('classlink', 'powerschool')")
    run(f"INSERT INTO core.student_crosswalk (district_id, system, system_id, hub_student_key, match_method, "
        f"confidence) SELECT {d}, 'classlink', sourced_id, hub_student_key, 'source', 1.0 "
        f"FROM core.classlink_users WHERE district_id = {d}")
    reassigned = (f"w.hub_student_key IS DISTINCT FROM x.hub_student_key AND COALESCE(w.email_hash, x.email_hash) = "
                  f"x.email_hash AND EXISTS (SELECT 1 FROM core.classlink_users c WHERE c.district_id = {d} AND "
                  f"{LISTED.format('c')} AND c.email_hash = x.email_hash AND c.hub_student_key <> w.hub_student_key)")
    run(f"INSERT INTO core.student_crosswalk (district_id, system, system_id, hub_student_key, match_method, "
        f"confidence, email_hash) SELECT {d}, 'powerschool', x.student_number, CASE WHEN w.system_id IS NOT NULL AND "
        f"{reassigned} THEN w.hub_student_key ELSE x.hub_student_key END, CASE WHEN w.system_id IS NOT NULL AND "
        f"{reassigned} THEN 'email_reassigned' ELSE 'email' END, 1.0, x.email_hash FROM ({_candidates(ctx.district.id)}"
        f") x LEFT JOIN _ps_prev w ON w.system_id = x.student_number WHERE x.hub_student_key IS NOT NULL OR "
        f"(w.system_id IS NOT NULL AND {reassigned})")
    run("DROP TABLE _ps_prev")
    stats: ApplyStats = {}
    for follower in _FOLLOWERS:
        stats.update(follower(ctx))
    return stats


def sync_system(ctx: ApplyContext, system: str, links_sql: str) -> None:
    """Set the crosswalk rows of `system` for the ids in `links_sql` (system_id, hub_student_key or NULL when the id
    does not link): a changed link moves, an id that no longer links leaves, a new one is added."""
    d, s = lit(ctx.district.id), lit(system)
    run = ctx.conn.exec_driver_sql
    run(f"DELETE FROM core.student_crosswalk AS w WHERE w.district_id = {d} AND w.system = {s} AND EXISTS (SELECT 1 "
        f"FROM ({links_sql}) x WHERE x.system_id = w.system_id AND (x.hub_student_key IS NULL OR "
        f"x.hub_student_key <> w.hub_student_key))")
    run(f"INSERT INTO core.student_crosswalk (district_id, system, system_id, hub_student_key, match_method, "
        f"confidence) SELECT DISTINCT {d}, {s}, x.system_id, x.hub_student_key, "
        f"'student_number', 1.0 FROM ({links_sql}) x WHERE x.hub_student_key IS NOT NULL AND NOT EXISTS (SELECT 1 "
        f"FROM core.student_crosswalk w WHERE w.district_id = {d} AND w.system = {s} AND w.system_id = x.system_id)")
