"""Remove API routes: take the service's HTTP API routes and REST API methods away.

The APIs themselves and their integrations and authorizers stay, so that a restore puts the
routes back on the same API ids. Every API is compared with its capture first: a route or stage
added after the backup has no captured configuration, so the API is left untouched and the run
fails loudly rather than removing something it cannot restore. An API tagged
sunset:protect=true since discovery is skipped; one tagged after this run removed part of it
fails the step (ProtectedMidRun) rather than be finished or left half done without a word.

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
from collections.abc import Callable
from typing import Any

from sunset import notices
from sunset.aws import http_api, rest_api
from sunset.aws.pacing import paced_seconds
from sunset.context import RunContext
from sunset.errors import ProtectedMidRun
from sunset.journal import Journal, OutOfTime, Toolkit, running_phase
from sunset.manifest import Manifest
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


# What removes a route, a method or what serves them: a protect tag that comes after one of
# these on an API is too late to leave the API as it was.
_REMOVALS = frozenset(
    {
        "apigatewayv2:DeleteApiMapping",
        "apigatewayv2:DeleteStage",
        "apigatewayv2:DeleteRoute",
        "apigateway:DeleteMethod",
        "apigateway:DeleteResource",
    }
)


def _left_alone(
    journal: Journal, resource: str, api: dict[str, Any] | None, tags: dict[str, str]
) -> bool:
    """An API gone, or protected since discovery, is skipped, and the skip is on record.

    Protected after this run removed part of it (an earlier attempt or invocation did), it can
    be neither finished nor left half-removed without a word: the step fails, and the run
    rolls back (or, with on_failure=halt, reports) what it removed."""
    if api is not None and not is_protected(tags):
        return False
    if api is not None and (removed := journal.done_under(f"{resource}/", _REMOVALS)):
        raise ProtectedMidRun(
            f"{resource} was tagged sunset:protect=true after this run had removed "
            f"{len(removed)} of its parts ({', '.join(removed[:5])}"
            f"{', ...' if len(removed) > 5 else ''}): Sunset neither finishes the removal nor "
            "leaves it half done"
        )
    why = "no longer exists" if api is None else "tagged sunset:protect=true since discovery"
    journal.record("skip API", resource, "skipped", detail=why)
    return True


def _cut_http_api(
    kit: Toolkit,
    journal: Journal,
    manifest: Manifest,
    api_id: str,
    domain_mappings: http_api.DomainMappings,
) -> list[str]:
    aws = kit.aws
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
    changes: list[_Change] = [
        *(
            (
                "apigatewayv2:DeleteApiMapping",
                f"{resource}/mapping/{m['DomainName']}/{m.get('ApiMappingKey', '')}",
                http_api.delete_api_mapping,
                (m["DomainName"], m["ApiMappingId"]),
            )
            for m in mappings
        ),
        *(
            (
                "apigatewayv2:DeleteStage",
                f"{resource}/stage/{s['StageName']}",
                http_api.delete_stage,
                (api_id, s["StageName"]),
            )
            for s in stages
        ),
        *(
            (
                "apigatewayv2:DeleteRoute",
                _route(resource, r),
                http_api.delete_route,
                (api_id, r["RouteId"]),
            )
            for r in routes
        ),
    ]
    if _pending(journal, changes):
        actions = [action for action, _, _, _ in changes]
        kit.budget.next_unit(f"removing the routes of {name}", _paced("apigatewayv2", actions))
    for action, target, call, args in changes:
        journal.change(action, target, call, aws.http_apis, *args)
    # What this run removed, from its record rather than from this attempt's calls: a retried
    # or resumed step finds gone the routes an earlier attempt or invocation deleted.
    live = {r["RouteId"] for r in routes}
    return [
        f"{route['RouteKey']} (HTTP API {api_id})"
        for route in capture.routes
        if _removed(
            journal, "apigatewayv2:DeleteRoute", _route(resource, route), route["RouteId"] in live
        )
    ]


def _route(resource: str, route: dict[str, Any]) -> str:
    return f"{resource}/route/{route['RouteKey']}"


# One change to an API: (action, resource on record, the call, its arguments after the client).
_Change = tuple[str, str, Callable[..., Any], tuple[Any, ...]]


def _pending(journal: Journal, changes: list[_Change]) -> bool:
    """Whether an API has changes to make. What is gone is not deleted again; in a dry run
    nothing is gone, and what an earlier invocation planned is not planned twice. Either way an
    API with nothing pending costs no time of this invocation."""
    return any(not journal.planned(action, target) for action, target, _, _ in changes)


def _paced(service: str, actions: list[str]) -> float:
    """What API Gateway's quotas make these actions ('service:Operation ...') wait at worst."""
    return paced_seconds([(service, action.split(":")[1].split(" ")[0]) for action in actions])


def _removed(journal: Journal, action: str, target: str, removed_now: bool) -> bool:
    """Whether this run removed `target`: in this attempt, or in an earlier attempt or
    invocation. Gone with no removal on record, it was removed by an attempt whose answer was
    lost (adopted: on record now), or by someone else (not ours to list, or to restore)."""
    if removed_now or journal.settled(action, target):
        return True
    return journal.adopt(action, target, "already deleted")


def _method_removed(journal: Journal, resource: str, method: str, removed_now: bool) -> bool:
    """Whether this run removed a REST API method ('VERB /path'): a root method with
    DeleteMethod, any other with its resource's DeleteResource."""
    verb, path = method.split(" ", 1)
    if path == "/":
        return _removed(journal, "apigateway:DeleteMethod", f"{resource}/{verb} /", removed_now)
    return _removed(journal, "apigateway:DeleteResource", f"{resource}{path}", removed_now)


def _cut_rest_api(
    kit: Toolkit, journal: Journal, manifest: Manifest, run: RunContext, api_id: str
) -> list[str]:
    aws = kit.aws
    capture = manifest.backups.rest_apis[api_id]
    resource = f"rest-api/{api_id}"
    api = rest_api.get_api(aws.rest_apis, api_id)
    if _left_alone(journal, resource, api, api.get("tags", {}) if api else {}):
        return []
    resources = rest_api.resources(aws.rest_apis, api_id)
    root = next(r for r in resources if r["path"] == "/")
    tombstone = f"{resource}/{rest_api.TOMBSTONE_METHOD} /"
    tombstoned = journal.done(TOMBSTONE_ACTION, tombstone)
    # The placeholder takes four calls: an attempt that failed half-way leaves an ANY / that is
    # ours, not a method someone added. It goes with the root's methods below and is put anew.
    attempted = journal.tried(TOMBSTONE_ACTION, tombstone)
    methods = set(rest_api.method_keys(resources))
    if tombstoned or attempted:
        methods.discard(f"{rest_api.TOMBSTONE_METHOD} /")
    _refuse_uncaptured(
        f"REST API {api_id}",
        "methods",
        sorted(methods - set(rest_api.method_keys(capture.resources))),
    )
    root_verbs = [
        verb
        for verb in root.get("resourceMethods", {})
        if not (tombstoned and verb == rest_api.TOMBSTONE_METHOD)
    ]
    # Deepest first: real API Gateway deletes children with their parent, moto leaves them
    # orphaned (and then fails GetResources), so never rely on the cascade.
    children = sorted(
        (r for r in resources if r is not root),
        key=lambda r: rest_api.path_depth(r["path"]),
        reverse=True,
    )
    changes: list[_Change] = [
        *(
            (
                "apigateway:DeleteMethod",
                f"{resource}/{verb} /",
                rest_api.delete_method,
                (api_id, root["id"], verb),
            )
            for verb in root_verbs
        ),
        *(
            (
                "apigateway:DeleteResource",
                f"{resource}{c['path']}",
                rest_api.delete_resource,
                (api_id, c["id"]),
            )
            for c in children
        ),
    ]
    if not tombstoned:
        message = json.dumps(
            {"message": f"{run.service} has been shut down (Sunset run {run.run_id})."}
        )
        changes.append(
            (TOMBSTONE_ACTION, tombstone, rest_api.put_tombstone, (api_id, root["id"], message))
        )
    # Nothing left to take away (a resumed step meets the APIs its earlier invocations
    # emptied and redeployed; a resumed dry run, those it planned): no time spent on it, and
    # no redeployment, which API Gateway allows once every 5 s per account. A stage serves
    # the removal once redeployed after it: one this run redeployed already is redeployed
    # again when this attempt has more to remove.
    pending = _pending(journal, changes)
    stages = [
        stage
        for stage in sorted(s["stageName"] for s in capture.stages)
        if pending
        or not journal.settled("apigateway:CreateDeployment", f"{resource}/stage/{stage}")
    ]
    if pending or stages:
        actions = [action for action, _, _, _ in changes]
        if not tombstoned:
            actions += ["apigateway:PutIntegration", "apigateway:PutMethodResponse"]
            actions += ["apigateway:PutIntegrationResponse"]  # the placeholder's other 3 calls
        actions += [
            f"apigateway:{op}" for _ in stages for op in ("CreateDeployment", "UpdateStage")
        ]
        wait = _paced("apigateway", actions)
        kit.budget.next_unit(f"removing the routes of REST API {api_id}", wait)
    for action, target, call, args in changes:
        journal.change(action, target, call, aws.rest_apis, *args)
    for stage in stages:
        journal.change(
            "apigateway:CreateDeployment",
            f"{resource}/stage/{stage}",
            rest_api.create_deployment,
            aws.rest_apis,
            api_id,
            stage,
            removal_description(run.run_id, run.service),
        )
    # What this run removed, from its record as well as from what was there: a retried or
    # resumed step finds gone the methods an earlier attempt or invocation removed.
    return [
        f"{key} (REST API {api_id})"
        for key in rest_api.method_keys(capture.resources)
        if _method_removed(journal, resource, key, key in methods)
    ]


def remove_api_routes(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Cut client access: every route of the service's APIs, each after its capture is on record.

    An API is a unit of work: with its invocation's time nearly spent, the step pauses before
    the next API and resumes in a new invocation (docs/PERFORMANCE.md, "Steps that resume")."""
    removed: list[str] = []
    try:
        with running_phase(kit, run, "Remove API routes") as (manifest, journal):
            kit.runs.require_lock(run.lock, run.run_id)
            inventory = manifest.require_inventory()
            mappings = http_api.DomainMappings(kit.aws.http_apis)
            for http in inventory.http_apis:
                require_recoverable(manifest, "http-api", http.api_id)
                removed += _cut_http_api(kit, journal, manifest, http.api_id, mappings)
            for rest in inventory.rest_apis:
                require_recoverable(manifest, "rest-api", rest.api_id)
                removed += _cut_rest_api(kit, journal, manifest, run, rest.api_id)
            kit.store.save_manifest(manifest)
            journal.notify(kit.notifier, notices.access_removed(run, removed))
    except OutOfTime as paused:
        return PhaseResult(phase="Remove API routes", summary=str(paused), more=True)
    done = "would be removed (dry run)" if journal.dry_run else "removed"
    return PhaseResult(
        phase="Remove API routes",
        summary=f"{len(removed)} route(s) {done}",
        counts={"Routes removed": len(removed)},
    )
