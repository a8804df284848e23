"""The apply asset's `hold` check as declared, and the run config that approves or discards a held delivery from the
UI. Definitions only: assets/hold_check.py evaluates the check and carries out the decision in the step."""

import dagster as dg

from hub.intake.fetch import ReuseConfig

CHECK = "hold"
DESCRIPTION = ("fails while a delivery of the day is held for a person's approval (the integration's hold rules: "
               "shares deleted, updated or created, identities changed, a file much smaller than usual, the first "
               "file of a new integration); the reason and a preview of the counts are its metadata")


class ApplyConfig(ReuseConfig):
    """Run config of a feed's apply asset. To decide a held delivery of the partition from the UI, materialize the
    partition with `decision` ("approve" or "discard"), its `delivery_id` and your name in `by`."""

    decision: str = ""  # with delivery_id (ReuseConfig); without a decision, delivery_id re-applies on purpose
    by: str = ""


def check_spec(key: dg.AssetKey, pdef: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(CHECK, asset=key, partitions_def=pdef, description=DESCRIPTION)
