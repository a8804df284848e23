"""`make dev`'s code location of the feeds (workspace.yaml): file assets, their jobs, sensors and schedules."""

import dagster as dg

from dagster_project.definitions import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(parts=("feeds",))
