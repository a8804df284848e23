"""Warehouse tables: the ops ledger and logs and the core student profile (hub/store/schema.py adds the staging tables
built from feed declarations and creates them all)."""

from __future__ import annotations

import sqlalchemy as sa

from hub.store.keyed import KEYED

SCHEMAS = ("ops", "staging", "core")
metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("delivery_id", sa.String, primary_key=True),  # hash of integration, remote path, size, mtime
    sa.Column("integration_id", sa.String, nullable=False),
    sa.Column("district_id", sa.String, nullable=False),
    sa.Column("feed", sa.String, nullable=False),
    sa.Column("file_type", sa.String, nullable=False),
    sa.Column("remote_path", sa.String, nullable=False),
    sa.Column("file_name", sa.String, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime", sa.DateTime, nullable=False),  # UTC
    sa.Column("sha256", sa.String),
    sa.Column("archive_path", sa.String),
    sa.Column("partition_date", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),  # one of hub.store.statuses.STATUSES
    sa.Column("reason", sa.String),
    sa.Column("discovered_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.String),
    sa.Column("row_count", sa.BigInteger),  # rows read from the file when it was staged
    # the ledger is read by integration (and file type, day) in every run and tick, by feed and status in sweeps:
    # without these, each read scans every delivery of every integration since the hub started
    sa.Index("ix_deliveries_integration", "integration_id", "file_type", "partition_date"),
    sa.Index("ix_deliveries_feed_status", "feed", "status"),
    schema="ops",
)

archive_purges = sa.Table(  # deliveries whose archived file (and reports beside it) retention removed
    "archive_purges", metadata,
    sa.Column("delivery_id", sa.String, primary_key=True),
    sa.Column("integration_id", sa.String, nullable=False),
    sa.Column("partition_date", sa.String, nullable=False),
    sa.Column("retention_days", sa.Integer, nullable=False),  # the integration's, when it was purged
    sa.Column("files", sa.Integer, nullable=False),  # archived objects removed: the file and its import logs, reports
    sa.Column("purged_at", sa.DateTime, nullable=False),
    sa.Column("purged_by", sa.String, nullable=False),
    schema="ops",
)

delivery_statuses = sa.Table(  # hub.store.statuses.STATUSES, rewritten at start: what the dbt tests read
    "delivery_statuses", metadata,
    sa.Column("status", sa.String, primary_key=True),
    sa.Column("meaning", sa.String, nullable=False),
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("health", sa.String),  # passed | blocked | failed | pending, or NULL: not a file to import
    schema="ops",
)

delivery_events = sa.Table(  # a delivery's history: every status set, by which run, moved or not (re-imports)
    "delivery_events", metadata,
    sa.Column("delivery_id", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("reason", sa.String),
    sa.Column("run_id", sa.String),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("moved", sa.Boolean, nullable=False),  # False: the status stayed (e.g. a re-import of an applied file)
    sa.Index("ix_delivery_events_delivery", "delivery_id"),
    schema="ops",
)

def _run_record(name: str, *details: sa.Column, at: str, delivery_required: bool = True) -> sa.Table:
    """An ops table of what a run did about a delivery: the delivery, its integration and district, `details`, the run
    and when (`at`)."""
    return sa.Table(
        name, metadata,
        sa.Column("delivery_id", sa.String, nullable=not delivery_required),
        sa.Column("integration_id", sa.String, nullable=False),
        sa.Column("district_id", sa.String, nullable=False),
        *details,
        sa.Column("run_id", sa.String),
        sa.Column(at, sa.DateTime, nullable=False),
        schema="ops",
    )


reapplications = _run_record(  # archived deliveries an operator re-applied on purpose (hub deliveries reapply)
    "reapplications",
    sa.Column("file_type", sa.String, nullable=False),
    sa.Column("requested_by", sa.String, nullable=False),
    at="applied_at",
)

ingest_errors = _run_record(
    "ingest_errors",
    sa.Column("file_name", sa.String, nullable=False),
    sa.Column("gate", sa.String, nullable=False),
    sa.Column("reason", sa.String, nullable=False),
    at="occurred_at", delivery_required=False,
)

row_errors = sa.Table(
    "row_errors", metadata,
    sa.Column("delivery_id", sa.String, nullable=False),
    sa.Column("file_name", sa.String, nullable=False),
    sa.Column("row_number", sa.BigInteger, nullable=False),  # spreadsheet row (header = 1); 0: the file as a whole
    sa.Column("column_name", sa.String, nullable=False),
    sa.Column("rule", sa.String, nullable=False),
    sa.Column("line_number", sa.BigInteger),  # CSV: the physical line where the record starts
    schema="ops",
)

dropped_columns = sa.Table(  # data minimisation: undeclared columns a delivery carried (names only, never values)
    "dropped_columns", metadata,
    sa.Column("delivery_id", sa.String, nullable=False),
    sa.Column("file_name", sa.String, nullable=False),
    sa.Column("column_name", sa.String, nullable=False),
    sa.Column("reported_at", sa.DateTime, nullable=False),
    schema="ops",
)

notifications = sa.Table(  # every notification the hub sent or tried, once per event and recipient (hub/monitor/notify.py)
    "notifications", metadata,
    sa.Column("event_key", sa.String, primary_key=True),  # e.g. blocked:<delivery id>, digest:<district>:<day>
    sa.Column("channel", sa.String, primary_key=True),  # email | webhook | none (no recipient configured)
    sa.Column("recipient_key", sa.String, primary_key=True),  # hash of the address or webhook variable
    sa.Column("recipient", sa.String, nullable=False),  # who, by role or variable name: never an address
    sa.Column("kind", sa.String, nullable=False),  # blocked | held | failed | stale | digest
    sa.Column("district_id", sa.String, nullable=False),
    sa.Column("integration_id", sa.String),
    sa.Column("delivery_id", sa.String),
    sa.Column("subject", sa.String, nullable=False),
    sa.Column("body", sa.String, nullable=False),  # counts, file names and reasons: never a student value
    sa.Column("status", sa.String, nullable=False),  # sending | sent | failed (retried) | unrouted
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.String),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    schema="ops",
)

CREATED_BY_REFERENCE = "*"  # ops.field_audit.entity_key of a delivery's creates (their keys are on the rows)


def audited_records(alias: str = "") -> str:
    """SQL aggregate over ops.field_audit rows (`alias.`): how many records they are about, a delivery's creates
    by reference counted by the number they carry."""
    a = f"{alias}." if alias else ""
    return (f"(count(DISTINCT NULLIF({a}entity_key, '{CREATED_BY_REFERENCE}')) + COALESCE(SUM(CASE WHEN "
            f"{a}entity_key = '{CREATED_BY_REFERENCE}' THEN CAST({a}new_value AS BIGINT) END), 0))")


field_audit = sa.Table(
    "field_audit", metadata,
    sa.Column("district_id", sa.String, nullable=False),
    sa.Column("entity", sa.String, nullable=False),  # target table
    # hub key (a hash), never a raw id; CREATED_BY_REFERENCE: the delivery's creates in `entity`, as a whole
    sa.Column("entity_key", sa.String, nullable=False, info=KEYED),
    sa.Column("action", sa.String, nullable=False),  # create|update|delete|loose_match
    sa.Column("field", sa.String),  # by-reference creates: the entity's key column; new_value: how many
    sa.Column("old_value", sa.String),
    sa.Column("new_value", sa.String),
    sa.Column("source_file", sa.String),
    sa.Column("delivery_id", sa.String),
    sa.Column("run_id", sa.String),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("source_row", sa.BigInteger),  # the file's row (header = 1) that delivered the value, where known
    # the import log reads a delivery's audit by action (an action it did not take costs nothing);
    # "what did this file change" reads by delivery
    sa.Index("ix_field_audit_delivery_action", "delivery_id", "action"),
    schema="ops",
)

holds = sa.Table(  # deliveries held for a person's approval (hub/apply/holds.py): why, what they would change, the decision
    "holds", metadata,
    sa.Column("delivery_id", sa.String, primary_key=True),
    sa.Column("integration_id", sa.String, nullable=False),
    sa.Column("district_id", sa.String, nullable=False),
    sa.Column("partition_date", sa.String, nullable=False),
    sa.Column("reason", sa.String, nullable=False),  # the rules it broke, with the counts
    sa.Column("preview", sa.String, nullable=False),  # JSON: counts per table and field, the mapping; never a value
    sa.Column("held_at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.String),
    sa.Column("decision", sa.String),  # approved | discarded; NULL while it waits
    sa.Column("decided_by", sa.String),  # the operator's name as given
    sa.Column("decided_at", sa.DateTime),
    schema="ops",
)

delivery_sizes = sa.Table(  # rows staged per delivery: "much smaller than usual" compares with its predecessors
    "delivery_sizes", metadata,
    sa.Column("delivery_id", sa.String, primary_key=True),
    sa.Column("rows", sa.BigInteger, nullable=False),
    schema="ops",
)

def lineage_columns() -> list[sa.Column]:
    """Columns of a target row that say where it came from (hub.apply.upsert.upsert_with_audit writes them): the delivery
    that last created or changed it, and the delivery and source row that created it (creates are audited by
    reference: ops.field_audit holds one 'create' row per delivery and target table, see docs/audit.md)."""
    return [sa.Column("last_delivery_id", sa.String), sa.Column("created_delivery_id", sa.String),
            sa.Column("created_source_row", sa.BigInteger), sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False)]


students = sa.Table(
    "students", metadata,
    # keyed hash of district_id:state id (hub/store/keyed.py): stable, not an id itself
    sa.Column("student_key", sa.String, nullable=False, info=KEYED),
    sa.Column("district_id", sa.String, primary_key=True),
    # SSID (CA), FLEID (FL), ...; "identifying": a change counts toward the hold rule `identity_changed`
    sa.Column("state_student_id", sa.String, primary_key=True, info={"identifying": True}),
    sa.Column("local_student_id", sa.String, info={"identifying": True}),
    sa.Column("first_name", sa.String, info={"identifying": True}),
    sa.Column("last_name", sa.String, info={"identifying": True}),
    sa.Column("middle_name", sa.String),
    sa.Column("name_suffix", sa.String),
    sa.Column("preferred_first_name", sa.String),
    sa.Column("preferred_last_name", sa.String),
    sa.Column("birthdate", sa.Date, info={"identifying": True}),
    sa.Column("school_code", sa.String),
    sa.Column("site_code", sa.String),
    sa.Column("school_entity", sa.String),  # core.schools entity the school code resolved to
    sa.Column("school_type", sa.String),
    sa.Column("district_of_residence", sa.String),
    sa.Column("school_of_residence", sa.String),
    sa.Column("grade", sa.String),
    sa.Column("gender", sa.String),
    sa.Column("ethnicity", sa.String),
    sa.Column("race1", sa.String),
    sa.Column("race2", sa.String),
    sa.Column("race3", sa.String),
    sa.Column("el_type", sa.String),
    sa.Column("rfep_date", sa.Date),
    sa.Column("native_language", sa.String),
    sa.Column("migrant", sa.String),
    sa.Column("residential_status", sa.String),
    sa.Column("designation", sa.String),  # SPED | 504 | SST
    sa.Column("status", sa.String, nullable=False, server_default="active"),  # active|exited|not_eligible|inactive
    *lineage_columns(),
    schema="core",
)

row_hashes = sa.Table(  # a staged snapshot delivery's line digests (hub/load/changes.py): the next night stages what changed
    "row_hashes", metadata,
    sa.Column("delivery_id", sa.String, primary_key=True),
    sa.Column("fingerprint", sa.String, nullable=False),  # registry entry, declaration, code, header and encoding
    sa.Column("rows", sa.BigInteger, nullable=False),
    # sha256 of the keyed digests kept beside the archived file (`<archived file>.lines`); digests only, never values
    sa.Column("digests", sa.LargeBinary, nullable=False),
    schema="ops",
)

unchanged_rows = sa.Table(  # a delivery staged as its changes against the applied delivery before it (hub/load/changes.py)
    "unchanged_rows", metadata,
    sa.Column("delivery_id", sa.String, primary_key=True),
    sa.Column("base_delivery_id", sa.String, nullable=False),  # the applied delivery it was compared with
    sa.Column("rows", sa.BigInteger, nullable=False),  # rows of the file identical to a row of the base: not staged
    schema="ops",
)
