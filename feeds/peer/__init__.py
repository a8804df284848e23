"""Florida PEER extracts (FLDOE, PEER/OUT) into students' ESE fields, following Focus's import rules."""

from feeds.peer.rules import LAYOUT, PeerOptions, apply
from hub.registry.declarations import Feed, Need

FEED = Feed(
    name="peer",
    title="Florida PEER import",
    description="FLDOE PEER extracts (ESE student record, accommodations, 504 plans) into the students' Focus "
                "custom fields and log fields, as declared in feeds/peer/layout.yaml.",
    files=LAYOUT.file_types(),
    apply=apply,
    target_tables=("core.student_fields", "core.student_field_logs"),
    options_model=PeerOptions,
    date_formats=("MMDDYYYY", "YYYY-MM-DD"),
    load="snapshot",
    apply_asset="student_fields",
    apply_description="Imports the day's PEER files into the students' ESE fields (Focus import rules), audited.",
    kinds=frozenset({"csv"}),
    nightly="Florida PEER nightly import",
    needs=(Need("focus_roster", "PEER fields go to the students the roster of the same night lists"),),
)
