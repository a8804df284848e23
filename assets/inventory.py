"""The integration inventory as an asset: CSV and HTML reports refreshed daily, disable candidates in metadata."""

import datetime as dt
from pathlib import Path

import dagster as dg

from feeds import FEEDS
from hub.inventory.build import DEFAULT_STALE_DAYS, build_inventory
from hub.inventory.report import to_csv, to_html
from hub.registry.registry import Registry
from resources.warehouse import WarehouseResource

INVENTORY_KEY = dg.AssetKey(["hub", "integration_inventory"])
HEALTH_KEY = dg.AssetKey(["marts", "delivery_health"])  # rebuilt once after each batch of deliveries settles
_AC = dg.AutomationCondition
# built when missing (`make dev` starts), after each day's deliveries (the delivery health they rebuild), and daily
REFRESH = ((_AC.any_deps_updated() | _AC.cron_tick_passed("0 6 * * *")).since_last_handled()
           | (_AC.missing() & ~_AC.execution_failed())) & ~_AC.any_deps_in_progress() & ~_AC.in_progress()


def build_inventory_asset(registry: Registry, reports_dir: Path, stale_days: int = DEFAULT_STALE_DAYS
                          ) -> dg.AssetsDefinition:
    @dg.asset(
        key=INVENTORY_KEY, group_name="inventory", owners=["team:district-data"], kinds={"html", "csv"},
        deps=[HEALTH_KEY], automation_condition=REFRESH.with_label("when missing, after deliveries, daily"),
        description="Every integration in the registry with who, what, when, where, why and how data moves, the "
                    f"last successful delivery, today's rejected files, and candidates to disable (no file for "
                    f"{stale_days} days). Built when the hub starts, after each batch of deliveries and daily.",
    )
    def _inventory(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        rows = build_inventory(registry, FEEDS, warehouse.get(), stale_days=stale_days)
        reports_dir.mkdir(parents=True, exist_ok=True)
        html, csv = reports_dir / "inventory.html", reports_dir / "inventory.csv"
        html.write_text(to_html(rows, stale_days=stale_days, generated=dt.datetime.now().isoformat(timespec="minutes")),
                        encoding="utf-8")
        csv.write_text(to_csv(rows), encoding="utf-8")
        candidates = [r for r in rows if r.disable_candidate]
        table = ["| integration | district | days since last file |", "|---|---|---:|"]
        table += [f"| {r.integration.id} | {r.district_name} | {r.days_since_last_file if r.days_since_last_file is not None else 'never'} |"
                  for r in candidates]
        context.log.info("inventory: %d integrations, %d candidates to disable", len(rows), len(candidates))
        return dg.MaterializeResult(metadata={
            "integrations": dg.MetadataValue.int(len(rows)),
            "enabled": dg.MetadataValue.int(sum(r.integration.enabled for r in rows)),
            "candidates to disable": dg.MetadataValue.int(len(candidates)),
            "candidates": dg.MetadataValue.md("\n".join(table)),
            "html": dg.MetadataValue.path(str(html)), "csv": dg.MetadataValue.path(str(csv)),
        })

    return _inventory
