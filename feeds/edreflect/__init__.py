"""EdReflect (BloomBoard) daily change exports: drop keyed rows, then upsert; applied in date order per org."""

from feeds.edreflect.layout import DEPRECATED, FILE_TYPES
from feeds.edreflect.rules import EdreflectOptions, apply
from feeds.edreflect.targets import TARGET_TABLES
from hub.registry.declarations import Feed
from hub.registry.hold_rules import NO_SIZE_RULE

FEED = Feed(
    name="edreflect",
    title="EdReflect daily change exports",
    description=("Daily CSV exports of what changed in an org's EdReflect data (observations, goals, SLOs, users), "
                 "plus the legacy-id join tables in export/all. An org is one integration."),
    files=FILE_TYPES,
    apply=apply,
    target_tables=TARGET_TABLES,
    options_model=EdreflectOptions,
    date_formats=("YYYY-MM-DD", "YYYYMMDD"),
    load="delta",
    apply_asset="changes",
    apply_description=("Applies one org's delivery days to the edreflect schema in date order: drop rows keyed by the "
                       "reference files, then upsert; held while an earlier day is missing."),
    kinds=frozenset({"csv"}),
    deprecated=DEPRECATED,
    default_holds=NO_SIZE_RULE,  # a day's changes vary in size by nature
)
