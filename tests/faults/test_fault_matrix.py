"""The fault matrix (matrix.py says what a cell is and when it holds). `make faults` runs it:
four cells per call site, in one sandbox per site, each on a service of its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sunset.local import Sandbox
from tests.conftest import Inbox
from tests.faults.matrix import FAULTS, CallSite, read_call_sites, run_cell, steps_by_function

pytestmark = pytest.mark.faults

SITES = read_call_sites()
STEPS = steps_by_function()


@pytest.mark.parametrize("site", SITES, ids=str)
def test_every_fault_at_this_call_site_ends_defined_and_loses_nothing(
    site: CallSite, record_property: Callable[[str, Any], None]
) -> None:
    # Given one sandbox for the site's cells, the retry pauses shortened (attempts unchanged)
    with Sandbox(retry_pause_scale=0.01) as sandbox:
        inbox = Inbox(sandbox)
        # When each fault hits the site, on a fresh service each time
        cells = [
            run_cell(sandbox, inbox, site, fault, f"cell-{index}", STEPS.get(site.function, set()))
            for index, fault in enumerate(FAULTS)
        ]
    record_property("fault_cells", json.dumps([cell.as_json() for cell in cells]))
    # Then every cell ended in a defined state, with nothing lost
    assert [(c.fault, c.problems) for c in cells if c.problems] == []
