"""Back up and Stop endpoints pause before their invocation's time runs out, and the state
machine runs them again until they are done: the way a service of thousands of resources gets
through steps that one 15-minute Lambda could not finish (docs/PERFORMANCE.md).

The sandbox gives each invocation of those functions time for one look at its clock, so every
unit of work (a snapshot, a batch of captures, a deletion) is its own invocation.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sunset.local import Sandbox
from sunset.local.sample import SampleService
from sunset.plan import Plan
from tests.conftest import Inbox, manifest_of


def _short_of_time(sandbox: Sandbox) -> None:
    for function in ("BackupFunction", "StopFunction"):
        sandbox.run_short_of_time(function, checks=1)


def _changes(manifest: dict[str, Any], action: str) -> Counter[str]:
    return Counter(
        a["resource"] for a in manifest["actions"] if a["action"] == action and a["result"] == "ok"
    )


def test_steps_that_run_out_of_time_resume_and_do_everything_once(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given invocations of Back up and Stop endpoints with time for one unit of work each
    _short_of_time(sandbox)
    # When the service is decommissioned, databases included
    request = service.request(stop_databases=True)
    run = sandbox.run("decommission", request, name="resumed", timeout=120)
    # Then the run succeeds, each of the two steps having paused and gone on several times
    assert run.status == "SUCCEEDED", run.cause
    entered = Counter(run.states_entered)
    # 2 volumes, 2 databases, 1 batch of endpoints, 1 HTTP API, 1 REST API: 7 invocations
    assert entered["Back up"] == 7
    assert entered["Back up paused?"] == entered["Back up"]
    # 2 endpoints and 2 databases, each change in an invocation of its own
    assert entered["Stop endpoints"] == 4
    # and nothing was done twice, nor left out
    manifest = manifest_of(sandbox, "resumed")
    snapshot_sources = [s["source_id"] for s in manifest["backups"]["snapshots"]]
    assert sorted(snapshot_sources) == sorted(
        [*service.volumes, service.db_instance, service.db_cluster]
    )
    assert _changes(manifest, "ec2:CreateSnapshot") == Counter(service.volumes)
    assert set(manifest["backups"]["endpoints"]) == set(service.endpoints)
    assert list(manifest["backups"]["http_apis"]) == [service.http_api_id]
    assert list(manifest["backups"]["rest_apis"]) == [service.rest_api_id]
    deleted = _changes(manifest, "sagemaker:DeleteEndpoint")
    assert deleted == Counter(f"sagemaker-endpoint/{e}" for e in service.endpoints)
    stopped = _changes(manifest, "rds:StopDBInstance") + _changes(manifest, "rds:StopDBCluster")
    assert stopped == Counter([service.db_instance, service.db_cluster])
    # and each phase is on record once, however many invocations it took
    names = [p["name"] for p in manifest["phases"]]
    assert names.count("Back up") == 1 and names.count("Stop endpoints") == 1
    assert all(p["status"] == "succeeded" for p in manifest["phases"])
    # and people heard of each phase once; STOPPED names everything stopped, across invocations
    assert Counter(inbox.phases())["STARTED"] == 1
    stopped_notice = [n for n in inbox.notices() if n.phase == "STOPPED"]
    assert len(stopped_notice) == 1
    for name in [*service.endpoints, service.db_instance, service.db_cluster]:
        assert name in stopped_notice[0].body
    # and the endpoints are really gone
    remaining = sandbox.client("sagemaker").list_endpoints()["Endpoints"]
    assert not {e["EndpointName"] for e in remaining} & set(service.endpoints)


def test_a_dry_run_that_pauses_plans_what_one_without_pauses_plans(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given the plan of a dry run with all the time it needs
    request = {**service.request(stop_databases=True), "dry_run": True}
    whole = sandbox.run("decommission", request, name="plan-whole")
    assert whole.status == "SUCCEEDED", whole.cause
    # When the same dry run pauses at every unit of work
    _short_of_time(sandbox)
    paused = sandbox.run("decommission", request, name="plan-paused")
    # Then it ends (a dry run changes nothing, so its progress is what it planned) ...
    assert paused.status == "SUCCEEDED", paused.cause
    assert Counter(paused.states_entered)["Back up"] > 1
    assert Counter(paused.states_entered)["Stop endpoints"] > 1
    # ... with the same plan
    assert (
        Plan.model_validate(paused.output["plan"]).resources
        == Plan.model_validate(whole.output["plan"]).resources
    )
