"""The `hub` subcommand registry: a function decorated by @subcommand("group action", help, arguments) receives the
parsed arguments and returns the exit code; UsageError is input a person must fix (exit code 2)."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from hub.registry.registry import Registry
    from resources.warehouse import Warehouse

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Subcommand:
    words: tuple[str, ...]  # ("districts", "match") -> `hub districts match`
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Handler


SUBCOMMANDS: list[Subcommand] = []


class UsageError(Exception):
    """Bad arguments or an unreadable file: reported on stderr, exit code 2."""


def subcommand(words: str, help: str, arguments: Callable[[argparse.ArgumentParser], None]
               ) -> Callable[[Handler], Handler]:
    """Register a handler as `hub <words>`."""
    def register(handler: Handler) -> Handler:
        SUBCOMMANDS.append(Subcommand(tuple(words.split()), help, arguments, handler))
        return handler
    return register


def hub_arguments(parser: argparse.ArgumentParser) -> None:
    """--registry and --warehouse, for subcommands that open the hub (open_hub)."""
    parser.add_argument("--registry", type=Path, metavar="FILE",
                        help="registry YAML (default: $HUB_REGISTRY or the demo)")
    parser.add_argument("--warehouse", metavar="URL", help="warehouse URL (default: $HUB_WAREHOUSE_URL)")


def open_hub(args: argparse.Namespace) -> "tuple[Registry, Warehouse]":
    """The registry as the UI loads it and the warehouse, with its tables brought up to date."""
    from dagster_project.definitions import load_hub_registry
    from hub.registry.registry import RegistryError
    from hub.store.schema import ensure_tables
    from resources.warehouse import Warehouse
    try:
        registry = load_hub_registry(args.registry.resolve() if args.registry else None)
    except RegistryError as exc:
        raise UsageError(str(exc)) from exc
    url = args.warehouse or os.environ.get("HUB_WAREHOUSE_URL")
    if not url:
        raise UsageError("no warehouse: pass --warehouse or set HUB_WAREHOUSE_URL")
    wh = Warehouse(url)
    ensure_tables(wh, [])
    return registry, wh


def build_parser() -> argparse.ArgumentParser:
    """One argparse tree from SUBCOMMANDS; groups ('districts') are created on first use."""
    parser = argparse.ArgumentParser(prog="hub", description="K-12 Data Integration Hub tools")
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {(): parser.add_subparsers(metavar="COMMAND")}
    for sub in SUBCOMMANDS:
        for depth in range(1, len(sub.words)):
            prefix = sub.words[:depth]
            if prefix not in groups:
                group = groups[prefix[:-1]].add_parser(prefix[-1], help=f"{prefix[-1]} commands")
                groups[prefix] = group.add_subparsers(metavar="COMMAND")
        leaf = groups[sub.words[:-1]].add_parser(sub.words[-1], help=sub.help, description=sub.help)
        sub.arguments(leaf)
        leaf.set_defaults(handler=sub.handler)
    return parser
