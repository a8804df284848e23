"""The Star layouts a district may send under an SM, SR or SEL file name, told apart by their headers.

Accepted: the Data Sharing assessment files, one row per completed test with its AssessmentID and ScaledScore (v2
SM and SEL with 118 columns, SR with 126; the 2021-22 SR v1 with 120). Recognised and rejected with the reason, as
their rows are not scored tests (tests/star_layouts.py and reference/ hold their real headers):
- SkillArea and Dashboard Standards exports: mastery per skill area or standard of a test, no ScaledScore;
- Florida FAST K-2 Star Early Literacy and Reading (the FLDOE progress-monitoring files): scores on the FAST and
  Unified scales (FAST_Equivalent_Score, UnifiedScore), no ScaledScore, student numbers as SID_SID;
- any other header row without ScaledScore (e.g. the legacy Assessment Detail Upload, whose score is 'SS').
The Historical Enterprise UI export and the 2018-19 layout have a scaled score but no AssessmentID: the schema gate
rejects them for the missing required column (feeds/renaissance_star/columns.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.read.headers import normalize_header

ACCEPTED = ("accepted: Star Data Sharing SM, SR or SEL assessment files (v2, or the 2021-22 SR v1) with AssessmentID "
            "and ScaledScore; ask Renaissance for the Data Sharing export")
# (headers that mark the layout, all required; what it is)
OTHER_LAYOUTS = (
    ({"skillareaname", "skillareamasteryscore"}, "a Star SkillArea export (mastery per skill area, no ScaledScore)"),
    ({"standardname", "standardpercentmastery"},
     "a Star Dashboard Standards export (mastery per standard, no ScaledScore)"),
    ({"fastequivalentscore"}, "a Florida FAST K-2 Star export (FAST_Equivalent_Score and UnifiedScore, no ScaledScore "
                              "or AssessmentID)"),
)
SCORE = {"scaledscore"}


def star_layout(headers: Sequence[str]) -> str | None:
    """Why the headers are not a Star assessment file the hub stores, or None."""
    present = {normalize_header(h) for h in headers}
    for marks, what in OTHER_LAYOUTS:
        if marks <= present:
            return f"not a Star assessment file: {what}; {ACCEPTED}"
    if not SCORE & present:
        return f"not a Star assessment file: no ScaledScore column; {ACCEPTED}"
    return None
