"""Reading the registry: YAML to validated entries, each checked against the districts and the feeds it names
(feed defaults, options, headers, file patterns), with every problem named by entry and field."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from hub.registry.declarations import Feed
from hub.registry.notification_settings import NotificationSettings
from hub.registry.registry import District, Integration, Registry, RegistryError
from hub.registry.windows import Blackout


def _fmt(kind: str, entry_id: str, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        field = ".".join(p for n, p in enumerate(loc) if not (n and loc[n - 1] == "transport" and p in ("sftp", "folder")))
        parts.append(f"{kind} {entry_id!r} field {field!r}: {e['msg']}")
    return "; ".join(parts)


def _parse_entries(model: type[BaseModel], kind: str, raw: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise RegistryError(f"registry: '{kind}s' must be a list")
    out, problems = [], []
    for n, entry in enumerate(raw, start=1):
        entry_id = entry.get("id", f"#{n}") if isinstance(entry, dict) else f"#{n}"
        try:
            out.append(model.model_validate(entry))
        except ValidationError as err:
            problems.append(_fmt(kind, str(entry_id), err))
    if problems:
        raise RegistryError("; ".join(problems))
    return out


def parse_registry(data: dict[str, Any], feeds: Mapping[str, Feed] | None = None) -> Registry:
    """Validate registry data; with `feeds` (name -> declaration) unknown feeds, options the feed's model refuses
    and headers for columns the feed does not have are errors too."""
    if not isinstance(data, dict):
        raise RegistryError("registry: top level must be a mapping with 'districts' and 'integrations'")
    districts = _parse_entries(District, "district", data.get("districts", []))
    integrations = _parse_entries(Integration, "integration", data.get("integrations", []))
    blackouts = _parse_entries(Blackout, "blackout", data.get("blackouts", []))
    try:
        notifications = NotificationSettings.model_validate(data.get("notifications") or {})
    except ValidationError as err:
        raise RegistryError(_fmt("setting", "notifications", err)) from None  # the error's text repeats the input
    problems = _cross_check(districts, integrations, feeds)
    if feeds is not None:
        integrations = [with_feed_defaults(i, feeds[i.feed]) if i.feed in feeds else i for i in integrations]
        problems += limited_on_delta(districts, integrations, blackouts, feeds)
    if problems:
        raise RegistryError("; ".join(problems))
    return Registry(districts=tuple(districts), integrations=tuple(integrations), blackouts=tuple(blackouts),
                    notifications=notifications)


def _cross_check(districts: list[District], integrations: list[Integration],
                 feeds: Mapping[str, Feed] | None) -> list[str]:
    problems: list[str] = []
    counts = Counter(d.id for d in districts)
    problems += [f"district {d!r} field 'id': duplicate id" for d, n in counts.items() if n > 1]
    ids = set(counts)
    seen: set[str] = set()
    used: set[tuple[str, str]] = set()
    for i in integrations:
        if i.id in seen:
            problems.append(f"integration {i.id!r} field 'id': duplicate id")
        seen.add(i.id)
        if i.district not in ids:
            problems.append(f"integration {i.id!r} field 'district': unknown district {i.district!r}")
        if i.enabled and (i.feed, i.district) in used:
            problems.append(f"integration {i.id!r} field 'district': a second enabled {i.feed} integration for {i.district!r}")
        used.add((i.feed, i.district) if i.enabled else ("", ""))
        if feeds is not None:
            problems += _check_feed_fields(i, feeds)
    return problems


def _check_feed_fields(i: Integration, feeds: Mapping[str, Feed]) -> list[str]:
    """The integration's feed exists, its options fit the feed's model, its headers name the feed's columns."""
    if i.feed not in feeds:
        return [f"integration {i.id!r} field 'feed': unknown feed {i.feed!r} (known: {', '.join(sorted(feeds))})"]
    feed, problems = feeds[i.feed], []
    try:
        feed.options_model.model_validate(i.options)
    except ValidationError as err:
        problems.append(_fmt("integration", i.id, err).replace("field '", "field 'options."))
    columns = {c.name for ft in feed.files for c in ft.columns}
    problems += [f"integration {i.id!r} field 'headers.{c}': {feed.name} has no column {c!r}"
                 for c in sorted(set(i.headers) - columns)]
    types = {ft.name for ft in feed.files}
    problems += [f"integration {i.id!r} field 'file_patterns.{t}': {feed.name} has no file type {t!r} (known: "
                 f"{', '.join(sorted(types))})" for t in sorted(set(i.file_patterns) - types)]
    if i.stage_changes_only and feed.unchanged_state is None:
        problems.append(f"integration {i.id!r} field 'stage_changes_only': {feed.name} does not support it")
    return problems


def load_registry(path: Path, feeds: Mapping[str, Feed] | None = None) -> Registry:
    """Read and validate the registry YAML at `path`."""
    try:  # libyaml's C loader where PyYAML has it (6x faster on a 4,000-integration registry), same data
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"registry {path}: cannot read: {exc}") from exc
    try:
        return parse_registry(data, feeds)
    except RegistryError as exc:
        raise RegistryError(f"registry {path}: {exc}") from exc


def with_feed_defaults(i: Integration, feed: Feed) -> Integration:
    """The integration with its feed's window, pause, cadence and hold rules wherever the registry does not set them
    (an explicit null keeps none; `holds` fields are taken one by one)."""
    given = i.model_fields_set
    defaults = {"window": feed.default_window, "pause": feed.default_pause, "cadence": feed.default_cadence}
    own = {k: getattr(i.holds, k) for k in i.holds.model_fields_set}
    return i.model_copy(update={**{k: v for k, v in defaults.items() if k not in given},
                                "holds": feed.default_holds.model_copy(update=own)})


def limited_on_delta(districts: list[District], integrations: list[Integration], blackouts: list[Blackout],
                     feeds: Mapping[str, Feed]) -> list[str]:
    """Limited imports skip a day's updates and deletes; a delta feed's day would lose them for good, so a limited
    blackout must not reach one (narrow it with `feeds:`)."""
    by_id = {d.id: d for d in districts}
    problems = []
    for i in integrations:
        if i.feed not in feeds or feeds[i.feed].load != "delta":
            continue
        own = [*blackouts, *(by_id[i.district].blackouts if i.district in by_id else ()), *i.blackouts,
               *((i.pause,) if i.pause else ())]
        if any(b.mode == "limited" and b.concerns(i.feed, i.district) for b in own):
            problems.append(f"integration {i.id!r} field 'blackouts': a limited-import blackout reaches the delta feed "
                            f"{i.feed} (its days would lose their updates); narrow it with 'feeds:'")
    return problems
