"""The `hub` command: onboarding and audit tools beside the Dagster UI, on the same core code.

Add a subcommand in a module of its own with @subcommand (hub/commands.py) and import it here.
"""
from __future__ import annotations

import sys
from typing import Sequence

from hub import districts_cli  # noqa: F401  registers `hub districts match|confirm`
from hub import inventory_cli  # noqa: F401  registers `hub inventory`
from hub import students_cli  # noqa: F401  registers `hub students exit|reactivate|inactive`
from hub import deliveries_cli  # noqa: F401  registers `hub deliveries reapply`
from hub import holds_cli  # noqa: F401  registers `hub holds list|approve|discard`
from hub.commands import UsageError, build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hub` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_usage(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"hub: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
