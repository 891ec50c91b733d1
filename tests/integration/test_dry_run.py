"""A dry run: the real state machine and the real phases, with every change planned, not made."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sunset.artifacts import parse_manifest
from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls
from sunset.local.sample import SampleService
from sunset.phases import finish
from sunset.plan import Plan, changes_made, planned
from tests.conftest import Inbox, artifact, lock_holder
from tests.integration.servicestate import ServiceShape, service_state


def _world(sandbox: Sandbox, service: SampleService) -> dict[str, Any]:
    """The service as AWS describes it, and every snapshot in the account."""
    shape = ServiceShape(
        endpoints=service.endpoints,
        http_apis=[service.http_api_id],
        rest_apis=[service.rest_api_id],
        db_instances=[service.db_instance],
        db_clusters=[service.db_cluster],
    )
    rds = sandbox.client("rds")
    return {
        "service": service_state(sandbox, shape),
        "ebs snapshots": sandbox.client("ec2").describe_snapshots(OwnerIds=["self"])["Snapshots"],
        "db snapshots": rds.describe_db_snapshots()["DBSnapshots"],
        "cluster snapshots": rds.describe_db_cluster_snapshots()["DBClusterSnapshots"],
    }


# What a dry run may still write: its own records (artifacts, the runs table and its lock), and
# the execution itself (the sandbox starts and follows it, and it invokes Sunset's functions).
OWN_RECORDS = {"s3", "dynamodb", "stepfunctions", "lambda"}
READS = ("Describe", "List", "Get", "Head", "Query", "Scan", "FilterLogEvents", "Search")


@contextmanager
def calls_made() -> Iterator[list[tuple[str, str]]]:
    """Every AWS API call made in the process meanwhile: (service, operation)."""
    made: list[tuple[str, str]] = []

    def recording(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        made.append((client.meta.service_model.service_name, operation))
        return call(client, operation, params)

    with api_calls(recording):
        yield made


def _plan(sandbox: Sandbox, run_id: str) -> Plan:
    return Plan.model_validate_json(artifact(sandbox, run_id, "plan.json"))


def _actions(sandbox: Sandbox, run_id: str) -> Any:
    manifest = parse_manifest(artifact(sandbox, run_id, "manifest.json"), run_id)
    return manifest.actions


def test_a_dry_run_changes_nothing_and_plans_exactly_what_the_real_run_then_does(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    request = service.request(stop_databases=True)
    before = _world(sandbox, service)
    # When the service is dry-run
    with calls_made() as made:
        dry = sandbox.run("decommission", {**request, "dry_run": True}, name="plan-first")
    # Then the run succeeds, went through every step but the proof, and changed nothing
    assert dry.status == "SUCCEEDED", dry.cause
    assert dry.output["dry_run"] is True
    assert dry.output["plan_uri"].endswith("/runs/plan-first/plan.json")
    # and the plan it ends with, in its output, is the one in plan.json
    assert Plan.model_validate(dry.output["plan"]) == _plan(sandbox, "plan-first")
    for state in ("Dry run?", "Back up", "Verify backups", "Remove API routes", "Stop endpoints"):
        assert state in dry.states_entered
    assert "Notice period" not in dry.states_entered
    assert "Validate shutdown" not in dry.states_entered
    assert _world(sandbox, service) == before
    assert inbox.notices() == []
    # not one call that writes went to the service's side of AWS, though it read plenty
    writes = {(api, op) for api, op in made if api not in OWN_RECORDS and not op.startswith(READS)}
    assert writes == set()
    assert {api for api, _ in made} >= {"sagemaker", "apigatewayv2", "apigateway", "ec2", "rds"}
    assert lock_holder(sandbox, service.name) is None
    # and its plan names, per resource, the backup first and then the change
    plan = _plan(sandbox, "plan-first")
    rows = {row.label: row for row in plan.resources}
    for endpoint in service.endpoints:
        row = rows[f"sagemaker-endpoint/{endpoint}"]
        assert row.backup == "configuration captured and verified now"
        assert [c.action for c in row.changes] == [
            "application-autoscaling:DeregisterScalableTarget",
            "sagemaker:DeleteEndpoint",
        ]
    http = rows[f"http-api/{service.http_api_id}"]
    deleted_routes = {c.resource for c in http.changes if c.action == "apigatewayv2:DeleteRoute"}
    assert deleted_routes == {
        f"http-api/{service.http_api_id}/route/{key}" for key in service.http_route_keys
    }
    database = rows[f"rds-instance/{service.db_instance}"]
    assert [c.action for c in database.backup_changes] == ["rds:CreateDBSnapshot"]
    assert database.backup == "snapshot taken and verified first"
    assert [c.action for c in database.changes] == ["rds:StopDBInstance"]
    for volume in service.volumes:
        assert rows[f"ebs-volume/{volume}"].changes == []
        assert [c.action for c in rows[f"ebs-volume/{volume}"].backup_changes] == [
            "ec2:CreateSnapshot"
        ]
    assert f"ebs-volume/{service.protected_volume}: tagged sunset:protect=true" in plan.untouched
    assert plan.notices == [
        "ANNOUNCED",
        "STARTED",
        "BACKED_UP",
        "ACCESS_REMOVED",
        "STOPPED",
        "COMPLETED",
    ]

    # When the real run follows on the same state
    real = sandbox.run("decommission", request, name="for-real")
    # Then it made exactly the calls the dry run planned, in the same order
    assert real.status == "SUCCEEDED", real.cause
    made = changes_made(_actions(sandbox, "for-real"))
    assert len(made) > 20
    assert made == planned(_actions(sandbox, "plan-first"))
    # and the plan people read (plan.json, resource by resource) holds each of them, no more
    made_calls = [(action, resource) for action, resource in made if ":" in action]
    assert sorted(plan.changes()) == sorted(made_calls)
    assert plan.other_changes == []
    assert [n.phase for n in inbox.notices()] == plan.notices


def test_a_dry_run_plans_the_notice_period_and_the_approval_and_waits_for_neither(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    request = service.request(dry_run=True, notice_seconds=3 * 86_400, approval={"required": True})
    # When
    run = sandbox.run("decommission", request, name="plan-waits", timeout=60)
    # Then nobody was asked and nothing was waited for: both are in the plan
    assert run.status == "SUCCEEDED", run.cause
    assert "Ask for approval" not in run.states_entered
    plan = _plan(sandbox, "plan-waits")
    assert [w.split(":")[0] for w in plan.waits] == ["notice period", "approval"]
    assert plan.waits[0].startswith("notice period: 3 d, until ")
    assert plan.notices[:3] == ["ANNOUNCED", "APPROVAL", "STARTED"]
    assert inbox.notices() == []
    # and the report says it was a dry run, with the plan in it
    report = artifact(sandbox, "plan-waits", "report.md")
    assert "Dry run of **chat-assistant**: **nothing was changed**." in report
    assert "## Plan" in report
    assert "sagemaker:DeleteEndpoint" in report


def test_a_dry_run_finds_what_would_stop_the_real_run_and_rolls_nothing_back(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given someone adds a route while the dry run is backing up
    http = sandbox.client("apigatewayv2")

    def route_added(_function: str, _event: dict[str, Any]) -> None:
        http.create_route(ApiId=service.http_api_id, RouteKey="POST /v2/chat")

    sandbox.before("CutAccessFunction", route_added)
    # When
    run = sandbox.run("decommission", service.request(dry_run=True), name="plan-late-route")
    # Then the dry run fails where the real run would, and there is nothing to roll back
    assert run.status == "FAILED"
    assert "POST /v2/chat" in run.cause
    assert "Begin rollback" not in run.states_entered
    assert inbox.notices() == []
    assert lock_holder(sandbox, service.name) is None
    incident = [a for a in _actions(sandbox, "plan-late-route") if a.action == "notify INCIDENT"]
    assert [a.result for a in incident] == ["planned"]
    # and its plan says where it stopped, and what it never got to plan
    plan = _plan(sandbox, "plan-late-route")
    assert plan.failed_step == "Remove API routes"
    rows = {row.label: row for row in plan.resources}
    for endpoint in service.endpoints:
        assert rows[f"sagemaker-endpoint/{endpoint}"].then() == [
            "not planned further: the dry run failed in Remove API routes before Stop "
            "endpoints was done"
        ]
    report = artifact(sandbox, "plan-late-route", "report.md")
    assert "The dry run failed in **Remove API routes**" in report
    assert "Nothing was removed or stopped." in report


def test_a_dry_run_cannot_be_restored_it_changed_nothing(
    sandbox: Sandbox, service: SampleService
) -> None:
    dry = sandbox.run("decommission", service.request(dry_run=True), name="plan-only")
    assert dry.status == "SUCCEEDED", dry.cause
    # When
    restore = sandbox.run("recommission", {"run_id": "plan-only"}, name="restore-plan-only")
    # Then
    assert restore.status == "FAILED"
    assert restore.error == "InvalidRequest"
    assert "plan-only was a dry run" in restore.cause


def test_a_dry_run_with_restore_tests_plans_them_as_part_of_the_backup(
    sandbox: Sandbox, service: SampleService
) -> None:
    request = service.request(dry_run=True, backup={"restore_test": True})
    run = sandbox.run("decommission", request, name="plan-tested")
    assert run.status == "SUCCEEDED", run.cause
    assert "Start restore tests" not in run.states_entered
    rows = {row.label: row for row in _plan(sandbox, "plan-tested").resources}
    assert rows[f"rds-instance/{service.db_instance}"].backup == (
        "snapshot taken and verified first, restore-tested"
    )


def test_a_plan_too_big_for_the_execution_output_is_read_from_plan_json(
    sandbox: Sandbox, service: SampleService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a limit the sample service's plan exceeds
    monkeypatch.setattr(finish, "PLAN_INLINE_LIMIT", 1_000)
    # When
    run = sandbox.run("decommission", service.request(dry_run=True), name="plan-big")
    # Then the output points to plan.json instead of carrying the plan
    assert run.status == "SUCCEEDED", run.cause
    assert run.output["plan"] is None
    assert run.output["plan_uri"].endswith("/runs/plan-big/plan.json")
    assert len(_plan(sandbox, "plan-big").resources) == 8


def test_a_run_id_that_already_names_another_run_is_refused_before_anything_changes(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a dry run on record, and its manifest found again under a new run's id (Step
    # Functions gives an execution name out again after 90 days; the bucket keeps manifests)
    dry = sandbox.run("decommission", service.request(dry_run=True), name="rehearsed")
    assert dry.status == "SUCCEEDED", dry.cause
    s3, bucket = sandbox.client("s3"), sandbox.outputs["ArtifactsBucketName"]
    s3.copy_object(
        Bucket=bucket,
        Key="runs/reused/manifest.json",
        CopySource={"Bucket": bucket, "Key": "runs/rehearsed/manifest.json"},
    )
    before = _world(sandbox, service)
    # When a real run starts under that id
    run = sandbox.run("decommission", service.request(), name="reused")
    # Then it is refused in Prepare, naming the id, and nothing changed: the dry run's manifest
    # would otherwise have made the real run's Journal plan instead of act, or the other way
    assert run.status == "FAILED"
    assert run.error == "InvalidRequest"
    assert "run id reused already names a run started at" in run.cause
    assert _world(sandbox, service) == before
    assert inbox.notices() == []
    assert lock_holder(sandbox, service.name) is None
