"""Back up, Remove API routes and Stop endpoints pause before their invocation's time runs
out, and the state machine runs them again until they are done: the way a service of thousands
of resources gets through steps that one 15-minute Lambda could not finish
(docs/PERFORMANCE.md).

The sandbox leaves each invocation of those functions no time beyond its first unit of work (a
snapshot, a batch of endpoint captures, an API's routes, a deletion), so every unit is its own
invocation.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from sunset.local import Sandbox
from sunset.local.sample import SampleService
from sunset.plan import Plan
from tests.conftest import Inbox, manifest_of, routes_of


def _short_of_time(sandbox: Sandbox) -> None:
    for function in ("BackupFunction", "CutAccessFunction", "StopFunction"):
        sandbox.run_short_of_time(function, checks=0)


def _changes(manifest: dict[str, Any], action: str) -> Counter[str]:
    return Counter(
        a["resource"] for a in manifest["actions"] if a["action"] == action and a["result"] == "ok"
    )


def test_steps_that_run_out_of_time_resume_and_do_everything_once(
    sandbox: Sandbox, service: SampleService, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given invocations of the steps that resume with time for one unit of work each, and
    # endpoint captures one to a batch (the handlers run in this process)
    _short_of_time(sandbox)
    monkeypatch.setattr("sunset.phases.backup.ENDPOINT_CAPTURE_BATCH", 1)
    # When the service is decommissioned, databases included
    request = service.request(stop_databases=True)
    run = sandbox.run("decommission", request, name="resumed", timeout=120)
    # Then the run succeeds, each of the two steps having paused and gone on several times:
    # 2 volumes, 2 databases, 2 endpoint batches, 1 HTTP API, 1 REST API in Back up ...
    assert run.status == "SUCCEEDED", run.cause
    entered = Counter(run.states_entered)
    assert entered["Back up"] == 8
    # ... the HTTP API and the REST API in Remove API routes ...
    assert entered["Remove API routes"] == 2
    # ... 2 endpoints and 2 databases in Stop endpoints
    assert entered["Stop endpoints"] == 4
    # and nothing was done twice, nor left out
    manifest = manifest_of(sandbox, "resumed")
    snapshot_sources = [s["source_id"] for s in manifest["backups"]["snapshots"]]
    assert sorted(snapshot_sources) == sorted(
        [*service.volumes, service.db_instance, service.db_cluster]
    )
    assert _changes(manifest, "ec2:CreateSnapshot") == Counter(service.volumes)
    captured = Counter(
        a["resource"] for a in manifest["actions"] if a["action"] == "capture configuration"
    )
    assert captured == Counter(
        [
            *(f"sagemaker-endpoint/{e}" for e in service.endpoints),
            f"http-api/{service.http_api_id}",
            f"rest-api/{service.rest_api_id}",
        ]
    )
    assert set(manifest["backups"]["endpoints"]) == set(service.endpoints)
    deleted = _changes(manifest, "sagemaker:DeleteEndpoint")
    assert deleted == Counter(f"sagemaker-endpoint/{e}" for e in service.endpoints)
    stopped = _changes(manifest, "rds:StopDBInstance") + _changes(manifest, "rds:StopDBCluster")
    assert stopped == Counter([service.db_instance, service.db_cluster])
    # and each phase is on record once, however many invocations it took
    names = Counter(p["name"] for p in manifest["phases"])
    assert [names[n] for n in ("Back up", "Remove API routes", "Stop endpoints")] == [1, 1, 1]
    deletions = [a for a in manifest["actions"] if a["phase"] == "Remove API routes"]
    assert not [n for n, times in Counter(a["resource"] for a in deletions).items() if times > 1]
    assert all(p["status"] == "succeeded" for p in manifest["phases"])
    # and people heard of each phase once; ACCESS_REMOVED names every route removed, and
    # STOPPED everything stopped, across invocations
    assert Counter(inbox.phases())["STARTED"] == 1
    [access] = [n for n in inbox.notices() if n.phase == "ACCESS_REMOVED"]
    assert sorted(access.facts["removed"]) == sorted(routes_of(service))
    [stopped_notice] = [n for n in inbox.notices() if n.phase == "STOPPED"]
    assert sorted(stopped_notice.facts["stopped"]) == sorted(
        [
            *(f"SageMaker endpoint {e} (config {e}-config kept)" for e in service.endpoints),
            f"RDS instance {service.db_instance}",
            f"Aurora cluster {service.db_cluster}",
        ]
    )
    assert stopped_notice.facts["left_running"] == []
    # and the endpoints are really gone
    remaining = sandbox.client("sagemaker").list_endpoints()["Endpoints"]
    assert not {e["EndpointName"] for e in remaining} & set(service.endpoints)


def test_an_endpoint_skipped_at_every_invocation_does_not_hold_the_others_up(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given one unit of work per Stop invocation, and the LLM endpoint protected after
    # discovery: each invocation reads its tag and skips it again
    sandbox.run_short_of_time("StopFunction", checks=0)
    llm, embeddings = service.endpoints
    sagemaker = sandbox.client("sagemaker")

    def protect(_function: str, _event: dict[str, Any]) -> None:
        arn = sagemaker.describe_endpoint(EndpointName=llm)["EndpointArn"]
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "sunset:protect", "Value": "true"}])

    sandbox.before("StopFunction", protect)
    # When
    request = service.request(stop_databases=True)
    run = sandbox.run("decommission", request, name="skip-resume", timeout=120)
    # Then the skip spends no unit: one invocation per change (1 endpoint, 2 databases)
    assert run.status == "SUCCEEDED", run.cause
    assert Counter(run.states_entered)["Stop endpoints"] == 3
    assert [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]] == [llm]
    [stopped] = [n for n in inbox.notices() if n.phase == "STOPPED"]
    assert stopped.facts["left_running"] == [
        f"SageMaker endpoint {llm}: tagged sunset:protect=true since discovery"
    ]
    assert (
        f"SageMaker endpoint {embeddings} (config {embeddings}-config kept)"
        in (stopped.facts["stopped"])
    )


def test_a_dry_run_that_pauses_plans_what_one_without_pauses_plans(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given the plan of a dry run with all the time it needs
    request = {**service.request(stop_databases=True), "dry_run": True}
    whole = sandbox.run("decommission", request, name="plan-whole")
    assert whole.status == "SUCCEEDED", whole.cause
    # When the same dry run pauses at every unit of work
    _short_of_time(sandbox)
    paused = sandbox.run("decommission", request, name="plan-paused", timeout=120)
    # Then it ends (a dry run changes nothing, so its progress is what it planned) ...
    assert paused.status == "SUCCEEDED", paused.cause
    entered = Counter(paused.states_entered)
    # 2 volumes, 2 databases, 1 endpoint batch, 2 APIs; 2 APIs; 2 endpoints, 2 databases
    assert [entered[s] for s in ("Back up", "Remove API routes", "Stop endpoints")] == [7, 2, 4]
    # ... with the same plan
    plans = [Plan.model_validate(run.output["plan"]) for run in (whole, paused)]
    assert plans[0].run_id == "plan-whole" and plans[1].run_id == "plan-paused"
    assert plans[1].model_copy(update={"run_id": "plan-whole"}) == plans[0]
