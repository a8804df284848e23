"""`make dev`'s code location of the dbt marts and the inventory (workspace.yaml), downstream of the feeds' assets."""

import dagster as dg

from dagster_project.definitions import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(parts=("marts",))
