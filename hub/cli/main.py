"""The `hub` command: onboarding and audit tools beside the Dagster UI, on the same core code.

Add a subcommand in a module of its own with @subcommand (hub/cli/commands.py) and import it here.
"""
from __future__ import annotations

import sys
from typing import Sequence

from hub.cli import districts  # noqa: F401  registers `hub districts match|confirm`
from hub.cli import inventory  # noqa: F401  registers `hub inventory`
from hub.cli import students  # noqa: F401  registers `hub students exit|reactivate|inactive`
from hub.cli import deliveries  # noqa: F401  registers `hub deliveries reapply`
from hub.cli import holds  # noqa: F401  registers `hub holds list|approve|discard`
from hub.cli import archive  # noqa: F401  registers `hub archive purge`
from hub.cli.commands import UsageError, build_parser


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
