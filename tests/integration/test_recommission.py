"""Bringing a service back: the round trip, and what a restore refuses to do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sunset.local import Run, Sandbox
from sunset.local.sample import SampleService
from tests.conftest import FAST, Inbox, artifact, lock_holder, manifest_of
from tests.integration.second_service import seed_second_service
from tests.integration.servicestate import ServiceShape, service_state


def sample_shape(service: SampleService) -> ServiceShape:
    return ServiceShape(
        endpoints=service.endpoints,
        http_apis=[service.http_api_id],
        rest_apis=[service.rest_api_id],
        db_instances=[service.db_instance],
        db_clusters=[service.db_cluster],
    )


def recommission(sandbox: Sandbox, run_id: str, name: str = "restore-1") -> Run:
    return sandbox.run("recommission", {"run_id": run_id, **FAST}, name=name)


def endpoint_names(sandbox: Sandbox) -> list[str]:
    return sorted(
        e["EndpointName"] for e in sandbox.client("sagemaker").list_endpoints()["Endpoints"]
    )


def test_the_sample_service_comes_back_exactly_as_it_was(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given the sample service, decommissioned with its databases stopped
    before = service_state(sandbox, sample_shape(service))
    run = sandbox.run(
        "decommission", service.request(stop_databases=True, backup=FAST), name="retire"
    )
    assert run.status == "SUCCEEDED", run.cause
    assert endpoint_names(sandbox) == []
    # When it is recommissioned from the run's manifest
    restore = recommission(sandbox, "retire")
    # Then its configuration is what it was, and people are told
    assert restore.status == "SUCCEEDED", restore.cause
    assert service_state(sandbox, sample_shape(service)) == before
    assert restore.output is not None and restore.output["status"] == "RESTORED"
    assert inbox.phases()[-1] == "RESTORED"
    restored = inbox.notices()[-1]
    assert "SageMaker endpoint chat-assistant-llm" in restored.body
    assert "route POST /v1/chat" in restored.body
    assert restored.attributes["severity"] == "info"
    # and the lock is free again, the run's record shows the restore and its checks
    assert lock_holder(sandbox, service.name) is None
    record = manifest_of(sandbox, "retire")["restores"][0]
    assert record["mode"] == "recommission" and record["outcome"] == "restored"
    assert record["checks"] and all(check["ok"] for check in record["checks"])
    report = artifact(sandbox, "retire", "report.md")
    assert "## Restores" in report and "restore-1" in report
    # and every change the restore made is in the audit trail with its AWS request id
    audit = [json.loads(line) for line in artifact(sandbox, "retire", "audit.jsonl").splitlines()]
    restoring = [a for a in audit if a["phase"] in {"Restart compute", "Restore API routes"}]
    assert {a["action"] for a in restoring} >= {
        "sagemaker:CreateEndpoint",
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
        "rds:StartDBInstance",
        "rds:StartDBCluster",
        "apigatewayv2:CreateRoute",
        "apigatewayv2:CreateStage",
        "apigatewayv2:CreateApiMapping",
        "apigateway:DeleteMethod (tombstone)",
        "apigateway:PutMethod",
        "apigateway:CreateDeployment",
    }
    assert all(a["result"] == "ok" and a["request_id"] for a in restoring)


def test_a_differently_shaped_service_comes_back_exactly_as_it_was(
    sandbox: Sandbox, inbox: Inbox
) -> None:
    # Given an A/B endpoint, a Lambda authorizer, a root REST method with responses, MySQL
    other = seed_second_service(sandbox.session)
    before = service_state(sandbox, other.shape)
    run = sandbox.run("decommission", other.request(), name="freeze")
    assert run.status == "SUCCEEDED", run.cause
    # When it is recommissioned
    restore = recommission(sandbox, "freeze")
    # Then everything is as before
    assert restore.status == "SUCCEEDED", restore.cause
    assert service_state(sandbox, other.shape) == before
    assert inbox.phases()[-1] == "RESTORED"


def test_a_missing_endpoint_config_and_model_are_recreated_from_the_capture(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given a decommissioned service whose endpoint config and model were deleted since
    before = service_state(sandbox, sample_shape(service))
    assert sandbox.run("decommission", service.request(backup=FAST), name="gone").status == (
        "SUCCEEDED"
    )
    sagemaker = sandbox.client("sagemaker")
    sagemaker.delete_endpoint_config(EndpointConfigName=service.endpoint_configs[0])
    sagemaker.delete_model(ModelName=service.models[0])
    # When it is recommissioned
    restore = recommission(sandbox, "gone")
    # Then config and model are back as captured, and the endpoint runs on them
    assert restore.status == "SUCCEEDED", restore.cause
    shape = sample_shape(service)
    after = service_state(sandbox, shape)
    assert after["endpoints"] == before["endpoints"]
    assert after["http_apis"] == before["http_apis"]
    record = manifest_of(sandbox, "gone")["restores"][0]
    assert any(service.endpoint_configs[0] in line for line in record["restored"])


def test_restoring_twice_changes_nothing_the_second_time(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a service decommissioned and restored once
    assert sandbox.run("decommission", service.request(backup=FAST), name="twice").status == (
        "SUCCEEDED"
    )
    assert recommission(sandbox, "twice", name="first").status == "SUCCEEDED"
    state = service_state(sandbox, sample_shape(service))
    # When it is restored again
    again = recommission(sandbox, "twice", name="second")
    # Then the second restore finds nothing missing and changes nothing
    assert again.status == "SUCCEEDED", again.cause
    assert service_state(sandbox, sample_shape(service)) == state
    record = manifest_of(sandbox, "twice")["restores"][1]
    assert record["restored"] == []


@pytest.mark.parametrize(
    ("execution_input", "error", "says"),
    [
        ({"run_id": "never-ran"}, "ManifestError", "has no manifest"),
        ({"run_id": "retire", "force": True}, "InvalidRequest", "force: unknown field"),
        ({"run_id": "retire", "poll_seconds": 0}, "InvalidRequest", "poll_seconds"),
        ({}, "InvalidRequest", "run_id: field required"),
    ],
)
def test_a_bad_recommission_input_is_refused_with_the_field_named(
    sandbox: Sandbox, service: SampleService, execution_input: Any, error: str, says: str
) -> None:
    # Given a decommissioned service
    assert sandbox.run("decommission", service.request(backup=FAST), name="retire").status == (
        "SUCCEEDED"
    )
    # When a restore is asked for with a bad input
    restore = sandbox.run("recommission", execution_input, name="bad")
    # Then it is refused, naming the problem, and nothing comes back
    assert (restore.status, restore.error) == ("FAILED", error)
    assert restore.cause is not None and says in restore.cause
    assert endpoint_names(sandbox) == []
    assert lock_holder(sandbox, service.name) is None


def test_a_manifest_of_an_unknown_schema_version_is_refused(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given a run whose manifest claims a schema this version does not know
    assert sandbox.run("decommission", service.request(backup=FAST), name="future").status == (
        "SUCCEEDED"
    )
    manifest = manifest_of(sandbox, "future")
    manifest["schema_version"] = 2
    sandbox.client("s3").put_object(
        Bucket=sandbox.outputs["ArtifactsBucketName"],
        Key="runs/future/manifest.json",
        Body=json.dumps(manifest).encode(),
    )
    # When it is restored
    restore = recommission(sandbox, "future")
    # Then the restore refuses to read it and touches nothing
    assert (restore.status, restore.error) == ("FAILED", "ManifestError")
    assert "schema version 2" in (restore.cause or "")
    assert endpoint_names(sandbox) == []


def test_a_restore_is_refused_while_another_run_holds_the_service(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given a decommissioned service that another run has locked since
    assert sandbox.run("decommission", service.request(backup=FAST), name="retire").status == (
        "SUCCEEDED"
    )
    sandbox.client("dynamodb").put_item(
        TableName=sandbox.outputs["RunsTableName"],
        Item={
            "pk": {"S": f"LOCK#{service.name}"},
            "sk": {"S": "LOCK"},
            "run_id": {"S": "someone-else"},
            "expires_at": {"N": "99999999999"},
        },
    )
    # When a restore is started
    restore = recommission(sandbox, "retire")
    # Then it is refused, naming the holder; nothing comes back and the lock stays theirs
    assert (restore.status, restore.error) == ("FAILED", "ServiceLocked")
    assert "someone-else" in (restore.cause or "")
    assert endpoint_names(sandbox) == []
    assert lock_holder(sandbox, service.name) == "someone-else"


def test_a_restore_never_replaces_what_exists_and_says_what_differs(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a decommissioned service where someone re-created a route by hand, elsewhere
    assert sandbox.run("decommission", service.request(backup=FAST), name="retire").status == (
        "SUCCEEDED"
    )
    http = sandbox.client("apigatewayv2")
    elsewhere = http.create_integration(
        ApiId=service.http_api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="POST",
        IntegrationUri="https://chat-v2.example.com/chat",
        PayloadFormatVersion="1.0",
    )["IntegrationId"]
    http.create_route(
        ApiId=service.http_api_id, RouteKey="POST /v1/chat", Target=f"integrations/{elsewhere}"
    )
    # When the old service is restored
    restore = recommission(sandbox, "retire")
    # Then the hand-made route is kept as it is, the rest comes back, and the restore fails
    # loudly on the difference instead of calling the service restored
    assert (restore.status, restore.error) == ("FAILED", "RestoreIncomplete")
    routes = {r["RouteKey"]: r for r in http.get_routes(ApiId=service.http_api_id)["Items"]}
    assert routes["POST /v1/chat"]["Target"] == f"integrations/{elsewhere}"
    assert set(routes) == set(service.http_route_keys)
    assert endpoint_names(sandbox) == sorted(service.endpoints)
    incident = inbox.notices()[-1]
    assert incident.phase == "INCIDENT" and incident.attributes["severity"] == "critical"
    assert "restore FAILED at Verify restore" in incident.subject
    assert "routes" in incident.body and "sunset restore retire" in incident.body
    assert lock_holder(sandbox, service.name) is None


def test_routes_come_back_only_once_every_endpoint_is_in_service(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given a decommissioned service whose endpoints take three polls to come up
    assert sandbox.run("decommission", service.request(backup=FAST), name="slow").status == (
        "SUCCEEDED"
    )
    sandbox.endpoints.hold(polls=3)
    seen: list[str] = []

    def endpoints_when_routes_return(*_args: Any) -> None:
        for endpoint in sandbox.client("sagemaker").list_endpoints()["Endpoints"]:
            seen.append(endpoint["EndpointStatus"])

    sandbox.before("RestoreRoutesFunction", endpoints_when_routes_return)
    # When it is recommissioned
    restore = recommission(sandbox, "slow")
    # Then the restore waited in the state machine, and routes came back after the endpoints
    assert restore.status == "SUCCEEDED", restore.cause
    assert restore.states_entered.count("Wait for compute") >= 2
    assert seen == ["InService", "InService"]


def test_endpoints_that_do_not_come_up_in_time_keep_the_routes_away(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given endpoints that stay Creating far longer than the restore's deadline
    assert sandbox.run("decommission", service.request(backup=FAST), name="stuck").status == (
        "SUCCEEDED"
    )
    sandbox.endpoints.hold(polls=1_000)
    # When
    restore = sandbox.run(
        "recommission", {"run_id": "stuck", "poll_seconds": 1, "deadline_seconds": 2}, name="r"
    )
    # Then the restore fails past the deadline, with no route put back
    assert (restore.status, restore.error) == ("FAILED", "RestoreDeadlineExceeded")
    assert "Restore API routes" not in restore.states_entered
    assert sandbox.client("apigatewayv2").get_routes(ApiId=service.http_api_id)["Items"] == []
    assert "endpoint chat-assistant-llm: Creating" in (restore.cause or "")
    assert inbox.phases()[-1] == "INCIDENT"
    assert lock_holder(sandbox, service.name) is None


def test_an_endpoint_that_fails_to_start_is_named_and_the_rest_still_comes_back(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a decommission that stopped the databases, and an LLM endpoint that will not start
    run = sandbox.run(
        "decommission", service.request(stop_databases=True, backup=FAST), name="broken"
    )
    assert run.status == "SUCCEEDED"
    sandbox.endpoints.fail(service.endpoints[0])
    # When it is recommissioned
    restore = recommission(sandbox, "broken")
    # Then the restore fails naming the endpoint, and no route is opened
    assert (restore.status, restore.error) == ("FAILED", "RestoreFailed")
    assert f"SageMaker endpoint {service.endpoints[0]} is Failed" in (restore.cause or "")
    assert sandbox.client("apigatewayv2").get_routes(ApiId=service.http_api_id)["Items"] == []
    incident = inbox.notices()[-1]
    assert incident.phase == "INCIDENT" and "restore FAILED at Restart compute" in incident.subject
    # while everything after it still came back: the other endpoint with its autoscaling
    targets = sandbox.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )["ScalableTargets"]
    assert [t["ResourceId"] for t in targets] == [
        f"endpoint/{service.endpoints[1]}/variant/AllTraffic"
    ]
    rds = sandbox.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier=service.db_instance)["DBInstances"][0]
    assert db["DBInstanceStatus"] == "available"


@pytest.mark.parametrize(
    ("backend", "operation"),
    [
        ("apigateway", "put_integration"),
        ("apigateway", "create_deployment"),
        ("apigatewayv2", "create_route"),
    ],
)
def test_a_restore_cut_short_is_finished_by_the_next_without_duplicates(
    sandbox: Sandbox,
    service: SampleService,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    operation: str,
) -> None:
    # Given a decommissioned service whose HTTP integration was deleted since
    before = service_state(sandbox, sample_shape(service))
    assert sandbox.run("decommission", service.request(backup=FAST), name="cut").status == (
        "SUCCEEDED"
    )
    http = sandbox.client("apigatewayv2")
    for integration in http.get_integrations(ApiId=service.http_api_id)["Items"]:
        http.delete_integration(
            ApiId=service.http_api_id, IntegrationId=integration["IntegrationId"]
        )
    # and a first restore that AWS cuts short part-way through Restore API routes
    _refuse(monkeypatch, backend, operation)
    first = recommission(sandbox, "cut", name="first")
    assert (first.status, first.error) == ("FAILED", "RestoreFailed")
    monkeypatch.undo()
    # When the restore is run again
    second = recommission(sandbox, "cut", name="second")
    # Then the service is whole, with one integration as before (not a second copy)
    assert second.status == "SUCCEEDED", second.cause
    after = service_state(sandbox, sample_shape(service))
    assert after == before
    assert len(http.get_integrations(ApiId=service.http_api_id)["Items"]) == 1


def _refuse(monkeypatch: pytest.MonkeyPatch, backend: str, operation: str) -> None:
    """moto answers `operation` with an error, as AWS would under a conflict."""
    if backend == "apigateway":
        from moto.apigateway.exceptions import ConflictException
        from moto.apigateway.models import APIGatewayBackend as Backend
    else:
        from moto.apigatewayv2.exceptions import (  # type: ignore[assignment]
            BadRequestException as ConflictException,
        )
        from moto.apigatewayv2.models import ApiGatewayV2Backend as Backend  # type: ignore[assignment]

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ConflictException("Unable to complete operation due to concurrent modification")

    monkeypatch.setattr(Backend, operation, refuse)


def test_a_pinned_stage_whose_deployment_is_gone_is_deployed_anew(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given the deployment the partner stage was pinned to was deleted after the shutdown
    from moto.apigatewayv2.models import apigatewayv2_backends

    assert sandbox.run("decommission", service.request(backup=FAST), name="pin").status == (
        "SUCCEEDED"
    )
    api = apigatewayv2_backends["123456789012"]["us-east-1"].apis[service.http_api_id]
    api.sandbox_deployments.clear()  # type: ignore[attr-defined]
    # When it is recommissioned
    restore = recommission(sandbox, "pin")
    # Then the stage is back and serves a new deployment of the restored routes
    assert restore.status == "SUCCEEDED", restore.cause
    stage = sandbox.client("apigatewayv2").get_stage(ApiId=service.http_api_id, StageName="partner")
    assert stage.get("DeploymentId")
    record = manifest_of(sandbox, "pin")["restores"][0]
    assert any("partner" in line and "deployed anew" in line for line in record["restored"])


def test_a_restore_whose_only_failure_is_its_report_is_recorded_as_restored(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a restore that will crash in its last step, after every check passed
    assert sandbox.run("decommission", service.request(backup=FAST), name="late").status == (
        "SUCCEEDED"
    )

    def crash(*_args: Any) -> None:
        raise RuntimeError("injected: the report could not be written")

    sandbox.before("ReportRestoreFunction", crash)
    # When it runs
    restore = recommission(sandbox, "late", name="restore-late")
    # Then the execution fails on the report, but the records say the service is back
    assert (restore.status, restore.error) == ("FAILED", "RuntimeError")
    assert "the service is back and verified" in (restore.cause or "")
    assert endpoint_names(sandbox) == sorted(service.endpoints)
    assert manifest_of(sandbox, "late")["restores"][0]["outcome"] == "restored"
    item = sandbox.client("dynamodb").get_item(
        TableName=sandbox.outputs["RunsTableName"],
        Key={"pk": {"S": "RUN#restore-late"}, "sk": {"S": "RUN"}},
    )["Item"]
    assert item["status"]["S"] == "RESTORED"
    incident = inbox.notices()[-1]
    assert "the service is back and was verified" in incident.body
    assert lock_holder(sandbox, service.name) is None
