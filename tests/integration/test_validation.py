"""The Validate shutdown phase: a clean shutdown is proven down, and each way a service can stay
alive (a route left in place, a stage left on its old deployment, an endpoint left running,
traffic after the cut-off, errors in the logs) is caught, with the evidence people need."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sunset.local import Sandbox
from sunset.local.sample import SampleService
from tests.conftest import FAST, Inbox, artifact, manifest_of

# A short quiet period, and no grace for requests in flight: the sandbox has none.
QUIET = {"quiet_period_seconds": 1, "grace_seconds": 0}
# Quick polls: a rollback polls restarted endpoints as often as the run polled its backups.


def _once(action: Callable[[], None]) -> Callable[..., None]:
    """A hook that acts before the first poll of Validate shutdown only."""
    done: list[bool] = []

    def hook(*_args: Any) -> None:
        if not done:
            done.append(True)
            action()

    return hook


def _evidence(sandbox: Sandbox, run_id: str) -> list[dict[str, Any]]:
    return list(manifest_of(sandbox, run_id)["validation"]["evidence"])


def _alive(sandbox: Sandbox, run_id: str) -> list[tuple[str, str]]:
    return [(e["check"], e["subject"]) for e in _evidence(sandbox, run_id) if not e["passed"]]


def test_a_clean_shutdown_passes_every_check_with_its_evidence(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When
    run = sandbox.run("decommission", service.request(validation=QUIET), name="clean")
    # Then
    assert run.status == "SUCCEEDED", run.cause
    validation = manifest_of(sandbox, "clean")["validation"]
    evidence = validation["evidence"]
    assert validation["settled_at"]
    assert {e["check"] for e in evidence} == {"endpoints", "routes", "probes", "logs"}
    # a quiet period of a second proves little through per-minute metrics, and it says so
    assert list(validation["skipped"]) == ["traffic"]
    assert "which proves little" in validation["skipped"]["traffic"]
    assert all(e["passed"] for e in evidence), [e for e in evidence if not e["passed"]]
    answers = {e["subject"]: e["answer"] for e in evidence if e["check"] == "probes"}
    # every route was really asked, on every stage, and answered as a removed route does
    http, rest = service.http_api_id, service.rest_api_id
    for stage in service.http_stages:
        for route in service.http_route_keys:
            assert answers[f"{route} (HTTP API {http}, stage {stage})"].startswith("HTTP 404")
    for route in ("POST /v1/predict", "POST /v1/embed"):
        answer = answers[f"{route} (REST API {rest}, stage prod)"]
        assert answer == (
            'HTTP 403 [MissingAuthenticationTokenException] {"message": "Missing Authentication '
            'Token"}'
        )
    for endpoint in service.endpoints:
        assert "not found" in answers[f"sagemaker-endpoint/{endpoint}"]
    # and people are told, and the report shows every question and answer
    completed = inbox.notices()[-1]
    assert completed.phase == "COMPLETED"
    assert "the service is down" in completed.body
    assert "Not checked: traffic" in completed.body
    assert (
        "Validation: endpoints passed, routes passed, probes passed, traffic not checked, "
        "logs passed" in completed.body
    )
    report = artifact(sandbox, "clean", "report.md")
    assert "**Proven down**" in report
    assert f"https://{http}.execute-api.us-east-1.amazonaws.com/partner/v1/chat" in report


def test_a_route_put_back_during_the_run_is_caught_by_the_routes_check_and_its_probe(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given someone who puts an open route and a stage back on the HTTP API after the cut, and
    # adds a route it never had
    http = sandbox.client("apigatewayv2")

    def put_back() -> None:
        for key in ("GET /health", "GET /debug"):
            assert http.create_route(ApiId=service.http_api_id, RouteKey=key)["RouteKey"] == key
        http.create_stage(ApiId=service.http_api_id, StageName="$default", AutoDeploy=True)

    sandbox.before("ValidateShutdownFunction", _once(put_back))
    # When the run halts on failure
    request = service.request(on_failure="halt", validation=QUIET)
    run = sandbox.run("decommission", request, name="route-left")
    # Then the run fails, proven not down, naming the route
    assert (run.status, run.error) == ("FAILED", "ShutdownNotProven")
    http_api = f"http-api/{service.http_api_id}"
    alive = _alive(sandbox, "route-left")
    assert ("routes", http_api) in alive
    assert ("probes", f"GET /health (HTTP API {service.http_api_id}, stage $default)") in alive
    probe = next(e for e in _evidence(sandbox, "route-left") if e["subject"].startswith("GET /h"))
    assert probe["answer"].startswith("HTTP 200") and "still answers" in probe["answer"]
    # and the INCIDENT carries the evidence
    incident = inbox.notices()[-1]
    assert incident.phase == "INCIDENT"
    assert "show the service still ALIVE" in incident.body
    assert "still there: GET /debug (added since), GET /health" in incident.body
    report = artifact(sandbox, "route-left", "report.md")
    assert "**NOT proven down**" in report and "Still alive:" in report


def test_a_rest_stage_left_on_its_old_deployment_is_caught(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given a REST stage pointed back at the deployment that still has the routes
    rest = sandbox.client("apigateway")
    old = rest.get_stage(restApiId=service.rest_api_id, stageName="prod")["deploymentId"]

    def repin() -> None:
        rest.update_stage(
            restApiId=service.rest_api_id,
            stageName="prod",
            patchOperations=[{"op": "replace", "path": "/deploymentId", "value": old}],
        )

    sandbox.before("ValidateShutdownFunction", _once(repin))
    # When
    request = service.request(validation=QUIET, backup=FAST)
    run = sandbox.run("decommission", request, name="stale-stage")
    # Then the stage and the routes it still serves are named, and the run was rolled back
    assert (run.status, run.error) == ("FAILED", "ShutdownNotProven")
    assert "Rolled back" in run.states_entered
    evidence = _evidence(sandbox, "stale-stage")
    stage = next(e for e in evidence if e["subject"].endswith("/stage/prod"))
    assert not stage["passed"] and "not redeployed after the removal" in stage["answer"]
    probes = [e for e in evidence if e["check"] == "probes" and "REST API" in e["subject"]]
    # the methods are IAM-protected: the signed probe is refused as unauthorised, not unknown
    assert probes and all(not e["passed"] for e in probes)
    assert all("not authorized to perform" in e["answer"] for e in probes)


def test_an_endpoint_left_running_is_caught_and_the_run_rolled_back(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given an endpoint that is running again when the run validates, as it was
    sagemaker = sandbox.client("sagemaker")
    name, config = service.endpoints[0], service.endpoint_configs[0]
    tags = [{"Key": key, "Value": value} for key, value in service.tags.items()]

    def restart() -> None:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config, Tags=tags)

    sandbox.before("ValidateShutdownFunction", _once(restart))
    # When
    request = service.request(validation=QUIET, backup=FAST)
    run = sandbox.run("decommission", request, name="endpoint-left")
    # Then the endpoints check and the InvokeEndpoint probe both say so
    assert (run.status, run.error) == ("FAILED", "ShutdownNotProven")
    evidence = _evidence(sandbox, "endpoint-left")
    subject = f"sagemaker-endpoint/{name}"
    described = next(e for e in evidence if e["check"] == "endpoints" and e["subject"] == subject)
    assert not described["passed"] and described["answer"].startswith("InService")
    invoked = next(e for e in evidence if e["check"] == "probes" and e["subject"] == subject)
    assert not invoked["passed"] and "the endpoint still answers" in invoked["answer"]
    # and the rollback says why it ran
    rolled_back = inbox.notices()[-1]
    assert rolled_back.phase == "ROLLED_BACK"
    assert f"endpoints: {subject}: InService" in rolled_back.body


def test_traffic_after_the_cut_off_is_caught_and_refused_calls_are_not(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given invocations before and after the stop, and callers the API turned away after the cut
    cloudwatch = sandbox.client("cloudwatch")
    endpoint = service.endpoints[0]

    def invocations(value: float, at: datetime) -> None:
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Timestamp": at,
                    "Value": value,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": "AllTraffic"},
                    ],
                }
            ],
        )

    def traffic() -> None:
        now = datetime.now(UTC)
        invocations(7.0, now)
        api = [{"Name": "ApiId", "Value": service.http_api_id}]
        cloudwatch.put_metric_data(
            Namespace="AWS/ApiGateway",
            MetricData=[
                {"MetricName": name, "Timestamp": now, "Value": 12.0, "Dimensions": api}
                for name in ("Count", "4xx")
            ],
        )

    sandbox.before(
        "StopFunction", _once(lambda: invocations(500.0, datetime.now(UTC) - timedelta(seconds=2)))
    )
    sandbox.before("ValidateShutdownFunction", _once(traffic))
    # When
    validation = {"quiet_period_seconds": 2, "grace_seconds": 0}
    request = service.request(on_failure="halt", validation=validation)
    run = sandbox.run("decommission", request, name="traffic")
    # Then only the served invocations count against the shutdown
    assert (run.status, run.error) == ("FAILED", "ShutdownNotProven")
    assert _alive(sandbox, "traffic") == [("traffic", f"{endpoint}/AllTraffic")]
    evidence = {e["subject"]: e for e in _evidence(sandbox, "traffic") if e["check"] == "traffic"}
    assert evidence[f"{endpoint}/AllTraffic"]["answer"].startswith("7 invocation(s) from")
    refused = evidence[f"ApiId={service.http_api_id}"]
    assert refused["passed"] and "12 refused (4xx)" in refused["answer"]
    assert "clients still call, and are refused" in refused["answer"]


def test_error_lines_and_requests_after_the_cut_off_are_caught_and_shown(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given an error burst in the router's log, and a request in the access log after the cut
    logs = sandbox.client("logs")
    router, access = f"/aws/lambda/{service.name}-router", f"/aws/apigateway/{service.name}-access"

    def write_once(group: str, stream: str, *lines: str) -> Callable[..., None]:
        def write() -> None:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            stamp = int(time.time() * 1000)
            events = [{"timestamp": stamp + i, "message": line} for i, line in enumerate(lines)]
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

        return _once(write)

    # served before the cut: a request, not an error, so not against the shutdown
    before = '{"status": "200", "routeKey": "POST /v1/embed"}'
    sandbox.before("CutAccessFunction", write_once(access, "before-cut", before))
    sandbox.before(
        "ValidateShutdownFunction",
        write_once(router, "after-cut", "ERROR upstream chat-assistant-llm not found", "Traceback"),
    )
    sandbox.before(
        "ValidateShutdownFunction",
        write_once(
            access, "after-cut", '{"status": "200", "routeKey": "POST /v1/chat"}', '{"status": 404}'
        ),
    )
    # When (quiet period 0: the traffic check has nothing to measure, and says so)
    request = service.request(on_failure="halt", validation={"grace_seconds": 0})
    run = sandbox.run("decommission", request, name="errors")
    # Then
    assert (run.status, run.error) == ("FAILED", "ShutdownNotProven")
    manifest = manifest_of(sandbox, "errors")
    assert sorted(_alive(sandbox, "errors")) == [("logs", access), ("logs", router)]
    assert "quiet_period_seconds is 0" in manifest["validation"]["skipped"]["traffic"]
    findings = [
        (f["log_group"], f["kind"], f["message"]) for f in manifest["log_check"]["findings"]
    ]
    assert findings == [
        (access, "request", '{"status": "200", "routeKey": "POST /v1/chat"}'),
        (router, "error", "ERROR upstream chat-assistant-llm not found"),
        (router, "error", "Traceback"),
    ]
    report = artifact(sandbox, "errors", "report.md")
    assert "ERROR upstream chat-assistant-llm not found" in report


def test_endpoints_still_deleting_are_waited_for_then_proven_gone(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given endpoints that take three reads to delete, as they take minutes on AWS
    sandbox.endpoints.hold_deletion(polls=3)
    request = service.request(validation={"poll_seconds": 1, "deadline_seconds": 60})
    # When
    run = sandbox.run("decommission", request, name="slow-delete")
    # Then the run waited, and then found them gone
    assert run.status == "SUCCEEDED", run.cause
    assert "Wait to validate" in run.states_entered
    validation = manifest_of(sandbox, "slow-delete")["validation"]
    assert validation["polls"] >= 2 and validation["waiting_for"] == []
    described = [e for e in validation["evidence"] if e["asked"].startswith("ListEndpoints")]
    assert [e["answer"] for e in described] == ["not found", "not found"]


def test_an_endpoint_still_deleting_at_the_deadline_fails_the_check(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given endpoints that never finish deleting within the validation deadline
    sandbox.endpoints.hold_deletion(polls=1_000)
    validation = {"poll_seconds": 1, "deadline_seconds": 2}
    request = service.request(on_failure="halt", validation=validation)
    # When
    run = sandbox.run("decommission", request, name="stuck-delete")
    # Then
    assert (run.status, run.error) == ("FAILED", "ShutdownNotProven")
    alive = _alive(sandbox, "stuck-delete")
    for endpoint in service.endpoints:
        assert ("endpoints", f"sagemaker-endpoint/{endpoint}") in alive
    answers = [e["answer"] for e in _evidence(sandbox, "stuck-delete") if e["check"] == "endpoints"]
    assert any("still deleting at the deadline" in answer for answer in answers)
