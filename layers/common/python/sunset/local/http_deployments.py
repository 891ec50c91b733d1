"""HTTP API deployments, which moto (5.2) does not implement.

A stage without auto-deploy serves the deployment it is pinned to, and a restore must pin a
re-created stage again, so Sunset calls CreateDeployment and GetDeployment on HTTP APIs. moto has
no route for them and no DeploymentId on stages. While the sandbox runs, this module adds both:

- POST /v2/apis/{api}/deployments (CreateDeployment): refused, as on AWS, when the API has no
  route; with StageName it pins that stage to the new deployment;
- GET /v2/apis/{api}/deployments[/{id}] (GetDeployments, GetDeployment);
- a stage created with DeploymentId keeps it, and GetStage(s) report it.

A deployment also keeps the routes the API had when it was made (route key, authorization type,
target): a pinned stage serves those, not the API's current routes, so the sandbox's stand-in
for invoke URLs (invoke_urls.py) can tell that a route deleted from the API is still reachable
through a stage nobody redeployed. They are kept beside the deployments, never in them, so that
GetDeployment(s) answer exactly what AWS does.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

_PATHS = (
    "{0}/v2/apis/(?P<api_id>[^/]+)/deployments$",
    "{0}/v2/apis/(?P<api_id>[^/]+)/deployments/(?P<deployment_id>[^/]+)$",
)


def _deployments(api: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] | None = getattr(api, "sandbox_deployments", None)
    if found is None:
        found = api.sandbox_deployments = {}
    return found


def _routes_by_deployment(api: Any) -> dict[str, list[dict[str, str | None]]]:
    found: dict[str, list[dict[str, str | None]]] | None = getattr(
        api, "sandbox_deployment_routes", None
    )
    if found is None:
        found = api.sandbox_deployment_routes = {}
    return found


def deployment_routes(api: Any, deployment_id: str | None) -> list[dict[str, str | None]] | None:
    """The routes `api` had when deployment `deployment_id` was made, or None if unknown."""
    if not deployment_id:
        return None
    routes = _routes_by_deployment(api).get(deployment_id)
    return None if routes is None else [dict(route) for route in routes]


def current_routes(api: Any) -> list[dict[str, str | None]]:
    """The routes `api` has now: route key, authorization type (NONE when unset), target."""
    # New dicts of strings: a later UpdateRoute or DeleteRoute must not reach the snapshot.
    return [
        {
            "routeKey": route.route_key,
            "authorizationType": route.authorization_type or "NONE",
            "target": route.target,
        }
        for route in list(api.routes.values())
    ]


class HttpDeployments:
    def __init__(self) -> None:
        # (the urls module's url_paths, pattern) -> what it held before the install
        self._saved_paths: dict[tuple[int, str], tuple[dict[str, Any], Any]] = {}
        self._saved_to_json: Any = None

    def install(self) -> None:
        from moto.apigateway import urls as rest_urls
        from moto.apigatewayv2 import urls
        from moto.apigatewayv2.exceptions import APIGatewayV2Error, BadRequestException
        from moto.apigatewayv2.models import Stage
        from moto.apigatewayv2.responses import ApiGatewayV2Response

        class NotFound(APIGatewayV2Error):
            code = 404

            def __init__(self, message: str) -> None:
                super().__init__("NotFoundException", message)

        class WithDeployments(ApiGatewayV2Response):
            def _api(self) -> Any:
                api_id = self.path.split("/v2/apis/")[1].split("/")[0]
                return self.apigatewayv2_backend.get_api(api_id)

            def create_deployment(self) -> Any:
                api = self._api()
                if not api.routes:
                    raise BadRequestException("Unable to deploy API because no routes exist")
                params = json.loads(self.body or "{}")
                deployment = {
                    "deploymentId": uuid.uuid4().hex[:6],
                    "deploymentStatus": "DEPLOYED",
                    "createdDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "description": params.get("description", ""),
                    "autoDeployed": False,
                }
                _deployments(api)[deployment["deploymentId"]] = deployment
                _routes_by_deployment(api)[deployment["deploymentId"]] = current_routes(api)
                if params.get("stageName"):
                    stage = self.apigatewayv2_backend.get_stage(api.api_id, params["stageName"])
                    stage.config["deploymentId"] = deployment["deploymentId"]
                return 201, {}, json.dumps(deployment)

            def get_deployment(self) -> Any:
                deployment_id = self.path.rstrip("/").split("/")[-1]
                found = _deployments(self._api()).get(deployment_id)
                if found is None:
                    raise NotFound(f"Invalid Deployment identifier specified {deployment_id}")
                return 200, {}, json.dumps(found)

            def get_deployments(self) -> Any:
                items = list(_deployments(self._api()).values())
                return 200, {}, json.dumps({"items": items})

        # moto routes HTTP API requests through its REST API backend (both share a host), whose
        # url_paths copied the HTTP API's when moto.apigateway.urls was first imported: a copy
        # made before this install (a test's own mock_aws with an apigateway client, earlier
        # in the process) lacks these paths, and CreateDeployment answers "Not yet
        # implemented". Both tables get them.
        for table in (urls.url_paths, rest_urls.url_paths):
            for pattern in _PATHS:
                self._saved_paths[(id(table), pattern)] = (table, table.get(pattern))
                table[pattern] = WithDeployments.dispatch

        original = Stage.to_json
        self._saved_to_json = original

        def to_json(stage: Any) -> dict[str, Any]:
            shown = dict(original(stage))
            if stage.config.get("deploymentId"):
                shown["deploymentId"] = stage.config["deploymentId"]
            return shown

        Stage.to_json = to_json  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        from moto.apigatewayv2.models import Stage

        for (_, pattern), (table, previous) in self._saved_paths.items():
            if previous is None:
                table.pop(pattern, None)
            else:
                table[pattern] = previous
        self._saved_paths.clear()
        if self._saved_to_json is not None:
            Stage.to_json = self._saved_to_json  # type: ignore[method-assign]
            self._saved_to_json = None
