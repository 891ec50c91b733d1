"""API Gateway v1 (REST APIs): resources, methods, stages, deployments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code, without_metadata
from sunset.aws.shapes import create_input

# A REST API with no method at all cannot be deployed ("The REST API doesn't contain any
# methods"), so once the service's methods are gone Sunset deploys a tombstone on the root: a
# MOCK integration that answers 404 with a short explanation.
TOMBSTONE_METHOD = "ANY"
TOMBSTONE_STATUS = "404"


def path_depth(path: str) -> int:
    """How deep a resource path is: 0 for the root, 2 for /v1/predict."""
    return 0 if path == "/" else path.count("/")


def list_apis(rest_apis: Any) -> Iterator[dict[str, Any]]:
    for page in rest_apis.get_paginator("get_rest_apis").paginate():
        yield from page["items"]


def get_api(rest_apis: Any, api_id: str) -> dict[str, Any] | None:
    try:
        return without_metadata(rest_apis.get_rest_api(restApiId=api_id))
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return None
        raise


def resources(rest_apis: Any, api_id: str) -> list[dict[str, Any]]:
    """Every resource of the API with its methods and their integrations embedded."""
    items: list[dict[str, Any]] = []
    for page in rest_apis.get_paginator("get_resources").paginate(
        restApiId=api_id, embed=["methods"]
    ):
        items.extend(page["items"])
    return items


def stages(rest_apis: Any, api_id: str) -> list[dict[str, Any]]:
    return list(rest_apis.get_stages(restApiId=api_id)["item"])


def method_keys(api_resources: list[dict[str, Any]]) -> list[str]:
    """'VERB /path' for every method, sorted: the routes people know the API by."""
    return sorted(
        f"{verb} {resource['path']}"
        for resource in api_resources
        for verb in resource.get("resourceMethods", {})
    )


def delete_resource(rest_apis: Any, api_id: str, resource_id: str) -> dict[str, Any]:
    return dict(rest_apis.delete_resource(restApiId=api_id, resourceId=resource_id))


def delete_method(rest_apis: Any, api_id: str, resource_id: str, verb: str) -> dict[str, Any]:
    return dict(rest_apis.delete_method(restApiId=api_id, resourceId=resource_id, httpMethod=verb))


def put_tombstone(rest_apis: Any, api_id: str, root_id: str, message: str) -> dict[str, Any]:
    """Answer every request on the root with 404 and `message`, through a MOCK integration."""
    rest_apis.put_method(
        restApiId=api_id, resourceId=root_id, httpMethod=TOMBSTONE_METHOD, authorizationType="NONE"
    )
    response = rest_apis.put_integration(
        restApiId=api_id,
        resourceId=root_id,
        httpMethod=TOMBSTONE_METHOD,
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 404}'},
    )
    rest_apis.put_method_response(
        restApiId=api_id,
        resourceId=root_id,
        httpMethod=TOMBSTONE_METHOD,
        statusCode=TOMBSTONE_STATUS,
    )
    rest_apis.put_integration_response(
        restApiId=api_id,
        resourceId=root_id,
        httpMethod=TOMBSTONE_METHOD,
        statusCode=TOMBSTONE_STATUS,
        responseTemplates={"application/json": message},
    )
    return dict(response)


def create_deployment(rest_apis: Any, api_id: str, stage: str, description: str) -> dict:
    """Deploy the API as it is now and point `stage` at the new deployment.

    Two calls rather than CreateDeployment(stageName=...): that form is documented to update
    the stage, but moto replaces the whole stage with a bare one (its variables and settings
    gone), and repointing the stage explicitly means the same thing on both.
    """
    # The whole response, request id included: the audit trail records it.
    deployment = dict(rest_apis.create_deployment(restApiId=api_id, description=description))
    rest_apis.update_stage(
        restApiId=api_id,
        stageName=stage,
        patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment["id"]}],
    )
    return deployment


def create_resource(rest_apis: Any, api_id: str, parent_id: str, path_part: str) -> dict:
    return dict(rest_apis.create_resource(restApiId=api_id, parentId=parent_id, pathPart=path_part))


def is_tombstone(method: dict[str, Any] | None) -> bool:
    """Whether a root method is the MOCK tombstone Sunset puts on an emptied API."""
    integration = (method or {}).get("methodIntegration") or {}
    return integration.get("type") == "MOCK" and TOMBSTONE_STATUS in (
        integration.get("integrationResponses") or {}
    )


def is_half_tombstone(method: dict[str, Any]) -> bool:
    """Whether a root method is what a tombstone that failed half-way leaves: no integration
    yet, or the MOCK one without all of its responses."""
    integration = method.get("methodIntegration") or {}
    return not integration or integration.get("type") == "MOCK"


def method_complete(live: dict[str, Any] | None, captured: dict[str, Any]) -> bool:
    """Whether a live method has everything its capture has: integration and the responses."""
    if live is None:
        return False
    wanted_integration = captured.get("methodIntegration") or {}
    integration = live.get("methodIntegration") or {}
    if wanted_integration and not integration:
        return False
    return set(captured.get("methodResponses") or {}) <= set(
        live.get("methodResponses") or {}
    ) and set(wanted_integration.get("integrationResponses") or {}) <= set(
        integration.get("integrationResponses") or {}
    )


def put_captured_method(
    rest_apis: Any,
    api_id: str,
    resource_id: str,
    verb: str,
    captured: dict[str, Any],
    live: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Put a method back as captured: the method, its responses, its integration and the
    integration's responses (GetResources with embedded methods holds all four). Parts that
    `live` already has are left as they are, so a retry finishes an interrupted put."""
    live = live or {}
    where = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": verb}
    responses: list[dict[str, Any]] = []
    if not live:
        params = create_input(rest_apis, "PutMethod", captured)
        responses.append(rest_apis.put_method(**{**params, **where}))
    for code, method_response in (captured.get("methodResponses") or {}).items():
        if code in (live.get("methodResponses") or {}):
            continue
        params = create_input(rest_apis, "PutMethodResponse", method_response)
        responses.append(rest_apis.put_method_response(**{**params, **where, "statusCode": code}))
    integration = dict(captured.get("methodIntegration") or {})
    live_integration = live.get("methodIntegration") or {}
    if integration and not live_integration:
        # In GetIntegration, httpMethod is the backend's verb; PutIntegration calls it
        # integrationHttpMethod and uses httpMethod for the method being integrated.
        backend_verb = integration.pop("httpMethod", None)
        params = create_input(rest_apis, "PutIntegration", integration)
        if backend_verb:
            params["integrationHttpMethod"] = backend_verb
        responses.append(rest_apis.put_integration(**{**params, **where}))
    for code, answer in (integration.get("integrationResponses") or {}).items():
        if code in (live_integration.get("integrationResponses") or {}):
            continue
        params = create_input(rest_apis, "PutIntegrationResponse", answer)
        responses.append(
            rest_apis.put_integration_response(**{**params, **where, "statusCode": code})
        )
    return dict(responses[0]) if responses else {}


def deployment(rest_apis: Any, api_id: str, deployment_id: str) -> dict[str, Any] | None:
    """A deployment (id, description, createdDate), or None when it does not exist."""
    try:
        return without_metadata(
            rest_apis.get_deployment(restApiId=api_id, deploymentId=deployment_id)
        )
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return None
        raise
