"""The hub's notification sensor (one per code location): reads the delivery ledger, sends each notice once
(hub/monitor/notify.py) and reports each integration's freshness as its check on the feed's deliveries asset, so a late
integration is a failed check in the UI."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import dagster as dg

from hub.monitor.freshness import Freshness, check_name, deliveries_key, freshness_of
from hub.monitor.notify import collect, deliver
from hub.registry.declarations import Feed
from hub.registry.registry import Registry
from hub.store.schema import ensure_tables
from resources.warehouse import WarehouseResource

SENSOR_NAME = "hub_notifications"


def check_evaluation(registry: Registry, state: Freshness) -> dg.AssetCheckEvaluation:
    """A freshness state as the result of the integration's freshness check."""
    integration = next(i for i in registry.integrations if i.id == state.integration_id)
    return dg.AssetCheckEvaluation(asset_key=dg.AssetKey(deliveries_key(integration.feed)),
                                   check_name=check_name(integration), passed=not state.late,
                                   severity=dg.AssetCheckSeverity.ERROR, metadata=state.metadata())


def build_notification_sensor(registry: Registry, feeds: Mapping[str, Feed]) -> dg.SensorDefinition:
    """Every minute: notices for blocked, held and failed deliveries, late integrations and daily digests."""

    @dg.sensor(name=SENSOR_NAME, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Tells the registry's recipients (e-mail, webhook) about blocked files, held deliveries, "
                           "failed imports, late integrations and the daily digest, once each (ops.notifications); "
                           "reports each integration's freshness check.")
    def _sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        wh, now = warehouse.get(), time.time()
        ensure_tables(wh, [])
        with wh.begin() as conn:
            states = freshness_of(conn, registry, now)
            notices = collect(conn, registry, feeds, states, now)
        counts = deliver(wh, registry, notices)
        previous = json.loads(context.cursor or "{}")
        current = {s.integration_id: f"{s.state}|{s.expected_since}" for s in states}
        events = [check_evaluation(registry, s) for s in states
                  if previous.get(s.integration_id) != current[s.integration_id]]
        late = sum(s.late for s in states)
        summary = "; ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing new to send"
        return dg.SensorResult(asset_events=events, cursor=json.dumps(current, sort_keys=True),
                               skip_reason=f"{summary}; {late} late integration(s) of {len(states)} with a cadence")

    return _sensor

