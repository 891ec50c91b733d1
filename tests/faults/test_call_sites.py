"""The fault matrix covers every AWS call the handlers make (in the main suite: it is cheap)."""

from __future__ import annotations

from sunset.local import Sandbox
from sunset.local.sample import seed_sample_service
from tests.faults.matrix import CALL_SITES, read_call_sites, recorded_call_sites, request


def test_the_matrix_lists_every_call_site_of_a_decommission() -> None:
    # Given the call sites the fault matrix injects faults at
    listed = set(read_call_sites())
    # When a decommission of the sample service, databases included, runs without a fault
    with Sandbox() as sandbox:
        service = seed_sample_service(sandbox.session)
        with recorded_call_sites(sandbox) as made:
            run = sandbox.run("decommission", request(service), name="inventory")
        assert run.status == "SUCCEEDED", run.cause
    # Then it made exactly those calls: a new one must join the matrix (add its line to
    # call_sites.txt), and one no longer made must leave it
    new = sorted(str(site) for site in made - listed)
    gone = sorted(str(site) for site in listed - made)
    assert (new, gone) == ([], []), f"update {CALL_SITES.name}"
