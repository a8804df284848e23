"""ClassLink users (OneRoster users.csv, 1.1 layout): the hub's students, identified by sourcedId, linked by email;
users of every other OneRoster role are read and counted, never students."""

from feeds.classlink.oneroster import ROLE_PATTERN, STATUS_PATTERN, users_layout
from feeds.classlink.report import not_students, unlinked
from feeds.identity import classlink_users, email_hash, refresh_crosswalk, replace_snapshot
from hub.apply.upsert import ApplyContext, ApplyStats, UpsertPlan, lit, upsert_with_audit
from hub.registry.declarations import Column, Feed, FileType

COLUMNS = (
    Column("sourced_id", ("sourcedId",), required=True, nullable=False, kind="identifier",
           stored_in="core.classlink_users.sourced_id", element="classlink user id"),
    Column("status", ("status",), pattern=STATUS_PATTERN, pattern_rule="OneRoster status: active, tobedeleted or "
           "inactive", element="enrollment"),
    Column("role", ("role",), required=True, nullable=False, kind="code", pattern=ROLE_PATTERN,
           pattern_rule="a OneRoster 1.1 or 1.2 role (student, teacher, parent, guardian, relative, aide, proctor, "
                        "counselor, principal, administrator, district/site/system administrator or ext:...)",
           element="role"),
    Column("email", ("email",), required=True, element="email"),
)


def apply(ctx: ApplyContext) -> ApplyStats:
    """Upsert the students of the day's users.csv (the export replaces the previous one: students it leaves out are
    kept, no longer linked), then rebuild the district's crosswalk."""
    d, users = ctx.deliveries["users"], f"(SELECT * FROM {ctx.staged('users')} x WHERE x.role = 'STUDENT')"
    source = (f"SELECT {ctx.keyed(lit(ctx.district.id + ':classlink:') + ' || s.sourced_id', users)} AS "
              f"hub_student_key, {lit(ctx.district.id)} AS district_id, s.sourced_id, "
              f"{email_hash(ctx, 's.email', users)} AS email_hash, s.status, "
              f"{lit(d.file_name)} AS source_file, s.delivery_id, s.source_row FROM {ctx.staged('users')} s "
              "WHERE s.role = 'STUDENT'")
    stats = upsert_with_audit(ctx, UpsertPlan(
        target=classlink_users, key=("district_id", "sourced_id"), entity_key="hub_student_key", source_sql=source,
        update_columns=("email_hash", "status"), insert_columns=("hub_student_key", "district_id", "sourced_id",
                                                                 "email_hash", "status"), can_insert="TRUE"))
    stats.skipped["not a student"] = not_students(ctx)
    stats.skipped.update(replace_snapshot(ctx, "core.classlink_users", "sourced_id", f"SELECT sourced_id FROM "
                                          f"{ctx.staged('users')} x WHERE x.role = 'STUDENT'"))
    return {"core.classlink_users": stats, **refresh_crosswalk(ctx), "core.student_crosswalk": unlinked(ctx)}


FEED = Feed(
    name="classlink",
    title="ClassLink users",
    description="OneRoster 1.1 users.csv from ClassLink: the hub's students (role student) and their emails.",
    files=(FileType("users", ("users.csv", "*_users.csv"), COLUMNS, unique_key=("sourced_id",),
                    layout=users_layout, description="OneRoster users.csv (1.1 layout, roles of 1.1 and 1.2)."),),
    apply=apply,
    target_tables=("core.classlink_users", "core.student_crosswalk"),
    apply_asset="hub_students",
    apply_description="Upserts ClassLink students (emails hashed) and rebuilds the district's student crosswalk.",
    kinds=frozenset({"csv"}),
)
