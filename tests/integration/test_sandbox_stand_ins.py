"""The sandbox's stand-ins for what moto does not serve: invoke URLs and InvokeEndpoint.

Validation trusts what these answer, so they must answer from moto's state as AWS would: a
route left in place, or a stage left on an old deployment, has to still answer.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sunset.aws import rest_api
from sunset.local import Sandbox
from sunset.local.sample import SampleService

# What a signed probe carries; the stand-in only looks at the scheme, as it cannot check it.
SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=sandbox/20260101/us-east-1/execute-api"}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def call(
    sandbox: Sandbox,
    api_id: str,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> Reply:
    """A real request over the socket, as a probe sends it: local base URL, real invoke host."""
    assert sandbox.invoke_urls.base_url is not None
    request = urllib.request.Request(
        sandbox.invoke_urls.base_url + path,
        method=method,
        headers={"Host": f"{api_id}.execute-api.{sandbox.region}.amazonaws.com", **(headers or {})},
    )
    try:
        with _OPENER.open(request, timeout=5) as response:
            return Reply(response.status, json.loads(response.read()), dict(response.headers))
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, json.loads(exc.read()), dict(exc.headers))


def route_id(sandbox: Sandbox, api_id: str, route_key: str) -> str:
    routes = sandbox.client("apigatewayv2").get_routes(ApiId=api_id)["Items"]
    return str(next(r["RouteId"] for r in routes if r["RouteKey"] == route_key))


def resource_id(sandbox: Sandbox, api_id: str, path: str) -> str:
    items = sandbox.client("apigateway").get_resources(restApiId=api_id)["items"]
    return str(next(r["id"] for r in items if r["path"] == path))


def not_authorized(service: SampleService, stage: str, verb: str, path: str) -> str:
    return (
        "User: arn:aws:sts::123456789012:assumed-role/sandbox/probe is not authorized to "
        "perform: execute-api:Invoke on resource: "
        f"arn:aws:execute-api:us-east-1:123456789012:{service.rest_api_id}/{stage}/{verb}{path}"
    )


def test_an_http_api_answers_as_its_routes_are_secured(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given the sample service's HTTP API
    api = service.http_api_id
    # When its routes are called on the $default stage and on the pinned "partner" stage
    health = call(sandbox, api, "/health")
    partner_health = call(sandbox, api, "/partner/health")
    chat = call(sandbox, api, "/v1/chat", "POST", SIGNED)
    missing = call(sandbox, api, "/v1/translate", "POST")
    wrong_verb = call(sandbox, api, "/v1/chat", "GET")
    stranger = call(sandbox, "nosuchapi", "/health")
    # Then the open route answers with the model, the JWT one refuses a request without a token
    # (a signature is not one), and what has no route is not found
    assert (health.status, health.body["route"]) == (200, "GET /health")
    assert (partner_health.status, partner_health.body["route"]) == (200, "GET /health")
    assert (chat.status, chat.body) == (401, {"message": "Unauthorized"})
    assert (missing.status, missing.body) == (404, {"message": "Not Found"})
    assert (wrong_verb.status, wrong_verb.body) == (404, {"message": "Not Found"})
    assert (stranger.status, stranger.body) == (403, {"message": "Forbidden"})
    # and every answer looks like API Gateway's
    for reply in (health, chat, missing, stranger):
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.headers["x-amzn-RequestId"]


def test_a_deleted_route_stays_on_a_pinned_stage_until_it_is_redeployed(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given the health route deleted from the HTTP API
    http = sandbox.client("apigatewayv2")
    api = service.http_api_id
    http.delete_route(ApiId=api, RouteId=route_id(sandbox, api, "GET /health"))
    # Then it is gone from the auto-deployed stage at once, but the pinned stage still serves it
    assert call(sandbox, api, "/health").status == 404
    assert call(sandbox, api, "/partner/health").status == 200
    # When the pinned stage is redeployed (the chat routes are left, so it may be)
    http.create_deployment(ApiId=api, StageName="partner", Description="without health")
    # Then it is gone there too, while the routes that are left still answer
    assert call(sandbox, api, "/partner/health").status == 404
    assert call(sandbox, api, "/partner/v1/chat", "POST").status == 401
    # and GetDeployment keeps AWS's shape (the routes recorded for the stand-in are not in it)
    deployment_id = http.get_stage(ApiId=api, StageName="partner")["DeploymentId"]
    shown = http.get_deployment(ApiId=api, DeploymentId=deployment_id)
    assert "routes" not in {name.lower() for name in shown}


def test_a_deleted_stage_is_not_found(sandbox: Sandbox, service: SampleService) -> None:
    # Given the HTTP API without its partner stage, then without its $default stage
    http = sandbox.client("apigatewayv2")
    api = service.http_api_id
    http.delete_stage(ApiId=api, StageName="partner")
    # Then the partner path falls to $default, which has no such route
    assert call(sandbox, api, "/partner/health").status == 404
    assert call(sandbox, api, "/health").status == 200
    # When the $default stage goes too
    http.delete_stage(ApiId=api, StageName="$default")
    # Then nothing answers
    assert call(sandbox, api, "/health").body == {"message": "Not Found"}


def test_a_rest_api_serves_its_deployment_not_its_resources(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given the REST API's predict method deleted, but the API not redeployed
    rest = sandbox.client("apigateway")
    api = service.rest_api_id
    rest.delete_method(
        restApiId=api, resourceId=resource_id(sandbox, api, "/v1/predict"), httpMethod="POST"
    )
    # When it is probed, signed and unsigned
    signed = call(sandbox, api, "/prod/v1/predict", "POST", SIGNED)
    unsigned = call(sandbox, api, "/prod/v1/predict", "POST")
    # Then the prod stage still serves it: only a signed probe can tell it from a missing one
    assert (signed.status, signed.body["message"]) == (
        403,
        not_authorized(service, "prod", "POST", "/v1/predict"),
    )
    assert (unsigned.status, unsigned.body) == (403, {"message": "Missing Authentication Token"})
    # and a stage that does not exist is forbidden
    assert call(sandbox, api, "/dev/v1/predict", "POST", SIGNED).body == {"message": "Forbidden"}
    # When the API is deployed again to prod
    rest_api.create_deployment(rest, api, "prod", "without predict")
    # Then predict is gone, while embed still answers
    gone = call(sandbox, api, "/prod/v1/predict", "POST", SIGNED)
    assert (gone.status, gone.body) == (403, {"message": "Missing Authentication Token"})
    embed = call(sandbox, api, "/prod/v1/embed", "POST", SIGNED)
    assert embed.body["message"] == not_authorized(service, "prod", "POST", "/v1/embed")


def test_a_rest_tombstone_answers_its_own_404(sandbox: Sandbox, service: SampleService) -> None:
    # Given the REST API emptied, a tombstone on its root, and the API redeployed
    rest = sandbox.client("apigateway")
    api = service.rest_api_id
    for path in ("/v1/predict", "/v1/embed"):
        rest_api.delete_method(rest, api, resource_id(sandbox, api, path), "POST")
    message = json.dumps({"message": "chat-assistant was decommissioned by Sunset"})
    rest_api.put_tombstone(rest, api, resource_id(sandbox, api, "/"), message)
    rest_api.create_deployment(rest, api, "prod", "tombstone")
    # When the root and a former route are called
    root = call(sandbox, api, "/prod/", "POST")
    former = call(sandbox, api, "/prod/v1/predict", "POST", SIGNED)
    # Then the root answers the tombstone's status and message, the former route is missing
    assert (root.status, root.body) == (404, json.loads(message))
    assert (former.status, former.body) == (403, {"message": "Missing Authentication Token"})


def test_invoke_endpoint_answers_only_for_endpoints_in_service(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given one endpoint deleted, and one new endpoint still being created
    sagemaker = sandbox.client("sagemaker")
    runtime = sandbox.client("sagemaker-runtime")
    alive, deleted = service.endpoints
    sagemaker.delete_endpoint(EndpointName=deleted)
    sandbox.endpoints.hold(polls=5)
    sagemaker.create_endpoint(
        EndpointName="warming-up", EndpointConfigName=service.endpoint_configs[0]
    )
    # When each is invoked
    answer = runtime.invoke_endpoint(EndpointName=alive, Body=b"{}", ContentType="application/json")
    with pytest.raises(ClientError) as missing:
        runtime.invoke_endpoint(EndpointName=deleted, Body=b"{}")
    with pytest.raises(ClientError) as creating:
        runtime.invoke_endpoint(EndpointName="warming-up", Body=b"{}")
    # Then only the endpoint in service answers; the others are refused as AWS refuses them
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert missing.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": f"Endpoint {deleted} of account 123456789012 not found.",
    }
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert creating.value.response["Error"]["Code"] == "ValidationError"
    assert "warming-up" in creating.value.response["Error"]["Message"]
    assert "not in service" in creating.value.response["Error"]["Message"]


def test_leaving_the_sandbox_stops_the_stand_ins() -> None:
    # Given a sandbox that served invoke URLs
    from moto.apigateway.models import APIGatewayBackend
    from moto.sagemakerruntime.models import SageMakerRuntimeBackend
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    create_deployment = APIGatewayBackend.create_deployment
    invoke_endpoint = SageMakerRuntimeBackend.invoke_endpoint
    before = os.environ.get("SUNSET_EXECUTE_API_ENDPOINT")
    with Sandbox() as sb:
        base_url = sb.invoke_urls.base_url
        assert base_url is not None
        assert os.environ["SUNSET_EXECUTE_API_ENDPOINT"] == base_url
        assert call(sb, "nosuchapi", "/").status == 403
    # When it is left
    # Then nothing listens there any more, and moto and the environment are as they were
    with pytest.raises(urllib.error.URLError) as refused:
        _OPENER.open(base_url + "/", timeout=5)
    assert isinstance(refused.value.reason, ConnectionRefusedError)
    assert APIGatewayBackend.create_deployment is create_deployment
    assert SageMakerRuntimeBackend.invoke_endpoint is invoke_endpoint
    assert "_get_params" not in SageMakerRuntimeResponse.__dict__
    assert os.environ.get("SUNSET_EXECUTE_API_ENDPOINT") == before
