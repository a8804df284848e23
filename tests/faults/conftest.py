"""The fault suite: each test records `fault | outcome | tables equal clean run`; the table is printed at the end."""

from __future__ import annotations

import pytest

from tests.faults.siras_hub import REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORT:
        return
    width = max(len(r[0]) for r in REPORT)
    out = max(len(r[1]) for r in REPORT)
    terminalreporter.section("fault suite")
    terminalreporter.write_line(f"{'fault':<{width}} | {'outcome':<{out}} | tables equal clean run")
    for fault, outcome, equal in REPORT:
        terminalreporter.write_line(f"{fault:<{width}} | {outcome:<{out}} | {'yes' if equal else 'NO'}")
