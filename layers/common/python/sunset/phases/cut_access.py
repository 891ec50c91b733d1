"""Remove API routes: take the service's HTTP API routes and REST API methods away.

The APIs themselves and their integrations and authorizers stay, so that a restore puts the
routes back on the same API ids. Every API is compared with its capture first: a route or stage
added after the backup has no captured configuration, so the API is left untouched and the run
fails loudly rather than removing something it cannot restore. An API tagged
sunset:protect=true since discovery is skipped.

HTTP APIs: API Gateway cannot deploy an HTTP API with no route ("Unable to deploy API because
no routes exist"), so deleting the routes alone would leave the last deployment serving. Sunset
deletes the API's custom-domain mappings and stages first (all captured), which takes the invoke
URLs down at once, then the routes.

REST APIs: a change takes effect only once a stage is redeployed, and API Gateway refuses to
deploy an API with no method at all, so the emptied API gets a tombstone on its root (ANY /
answering 404 through a MOCK integration) before its stages are redeployed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sunset import notices
from sunset.aws import http_api, rest_api
from sunset.aws.clients import AwsClients
from sunset.context import RunContext
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import Manifest, succeeded
from sunset.phases.results import PhaseResult
from sunset.safety import NotRecoverable, require_recoverable
from sunset.tags import is_protected

TOMBSTONE_ACTION = "apigateway:PutMethod (tombstone)"


def removal_description(run_id: str, service: str) -> str:
    """The description of the deployment that takes a REST API's routes away."""
    return f"Sunset run {run_id}: routes of {service} removed"


_REMOVAL = re.compile(r"^Sunset run [A-Za-z0-9_-]+: routes of ")


def serves_removal(deployment: dict[str, Any] | None) -> bool:
    """Whether a stage's deployment is one a Sunset run made with the routes removed (this run's
    or a later one's): a restore redeploys such a stage, whatever else is already back."""
    return bool(_REMOVAL.match(str((deployment or {}).get("description", ""))))


def _refuse_uncaptured(api: str, kind: str, added: list[str]) -> None:
    if added:
        raise NotRecoverable(
            f"{api} has {kind} added after its configuration was captured "
            f"({', '.join(sorted(added))}); nothing was removed from it"
        )


def _left_alone(
    journal: Journal, resource: str, api: dict[str, Any] | None, tags: dict[str, str]
) -> bool:
    """An API gone, or protected since discovery, is skipped, and the skip is on record."""
    if api is not None and not is_protected(tags):
        return False
    why = "no longer exists" if api is None else "tagged sunset:protect=true since discovery"
    journal.record("skip API", resource, "skipped", detail=why)
    return True


def _cut_http_api(
    aws: AwsClients,
    journal: Journal,
    manifest: Manifest,
    api_id: str,
    domain_mappings: http_api.DomainMappings,
) -> list[str]:
    capture = manifest.backups.http_apis[api_id]
    resource = f"http-api/{api_id}"
    api = http_api.get_api(aws.http_apis, api_id)
    if _left_alone(journal, resource, api, api.get("Tags", {}) if api else {}):
        return []
    routes = http_api.routes(aws.http_apis, api_id)
    stages = http_api.stages(aws.http_apis, api_id)
    mappings = domain_mappings.of(api_id)
    captured_routes = {r["RouteId"] for r in capture.routes}
    captured_stages = {s["StageName"] for s in capture.stages}
    captured_mappings = {m["ApiMappingId"] for m in capture.api_mappings}
    name = f"HTTP API {api_id}"
    _refuse_uncaptured(
        name, "routes", [r["RouteKey"] for r in routes if r["RouteId"] not in captured_routes]
    )
    _refuse_uncaptured(
        name, "stages", [s["StageName"] for s in stages if s["StageName"] not in captured_stages]
    )
    _refuse_uncaptured(
        name,
        "domain mappings",
        [m["DomainName"] for m in mappings if m["ApiMappingId"] not in captured_mappings],
    )
    for mapping in mappings:
        journal.change(
            "apigatewayv2:DeleteApiMapping",
            f"{resource}/mapping/{mapping['DomainName']}/{mapping.get('ApiMappingKey', '')}",
            http_api.delete_api_mapping,
            aws.http_apis,
            mapping["DomainName"],
            mapping["ApiMappingId"],
        )
    for stage in stages:
        journal.change(
            "apigatewayv2:DeleteStage",
            f"{resource}/stage/{stage['StageName']}",
            http_api.delete_stage,
            aws.http_apis,
            api_id,
            stage["StageName"],
        )
    removed = []
    for route in routes:
        journal.change(
            "apigatewayv2:DeleteRoute",
            f"{resource}/route/{route['RouteKey']}",
            http_api.delete_route,
            aws.http_apis,
            api_id,
            route["RouteId"],
        )
        removed.append(f"{route['RouteKey']} (HTTP API {api_id})")
    return removed


def _cut_rest_api(
    aws: AwsClients, journal: Journal, manifest: Manifest, run: RunContext, api_id: str
) -> list[str]:
    capture = manifest.backups.rest_apis[api_id]
    resource = f"rest-api/{api_id}"
    api = rest_api.get_api(aws.rest_apis, api_id)
    if _left_alone(journal, resource, api, api.get("tags", {}) if api else {}):
        return []
    resources = rest_api.resources(aws.rest_apis, api_id)
    root = next(r for r in resources if r["path"] == "/")
    tombstone = f"{resource}/{rest_api.TOMBSTONE_METHOD} /"
    tombstoned = succeeded(manifest.actions, TOMBSTONE_ACTION, tombstone)
    # The placeholder takes four calls: an attempt that failed half-way leaves an ANY / that is
    # ours, not a method someone added. It goes with the root's methods below and is put anew.
    attempted = any(
        a.action == TOMBSTONE_ACTION and a.resource == tombstone for a in manifest.actions
    )
    methods = set(rest_api.method_keys(resources))
    if tombstoned or attempted:
        methods.discard(f"{rest_api.TOMBSTONE_METHOD} /")
    _refuse_uncaptured(
        f"REST API {api_id}",
        "methods",
        sorted(methods - set(rest_api.method_keys(capture.resources))),
    )
    for verb in root.get("resourceMethods", {}):
        if tombstoned and verb == rest_api.TOMBSTONE_METHOD:
            continue
        journal.change(
            "apigateway:DeleteMethod",
            f"{resource}/{verb} /",
            rest_api.delete_method,
            aws.rest_apis,
            api_id,
            root["id"],
            verb,
        )
    # Deepest first: real API Gateway deletes children with their parent, moto leaves them
    # orphaned (and then fails GetResources), so never rely on the cascade.
    for child in sorted(resources, key=lambda r: rest_api.path_depth(r["path"]), reverse=True):
        if child is root:
            continue
        journal.change(
            "apigateway:DeleteResource",
            f"{resource}{child['path']}",
            rest_api.delete_resource,
            aws.rest_apis,
            api_id,
            child["id"],
        )
    if not tombstoned:
        message = json.dumps(
            {"message": f"{run.service} has been shut down (Sunset run {run.run_id})."}
        )
        journal.change(
            TOMBSTONE_ACTION,
            tombstone,
            rest_api.put_tombstone,
            aws.rest_apis,
            api_id,
            root["id"],
            message,
        )
    for stage in sorted(s["stageName"] for s in capture.stages):
        journal.change(
            "apigateway:CreateDeployment",
            f"{resource}/stage/{stage}",
            rest_api.create_deployment,
            aws.rest_apis,
            api_id,
            stage,
            removal_description(run.run_id, run.service),
        )
    return [f"{key} (REST API {api_id})" for key in sorted(methods)]


def remove_api_routes(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Cut client access: every route of the service's APIs, each after its capture is on record."""
    removed: list[str] = []
    with running_phase(kit, run, "Remove API routes") as (manifest, journal):
        kit.runs.require_lock(run.service, run.run_id)
        inventory = manifest.require_inventory()
        mappings = http_api.DomainMappings(kit.aws.http_apis)
        for http in inventory.http_apis:
            require_recoverable(manifest, "http-api", http.api_id)
            removed += _cut_http_api(kit.aws, journal, manifest, http.api_id, mappings)
        for rest in inventory.rest_apis:
            require_recoverable(manifest, "rest-api", rest.api_id)
            removed += _cut_rest_api(kit.aws, journal, manifest, run, rest.api_id)
        kit.store.save_manifest(manifest)
        journal.notify(kit.notifier, notices.access_removed(run, removed))
    done = "would be removed (dry run)" if journal.dry_run else "removed"
    return PhaseResult(
        phase="Remove API routes",
        summary=f"{len(removed)} route(s) {done}",
        counts={"Routes removed": len(removed)},
    )
