"""When a delivery is held for a person to approve (registry `holds:`, defaults per feed): Clever's practice of
holding a sync that would delete more than 10% or update more than 75% of a table, identities that would change,
a file much smaller than usual, and the first file of a new integration."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Share = Annotated[float, Field(ge=0, le=1)]


class HoldRules(BaseModel):
    """Thresholds of one integration; a share rule set to null is off. Shares are of the district's rows in a
    target table before the delivery, judged only when that table has at least `min_rows` of them (in a small
    table one change is a large share)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_file: bool = True  # hold the first delivery of a new integration (its mapping is reviewed first)
    deleted: Share | None = 0.10  # hold when more than this share of a target table's rows would be deleted
    updated: Share | None = 0.75  # ... would be updated
    created: Share | None = None  # ... would be created (off unless set)
    identity_changed: Share | None = 0.10  # ... of students whose identifying fields would change
    smaller_than_median: Share | None = 0.5  # hold a file with fewer rows than this share of the usual (median)
    size_history: Annotated[int, Field(ge=3, le=100)] = 10  # the usual: the median of this many last deliveries
    min_rows: Annotated[int, Field(ge=0)] = 50  # shares and sizes are judged from this many rows up


NO_SIZE_RULE = HoldRules(smaller_than_median=None)  # feeds whose deliveries vary in size by nature (deltas, scores)
