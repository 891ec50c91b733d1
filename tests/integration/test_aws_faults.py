"""AWS misbehaves mid-run: what passes is retried by the state machine, what does not is not.

Faults are injected under the handlers' boto3 calls (the SDK makes one attempt per call, so the
fault reaches the step as AWS would send it), only while a Sunset function runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls
from sunset.local.sample import SampleService
from tests.conftest import FAST, Inbox, lock_holder, manifest_of, routes_of
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import sample_shape

Fault = Callable[[str], BaseException]


def internal_failure(operation: str) -> BaseException:
    return ClientError(
        {
            "Error": {"Code": "InternalFailure", "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 500, "RequestId": "injected-500"},
        },
        operation,
    )


def access_denied(operation: str) -> BaseException:
    return ClientError(
        {
            "Error": {"Code": "AccessDeniedException", "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "injected-403"},
        },
        operation,
    )


def read_timeout(operation: str) -> BaseException:
    return ReadTimeoutError(endpoint_url=f"https://injected/{operation}")


@contextmanager
def faults(
    sandbox: Sandbox,
    operation: str,
    fault: Fault,
    *,
    times: int,
    after_call: bool = False,
    passing: int = 0,
) -> Iterator[list[str]]:
    """Make `operation` fail `times` times inside a handler, after `passing` calls that work;
    with `after_call`, the call goes through first and only its answer is lost (a change made,
    then a timeout)."""
    injected: list[str] = []
    passed: list[str] = []
    lambdas = sandbox.lambdas
    assert lambdas is not None

    def failing(call: ApiCall, client: Any, name: str, params: Any) -> Any:
        if name != operation or lambdas.current is None or len(injected) >= times:
            return call(client, name, params)
        if len(passed) < passing:
            passed.append(lambdas.current)
            return call(client, name, params)
        injected.append(lambdas.current)
        if after_call:
            call(client, name, params)
        raise fault(name)

    with api_calls(failing):
        yield injected


def test_an_internal_error_on_a_change_is_retried_and_the_run_completes(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When SageMaker fails the first endpoint deletion with a 500
    with faults(sandbox, "DeleteEndpoint", internal_failure, times=1) as injected:
        run = sandbox.run("decommission", service.request(backup=FAST), name="flaky")
    # Then the step was retried and the run completed, the failure on record
    assert injected == ["StopFunction"]
    assert run.status == "SUCCEEDED", run.cause
    assert sandbox.client("sagemaker").list_endpoints()["Endpoints"] == []
    deletions = [
        (a["resource"], a["result"])
        for a in manifest_of(sandbox, "flaky")["actions"]
        if a["action"] == "sagemaker:DeleteEndpoint"
    ]
    assert [result for _, result in deletions].count("failed") == 1
    assert {resource for resource, result in deletions if result == "ok"} == {
        f"sagemaker-endpoint/{name}" for name in service.endpoints
    }
    assert "INCIDENT" not in [n.phase for n in inbox.notices()]


def test_a_change_made_but_unanswered_is_not_made_twice_and_comes_back_on_restore(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    before = service_state(sandbox, sample_shape(service))
    # When the first route deletion happens but its answer is lost
    with faults(sandbox, "DeleteRoute", read_timeout, times=1, after_call=True) as injected:
        run = sandbox.run("decommission", service.request(backup=FAST), name="unanswered")
    # Then the retried step found that route gone, removed the rest, and the run completed
    assert injected == ["CutAccessFunction"]
    assert run.status == "SUCCEEDED", run.cause
    routes = sandbox.client("apigatewayv2").get_routes(ApiId=service.http_api_id)["Items"]
    assert routes == []
    # and the unanswered deletion is on record as made, and named with the others
    [access] = [n for n in inbox.notices() if n.phase == "ACCESS_REMOVED"]
    assert sorted(access.facts["removed"]) == sorted(routes_of(service))
    unanswered = [
        a["detail"]
        for a in manifest_of(sandbox, "unanswered")["actions"]
        if a["action"] == "apigatewayv2:DeleteRoute" and a["result"] == "ok" and a["detail"]
    ]
    assert unanswered == ["made by an unanswered attempt: already deleted"]
    # and a recommission brings every route back, the unanswered one included
    restore = sandbox.run("recommission", {"run_id": "unanswered", **FAST}, name="back")
    assert restore.status == "SUCCEEDED", restore.cause
    assert service_state(sandbox, sample_shape(service)) == before


def test_access_denied_is_not_retried_and_the_run_rolls_back(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    before = service_state(sandbox, sample_shape(service))
    # When every route deletion is denied
    with faults(sandbox, "DeleteRoute", access_denied, times=1_000) as injected:
        run = sandbox.run("decommission", service.request(backup=FAST), name="denied")
    # Then the step failed at once (one attempt: retrying cannot grant a permission), the run
    # was rolled back, and the service is as it was
    assert injected == ["CutAccessFunction"]
    assert run.status == "FAILED"
    assert "Rolled back" in run.states_entered
    assert "AccessDeniedException" in (run.cause or "")
    assert service_state(sandbox, sample_shape(service)) == before
    assert "ROLLED_BACK" in [n.phase for n in inbox.notices()]
    assert lock_holder(sandbox, service.name) is None


def test_a_retried_step_tells_people_once(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When the first snapshot fails with a 500, after Back up has sent STARTED
    with faults(sandbox, "CreateSnapshot", internal_failure, times=1) as injected:
        run = sandbox.run("decommission", service.request(backup=FAST), name="told-once")
    # Then Back up was retried, and STARTED went out once
    assert injected == ["BackupFunction"]
    assert run.status == "SUCCEEDED", run.cause
    assert [n.phase for n in inbox.notices()].count("STARTED") == 1
    skipped = [
        a
        for a in manifest_of(sandbox, "told-once")["actions"]
        if a["action"] == "notify STARTED" and a["result"] == "skipped"
    ]
    assert [a["detail"] for a in skipped] == ["sent by an earlier attempt"]


def test_a_retried_step_names_what_its_failed_attempt_removed(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When the second route deletion fails with a 500, the first one made
    with faults(sandbox, "DeleteRoute", internal_failure, times=1, passing=1) as injected:
        run = sandbox.run("decommission", service.request(backup=FAST), name="told-all")
    # Then the retried step removed the rest, and ACCESS_REMOVED names every route, the one
    # removed by the failed attempt included
    assert injected == ["CutAccessFunction"]
    assert run.status == "SUCCEEDED", run.cause
    [access] = [n for n in inbox.notices() if n.phase == "ACCESS_REMOVED"]
    assert sorted(access.facts["removed"]) == sorted(routes_of(service))


def test_a_placeholder_half_made_by_a_failed_attempt_is_finished_on_retry(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When the REST API's placeholder fails after its method was put (a 500 on PutIntegration)
    with faults(sandbox, "PutIntegration", internal_failure, times=1) as injected:
        run = sandbox.run("decommission", service.request(backup=FAST), name="half-made")
    # Then the retried step took its own half-made ANY / for what it is and finished the job
    assert injected == ["CutAccessFunction"]
    assert run.status == "SUCCEEDED", run.cause
    rest = sandbox.client("apigateway")
    root = next(
        r for r in rest.get_resources(restApiId=service.rest_api_id)["items"] if r["path"] == "/"
    )
    integration = rest.get_integration(
        restApiId=service.rest_api_id, resourceId=root["id"], httpMethod="ANY"
    )
    assert integration["type"] == "MOCK"
    # and ACCESS_REMOVED names the methods the failed attempt removed before it failed
    [access] = [n for n in inbox.notices() if n.phase == "ACCESS_REMOVED"]
    assert sorted(access.facts["removed"]) == sorted(routes_of(service))


def test_an_endpoint_already_deleting_is_not_deleted_again_on_retry(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given endpoints that take a while to delete, as on AWS
    sandbox.endpoints.hold_deletion(polls=3)
    # When the first deletion happens but its answer is lost
    with faults(sandbox, "DeleteEndpoint", read_timeout, times=1, after_call=True) as injected:
        run = sandbox.run(
            "decommission",
            service.request(backup=FAST, validation={"poll_seconds": 1, "deadline_seconds": 60}),
            name="deleting",
        )
    # Then the retried step saw it deleting, let it be and put the deletion on record as made,
    # and the run completed
    assert injected == ["StopFunction"]
    assert run.status == "SUCCEEDED", run.cause
    actions = manifest_of(sandbox, "deleting")["actions"]
    first = f"sagemaker-endpoint/{service.endpoints[0]}"
    assert [
        (a["action"], a["result"], a["detail"])
        for a in actions
        if a["resource"] == first and a["phase"] == "Stop endpoints"
    ] == [
        ("sagemaker:DeleteEndpoint", "failed", "no answer (ReadTimeoutError): may have happened"),
        (
            "sagemaker:DeleteEndpoint",
            "ok",
            "made by an unanswered attempt: already deleting",
        ),
    ]


def _second_rest_stage(sandbox: Sandbox, service: SampleService) -> None:
    sandbox.client("apigateway").create_deployment(
        restApiId=service.rest_api_id, stageName="staging", description="a second stage"
    )


def test_a_stage_redeployed_by_a_failed_attempt_is_not_redeployed_again(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a REST API with two stages; when the second stage's redeployment fails with a 500
    _second_rest_stage(sandbox, service)
    with faults(sandbox, "CreateDeployment", internal_failure, times=1, passing=1) as injected:
        run = sandbox.run("decommission", service.request(backup=FAST), name="redeployed")
    # Then the retried step redeployed only the stage still serving the routes
    assert injected == ["CutAccessFunction"]
    assert run.status == "SUCCEEDED", run.cause
    deployments = [
        (a["resource"], a["result"])
        for a in manifest_of(sandbox, "redeployed")["actions"]
        if a["action"] == "apigateway:CreateDeployment"
    ]
    first, second = (f"rest-api/{service.rest_api_id}/stage/{s}" for s in ("prod", "staging"))
    assert deployments == [(first, "ok"), (second, "failed"), (second, "ok")]
    [access] = [n for n in inbox.notices() if n.phase == "ACCESS_REMOVED"]
    assert sorted(access.facts["removed"]) == sorted(routes_of(service))


def test_a_rest_resource_deleted_unanswered_is_named_with_the_others(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When the first REST resource deletion happens but its answer is lost
    with faults(sandbox, "DeleteResource", read_timeout, times=1, after_call=True) as injected:
        run = sandbox.run("decommission", service.request(backup=FAST), name="rest-unanswered")
    # Then the retried step adopted it, and ACCESS_REMOVED names its method too
    assert injected == ["CutAccessFunction"]
    assert run.status == "SUCCEEDED", run.cause
    [access] = [n for n in inbox.notices() if n.phase == "ACCESS_REMOVED"]
    assert sorted(access.facts["removed"]) == sorted(routes_of(service))
    adopted = [
        a["detail"]
        for a in manifest_of(sandbox, "rest-unanswered")["actions"]
        if a["action"] == "apigateway:DeleteResource" and a["result"] == "ok" and a["detail"]
    ]
    assert adopted == ["made by an unanswered attempt: already deleted"]


def test_an_api_protected_after_part_of_it_was_removed_fails_the_step_loudly(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    http = sandbox.client("apigatewayv2")
    api_arn = f"arn:aws:apigateway:{sandbox.region}::/apis/{service.http_api_id}"

    def protect_then_fail(operation: str) -> BaseException:
        # Someone protects the API while the step is removing its routes
        http.tag_resource(ResourceArn=api_arn, Tags={"sunset:protect": "true"})
        return internal_failure(operation)

    # When the second route deletion fails, the API protected meanwhile
    with faults(sandbox, "DeleteRoute", protect_then_fail, times=1, passing=1) as injected:
        run = sandbox.run("decommission", service.request(backup=FAST), name="protected-late")
    # Then the retried step neither finished the API nor skipped it silently: it failed, and
    # removed nothing more than the route its first attempt had
    assert injected == ["CutAccessFunction"]
    assert run.status == "FAILED"
    assert run.error == "ProtectedMidRun"
    assert "tagged sunset:protect=true after this run had removed" in (run.cause or "")
    routes = http.get_routes(ApiId=service.http_api_id)["Items"]
    assert len(routes) == len(service.http_route_keys) - 1
    # and the rollback, which leaves a protected API alone, says what it did not put back
    assert "Begin rollback" in run.states_entered
    [incident] = [n for n in inbox.notices() if n.phase == "INCIDENT"]
    assert f"HTTP API {service.http_api_id} routes" in incident.facts["cause"]
