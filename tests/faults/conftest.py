"""Collects the fault matrix's cells from every worker and prints the matrix at the end."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

CELLS: list[dict[str, Any]] = []


@pytest.hookimpl
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # With xdist this runs in the controller, with each worker's report and its properties.
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "fault_cells":
                CELLS.extend(json.loads(str(value)))


@pytest.hookimpl
def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CELLS:
        return
    write = terminalreporter.write_line
    sites = {cell["site"] for cell in CELLS}
    faults = sorted({cell["fault"] for cell in CELLS})
    broken = [cell for cell in CELLS if cell["problems"]]
    terminalreporter.section("fault matrix")
    write(
        f"{len(CELLS)} cells: {len(sites)} call sites x {len(faults)} faults; "
        f"{len(CELLS) - len(broken)} held, {len(broken)} broken"
    )
    for fault in faults:
        outcomes = Counter(c["outcome"] for c in CELLS if c["fault"] == fault and not c["problems"])
        summary = ", ".join(f"{count} {outcome}" for outcome, count in outcomes.most_common())
        write(f"  {fault:>15}: {summary or '-'}")
    for cell in sorted(broken, key=lambda c: (c["site"], c["fault"])):
        write(f"  BROKEN {cell['site']} / {cell['fault']}: {'; '.join(cell['problems'])}")
