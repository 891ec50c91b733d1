"""Restore API routes: put the service's routes back on its APIs, then make them serve.

Runs only once every endpoint is InService and every database available (Restart compute), and
adds only what is missing, so a retried or repeated restore finishes what an earlier attempt
started instead of duplicating it. The single thing it removes is the tombstone this same run
put on a REST API's root, and only while it is still Sunset's MOCK (see cut_access).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sunset.aws import http_api, rest_api
from sunset.aws.clients import AwsClients
from sunset.context import RestoreStepEvent
from sunset.errors import RestoreFailed
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import Action, HttpApiCapture, RestApiCapture, RestoreRecord, succeeded
from sunset.phases.cut_access import TOMBSTONE_ACTION, serves_removal
from sunset.phases.restore import PROTECTED, collecting_failures
from sunset.phases.results import PhaseResult
from sunset.tags import is_protected


def _ids_back(
    journal: Journal,
    record: RestoreRecord,
    what: str,
    resource: str,
    captured: list[dict[str, Any]],
    live_ids: set[str],
    id_key: str,
    create: Callable[[dict[str, Any]], dict[str, Any]],
    known: dict[str, str],
) -> dict[str, str]:
    """Map each captured integration or authorizer id to a live one: the same id if it is still
    there, else the one a restore of this run re-created for it (an earlier attempt or restore
    may have, before it was cut short: records are saved however a step ends), else a new one."""
    mapping: dict[str, str] = {}
    for item in captured:
        old = item[id_key]
        key = f"{resource}/{what.lower()}/{old}"
        again = known.get(key)
        if old in live_ids:
            mapping[old] = old
        elif again in live_ids:
            mapping[old] = str(again)
        else:
            created = journal.change(f"apigatewayv2:Create{what}", key, create, item)
            mapping[old] = record.recreated[key] = str(created[id_key])
            record.restored.append(
                f"{what.lower()} {old} of {resource} (re-created as {created[id_key]})"
            )
    return mapping


def _gone(label: str, api_id: str, what: str) -> RestoreFailed:
    return RestoreFailed(
        f"{label} {api_id} no longer exists, so its {what} cannot be put back on it; its "
        "capture is in the manifest"
    )


def _left_alone(journal: Journal, resource: str, tags: dict[str, str]) -> bool:
    if is_protected(tags):
        journal.record("skip API", resource, "skipped", detail=PROTECTED)
        return True
    return False


def _http_stages_back(
    client: Any,
    journal: Journal,
    record: RestoreRecord,
    run_id: str,
    api_id: str,
    capture: HttpApiCapture,
) -> None:
    """Re-create each missing stage; a stage that was pinned to a deployment is pinned to it
    again, or deployed anew when that deployment is gone (or an earlier attempt stopped short)."""
    resource = f"http-api/{api_id}"
    live = {s["StageName"]: s for s in http_api.stages(client, api_id)}
    for stage in capture.stages:
        name = stage["StageName"]
        pinned = None if stage.get("AutoDeploy") else stage.get("DeploymentId")
        wanted = {k: v for k, v in stage.items() if k != "DeploymentId"}
        keeps_pin = bool(pinned) and http_api.deployment_exists(client, api_id, str(pinned))
        if keeps_pin:
            wanted["DeploymentId"] = pinned
        if name not in live:
            journal.change(
                "apigatewayv2:CreateStage",
                f"{resource}/stage/{name}",
                http_api.create_stage,
                client,
                api_id,
                wanted,
            )
            pin = f" (pinned to deployment {pinned} again)" if keeps_pin else ""
            record.restored.append(f"stage {name} of HTTP API {api_id}{pin}")
        elif not pinned or live[name].get("DeploymentId"):
            continue
        if pinned and not keeps_pin:
            journal.change(
                "apigatewayv2:CreateDeployment",
                f"{resource}/stage/{name}",
                http_api.create_deployment,
                client,
                api_id,
                name,
                f"Sunset restore of run {run_id}: deployment {pinned} was gone",
            )
            record.restored.append(
                f"stage {name} of HTTP API {api_id} deployed anew (deployment {pinned} was gone)"
            )


def restore_http_api(
    aws: AwsClients,
    journal: Journal,
    record: RestoreRecord,
    run_id: str,
    capture: HttpApiCapture,
    known: dict[str, str],
) -> None:
    """Integrations and authorizers (only if gone), routes, stages, custom-domain mappings."""
    api_id = capture.api["ApiId"]
    resource = f"http-api/{api_id}"
    client = aws.http_apis
    api = http_api.get_api(client, api_id)
    if api is None:
        raise _gone("HTTP API", api_id, "routes")
    if _left_alone(journal, resource, api.get("Tags", {})):
        return
    integrations = _ids_back(
        journal,
        record,
        "Integration",
        resource,
        capture.integrations,
        {i["IntegrationId"] for i in http_api.integrations(client, api_id)},
        "IntegrationId",
        lambda item: http_api.create_integration(client, api_id, item),
        known,
    )
    wanted_authorizers = {a["AuthorizerId"] for a in capture.authorizers}
    wanted_authorizers |= {
        again for key, again in known.items() if key.startswith(f"{resource}/authorizer/")
    }
    authorizers = _ids_back(
        journal,
        record,
        "Authorizer",
        resource,
        capture.authorizers,
        {a for a in wanted_authorizers if http_api.authorizer_exists(client, api_id, a)},
        "AuthorizerId",
        lambda item: http_api.create_authorizer(client, api_id, item),
        known,
    )
    routes = http_api.routes(client, api_id)
    present = {r["RouteKey"] for r in routes}
    for route in capture.routes:
        if route["RouteKey"] in present:
            continue
        wanted = dict(route)
        target = str(wanted.get("Target", ""))
        if target.startswith("integrations/"):
            old = target.removeprefix("integrations/")
            wanted["Target"] = f"integrations/{integrations.get(old, old)}"
        if wanted.get("AuthorizerId"):
            wanted["AuthorizerId"] = authorizers.get(wanted["AuthorizerId"], wanted["AuthorizerId"])
        journal.change(
            "apigatewayv2:CreateRoute",
            f"{resource}/route/{route['RouteKey']}",
            http_api.create_route,
            client,
            api_id,
            wanted,
        )
        record.restored.append(f"route {route['RouteKey']} of HTTP API {api_id}")
    _http_stages_back(client, journal, record, run_id, api_id, capture)
    mapped = {
        (m["DomainName"], m.get("ApiMappingKey", ""))
        for m in http_api.api_mappings_of(client, api_id)
    }
    for mapping in capture.api_mappings:
        key = (mapping["DomainName"], mapping.get("ApiMappingKey", ""))
        if key in mapped:
            continue
        journal.change(
            "apigatewayv2:CreateApiMapping",
            f"{resource}/mapping/{key[0]}/{key[1]}",
            http_api.create_api_mapping,
            client,
            api_id,
            mapping,
        )
        record.restored.append(f"custom domain mapping {key[0]}/{key[1]} -> HTTP API {api_id}")


def _remove_own_tombstone(
    client: Any,
    journal: Journal,
    audit: list[Action],
    capture: RestApiCapture,
    root: dict[str, Any],
) -> bool:
    """Take off the tombstone this run put on the root, if it is still there and still ours.

    The tombstone takes four calls. One that failed half-way (denied its integration, say)
    leaves an ANY / that is not a whole tombstone, and is ours all the same when the run
    tried to put it and the API had no ANY / when it was captured."""
    api_id = capture.api["id"]
    tombstone = f"rest-api/{api_id}/{rest_api.TOMBSTONE_METHOD} /"
    methods = root.get("resourceMethods") or {}
    method = methods.get(rest_api.TOMBSTONE_METHOD)
    if succeeded(audit, TOMBSTONE_ACTION, tombstone):
        ours = rest_api.is_tombstone(method)
    else:
        tried = any(a.action == TOMBSTONE_ACTION and a.resource == tombstone for a in audit)
        captured = f"{rest_api.TOMBSTONE_METHOD} /" in rest_api.method_keys(capture.resources)
        ours = tried and not captured and method is not None and rest_api.is_half_tombstone(method)
    if not ours:
        return False
    journal.change(
        "apigateway:DeleteMethod (tombstone)",
        tombstone,
        rest_api.delete_method,
        client,
        api_id,
        root["id"],
        rest_api.TOMBSTONE_METHOD,
    )
    methods.pop(rest_api.TOMBSTONE_METHOD)
    return True


def restore_rest_api(
    aws: AwsClients,
    journal: Journal,
    record: RestoreRecord,
    run_id: str,
    audit: list[Action],
    capture: RestApiCapture,
) -> None:
    """The run's tombstone off, resources and methods back, then every stage that still serves
    the removal's deployment is redeployed."""
    api_id = capture.api["id"]
    resource = f"rest-api/{api_id}"
    client = aws.rest_apis
    api = rest_api.get_api(client, api_id)
    if api is None:
        raise _gone("REST API", api_id, "methods")
    if _left_alone(journal, resource, api.get("tags", {})):
        return
    live = {r["path"]: r for r in rest_api.resources(client, api_id)}
    changed = _remove_own_tombstone(client, journal, audit, capture, live["/"])
    for captured in sorted(capture.resources, key=lambda r: rest_api.path_depth(r["path"])):
        path = captured["path"]
        if path not in live:
            parent = path.rsplit("/", 1)[0] or "/"
            created = journal.change(
                "apigateway:CreateResource",
                f"{resource}{path}",
                rest_api.create_resource,
                client,
                api_id,
                live[parent]["id"],
                captured["pathPart"],
            )
            live[path] = {**created, "resourceMethods": {}}
            changed = True
        present = live[path].get("resourceMethods") or {}
        for verb, method in (captured.get("resourceMethods") or {}).items():
            if rest_api.method_complete(present.get(verb), method):
                continue
            journal.change(
                "apigateway:PutMethod",
                f"{resource}/{verb} {path}",
                rest_api.put_captured_method,
                client,
                api_id,
                live[path]["id"],
                verb,
                method,
                present.get(verb),
            )
            record.restored.append(f"{verb} {path} of REST API {api_id}")
            changed = True
    stages = {s["stageName"]: s for s in rest_api.stages(client, api_id)}
    for name in sorted(s["stageName"] for s in capture.stages):
        if name not in stages:
            continue  # deleted since the shutdown: Verify restore names it
        current = stages[name].get("deploymentId")
        if not changed and current:
            if not serves_removal(rest_api.deployment(client, api_id, current)):
                continue
        journal.change(
            "apigateway:CreateDeployment",
            f"{resource}/stage/{name}",
            rest_api.create_deployment,
            client,
            api_id,
            name,
            f"Sunset restore of run {run_id}",
        )
        record.restored.append(f"stage {name} of REST API {api_id} redeployed")


def restore_routes(event: RestoreStepEvent, kit: Toolkit) -> PhaseResult:
    """Put the service's routes back on its APIs and redeploy: the service answers again."""
    run, restore = event.run, event.restore
    with running_phase(kit, run, "Restore API routes") as (manifest, journal):
        kit.runs.require_lock(run.lock, restore.lock_holder)
        record = manifest.restore(restore.restore_id)
        before = len(record.restored)
        audit = kit.runs.audit_entries(run.run_id)
        inventory = manifest.require_inventory()
        # What every restore of this run re-created, oldest first: a later one reuses it.
        known = {k: v for r in manifest.restores for k, v in r.recreated.items()}
        broken: list[str] = []
        for http in inventory.http_apis:
            capture = manifest.backups.http_apis.get(http.api_id)
            if capture is not None:
                with collecting_failures(broken):
                    restore_http_api(kit.aws, journal, record, run.run_id, capture, known)
        for rest in inventory.rest_apis:
            rest_capture = manifest.backups.rest_apis.get(rest.api_id)
            if rest_capture is not None:
                with collecting_failures(broken):
                    restore_rest_api(kit.aws, journal, record, run.run_id, audit, rest_capture)
        if broken:
            raise RestoreFailed("; ".join(broken))
        done = len(record.restored) - before
    return PhaseResult(
        phase="Restore API routes", summary=f"{done} piece(s) put back", counts={"Put back": done}
    )
