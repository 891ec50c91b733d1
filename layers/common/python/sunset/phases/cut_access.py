"""Remove API routes: take the service's HTTP API routes and REST API methods away.

The APIs themselves, their integrations, authorizers and stages stay, so that a restore puts the
routes back on the same ids and invoke URLs. A REST API change only takes effect once a stage is
redeployed, and API Gateway refuses to deploy an API with no method at all, so a REST API left
empty gets a tombstone on its root (ANY / answering 404) before its stages are redeployed.
"""

from __future__ import annotations

import json
from typing import Any

from sunset import notices
from sunset.aws import http_api, rest_api
from sunset.aws.clients import AwsClients
from sunset.context import RunContext
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import Manifest
from sunset.phases.results import PhaseResult
from sunset.safety import require_recoverable


def _remove_http_routes(aws: AwsClients, journal: Journal, api_id: str) -> list[str]:
    removed = []
    for route in http_api.routes(aws.http_apis, api_id):
        journal.change(
            "apigatewayv2:DeleteRoute",
            f"http-api/{api_id}/route/{route['RouteKey']}",
            http_api.delete_route,
            aws.http_apis,
            api_id,
            route["RouteId"],
        )
        removed.append(f"{route['RouteKey']} (HTTP API {api_id})")
    return removed


def _depth(resource: dict[str, Any]) -> int:
    return int(resource["path"].count("/")) if resource["path"] != "/" else 0


def _remove_rest_methods(
    aws: AwsClients, journal: Journal, run: RunContext, api_id: str, stages: list[str]
) -> list[str]:
    resources = rest_api.resources(aws.rest_apis, api_id)
    root = next(r for r in resources if r["path"] == "/")
    removed = [f"{key} (REST API {api_id})" for key in rest_api.method_keys(resources)]
    for verb in root.get("resourceMethods", {}):
        journal.change(
            "apigateway:DeleteMethod",
            f"rest-api/{api_id}/{verb} /",
            rest_api.delete_method,
            aws.rest_apis,
            api_id,
            root["id"],
            verb,
        )
    # Deepest first: real API Gateway deletes children with their parent, moto leaves them
    # orphaned (and then fails GetResources), so never rely on the cascade.
    for resource in sorted(resources, key=_depth, reverse=True):
        if resource is root:
            continue
        journal.change(
            "apigateway:DeleteResource",
            f"rest-api/{api_id}{resource['path']}",
            rest_api.delete_resource,
            aws.rest_apis,
            api_id,
            resource["id"],
        )
    message = json.dumps(
        {"message": f"{run.service} has been shut down (Sunset run {run.run_id})."}
    )
    journal.change(
        "apigateway:PutMethod (tombstone)",
        f"rest-api/{api_id}/ANY /",
        rest_api.put_tombstone,
        aws.rest_apis,
        api_id,
        root["id"],
        message,
    )
    for stage in stages:
        journal.change(
            "apigateway:CreateDeployment",
            f"rest-api/{api_id}/stage/{stage}",
            rest_api.create_deployment,
            aws.rest_apis,
            api_id,
            stage,
            f"Sunset run {run.run_id}: routes of {run.service} removed",
        )
    return removed


def _already_tombstoned(manifest: Manifest, api_id: str) -> bool:
    return any(
        a.action == "apigateway:CreateDeployment"
        and a.resource.startswith(f"rest-api/{api_id}/")
        and a.result == "ok"
        for a in manifest.actions
    )


def remove_api_routes(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Delete every route of the service's APIs, each only after its capture is on record."""
    removed: list[str] = []
    with running_phase(kit, run, "Remove API routes") as (manifest, journal):
        inventory = manifest.require_inventory()
        for http in inventory.http_apis:
            require_recoverable(manifest, "http-api", http.api_id)
            removed += _remove_http_routes(kit.aws, journal, http.api_id)
        for rest in inventory.rest_apis:
            require_recoverable(manifest, "rest-api", rest.api_id)
            if _already_tombstoned(manifest, rest.api_id):
                continue
            removed += _remove_rest_methods(kit.aws, journal, run, rest.api_id, rest.stage_names)
        kit.store.save_manifest(manifest)
        journal.notify(kit.notifier, notices.access_removed(run, removed))
    return PhaseResult(
        phase="Remove API routes",
        summary=f"{len(removed)} route(s) removed",
        counts={"Routes removed": len(removed)},
    )
