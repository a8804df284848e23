"""Renaissance Star assessments (SM, SR, SEL), loose or in one zip per client, linked to hub students through
PowerSchool STUDENT_NUMBER and the ClassLink email; rows that cannot be linked go to the review queue."""

from __future__ import annotations

from feeds.identity import link_by_student_number, link_counts
from feeds.renaissance_star.columns import COLUMNS
from feeds.renaissance_star.layouts import star_layout
from feeds.renaissance_star.rules import FEED_NAME, apply
from hub.registry.declarations import Feed, FileType, LinkRequest, Need
from hub.registry.hold_rules import NO_SIZE_RULE


def link(req: LinkRequest) -> dict[str, int]:
    """The match-rate gate's counts for one staged Star file."""
    return link_counts(req.conn, link_by_student_number(req.staged, req.district_id, "student_identifier"))


def _file(name: str, code: str, title: str) -> FileType:
    return FileType(name, (f"{code}.csv", f"{code}_v2.csv"), COLUMNS, unique_key=("assessment_id",),
                    district_name_column="district_name", link=link, layout=star_layout,
                    description=f"Star {title} ({code}.csv or {code}_v2.csv): one row per completed test.")


FEED = Feed(
    name=FEED_NAME,
    title="Renaissance Star assessments",
    description="Star Math, Reading and Early Literacy results from Renaissance Data Sharing (one zip per client).",
    files=(_file("sm", "SM", "Math"), _file("sr", "SR", "Reading"), _file("sel", "SEL", "Early Literacy")),
    apply=apply,
    target_tables=("core.star_assessments", "core.student_crosswalk", "ops.identity_review"),
    containers=("*.zip",),
    load="append",
    apply_asset="assessments",
    apply_description="Upserts linked Star results by AssessmentID; rows that no longer link leave it; unlinked rows "
                      "are the open items of ops.identity_review. Linked again after each ClassLink or PowerSchool "
                      "import.",
    kinds=frozenset({"csv"}),
    needs=(Need("classlink", "Star rows link through ClassLink's students"),
           Need("powerschool", "and PowerSchool's student numbers")),
    default_holds=NO_SIZE_RULE,  # a file holds the tests taken since the last one: its size varies by nature
)
