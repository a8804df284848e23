"""A feed's nightly schedule per integration (e.g. "Florida PEER nightly import"), in the district's timezone.

Each tick requests a run of the district's partition for the local day whose file assets fetch from the
transport first (run config `fetch_from_transport: true`) and, for snapshot feeds, import the files last downloaded
when none is new (`reuse_latest: true`), as Focus's nightly job does; the sensor keeps watching beside it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import dagster as dg

from hub.intake.fetch import fetch_config
from hub.registry.declarations import Feed
from hub.registry.registry import Integration, Registry


def schedule_name(integration: Integration) -> str:
    return f"{integration.id}__nightly"


def build_nightly_schedule(registry: Registry, feed: Feed, integration: Integration,
                           job_name: str) -> dg.ScheduleDefinition:
    """The nightly fetch-and-import schedule of one integration."""
    tz = registry.timezone_of(integration)
    district = registry.district(integration.district)

    @dg.schedule(name=schedule_name(integration), job_name=job_name, cron_schedule=feed.nightly_cron,
                 execution_timezone=tz, default_status=dg.DefaultScheduleStatus.RUNNING,
                 description=f"{feed.nightly} for {district.name}: downloads the latest files from the "
                             f"{integration.transport.kind} location, loads them and updates the target tables.")
    def _nightly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        day = context.scheduled_execution_time.astimezone(ZoneInfo(tz)).date().isoformat()
        return dg.RunRequest(
            run_key=f"{integration.id}:{day}",
            partition_key=dg.MultiPartitionKey({"date": day, "district": district.id}),
            run_config=fetch_config(feed, reuse_latest=True),
            tags={"hub/integration": integration.id, "hub/trigger": "schedule", "hub/schedule": feed.nightly or ""},
        )

    return _nightly
