"""Bring a service back from its run's manifest: recommission on demand, rollback on failure.

Both run the same states (Restart compute, Restore API routes, Verify restore, Report restore);
only how they begin and how they are reported differs. The order is the safe one: nothing that
receives traffic comes back before what serves it. Endpoints are re-created and stopped
databases started first, the routes are put back only once every endpoint is InService and
every database available, and then the service is checked against its capture.

A restore puts back what is missing and never deletes or changes what exists. The one thing it
removes is the tombstone that this run itself put on a REST API's root (ANY / answering 404),
and only when the audit trail shows this run put it there and it is still Sunset's MOCK.
A piece that exists but differs from its capture (a route re-created by hand with another
target, say) is left as it is, and Verify restore names it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sunset.aws import autoscaling, http_api, rds, rest_api, sagemaker
from sunset.aws.clients import AwsClients
from sunset.context import (
    BeginRestoreEvent,
    FailureEvent,
    RestoreContext,
    RestoreStart,
    RestoreStepEvent,
    RunContext,
)
from sunset.errors import RestoreDeadlineExceeded, RestoreFailed
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import (
    Action,
    EndpointCapture,
    HttpApiCapture,
    Incident,
    Manifest,
    RestApiCapture,
    RestoreRecord,
)
from sunset.phases.cut_access import TOMBSTONE_ACTION
from sunset.phases.finish import readable_cause
from sunset.phases.results import PhaseResult
from sunset.request import parse_recommission
from sunset.tags import as_tag_list

# How long a rollback waits for endpoints and databases to come back before it gives up.
ROLLBACK_DEADLINE_SECONDS = 3_600
_ENDPOINT_BUSY = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}
_DB_STARTS = {"rds-instance": ("rds:StartDBInstance", rds.start_instance, rds.describe_instance)}
_DB_STARTS["rds-cluster"] = ("rds:StartDBCluster", rds.start_cluster, rds.describe_cluster)
_DB_STOPS = {"rds:StopDBInstance": "rds-instance", "rds:StopDBCluster": "rds-cluster"}


class ComputeStatus(PhaseResult):
    ready: bool


# ---------------------------------------------------------------------------- beginning


def begin_recommission(event: BeginRestoreEvent, kit: Toolkit) -> RestoreStart:
    """Validate the input, read the run's manifest, take the service's lock.

    Each refusal happens before anything changes: a bad input (InvalidRequest), a run with no
    manifest or one of a schema this version does not read (ManifestError), a service locked by
    another run (ServiceLocked).
    """
    request = parse_recommission(event.input)
    manifest = kit.store.load_manifest(request.run_id)
    run = RunContext(
        run_id=manifest.run_id,
        service=manifest.service,
        started_at=manifest.started_at,
        request=manifest.request,
    )
    restore = RestoreContext(
        restore_id=event.restore_id,
        mode="recommission",
        lock_holder=event.restore_id,
        started_at=event.started_at,
        poll_seconds=request.poll_seconds,
        deadline_seconds=request.deadline_seconds,
    )
    kit.runs.acquire_lock(run.service, event.restore_id, kit.now(), kit.lock_ttl_seconds)
    try:
        kit.runs.put_run(
            event.restore_id, run.service, "RUNNING", event.started_at, restores=run.run_id
        )
        with running_phase(kit, run, "Begin restore") as (manifest, journal):
            manifest.restores.append(
                RestoreRecord(
                    restore_id=event.restore_id, mode="recommission", started_at=kit.now()
                )
            )
            journal.record(
                "lock service",
                f"service/{run.service}",
                "ok",
                detail=f"lock held by restore {event.restore_id}",
            )
    except BaseException:
        kit.runs.release_lock(run.service, event.restore_id)
        raise
    return RestoreStart(run=run, restore=restore)


def begin_rollback(event: FailureEvent, kit: Toolkit) -> RestoreContext:
    """Record why the run failed and open its rollback; the run keeps the service's lock."""
    if event.run is None:
        raise RestoreFailed("a rollback needs the run context that Prepare returns")
    run = event.run
    error = event.error.get("Error", "Unknown")
    cause = readable_cause(event.error.get("Cause", ""))
    with running_phase(kit, run, "Begin rollback") as (manifest, journal):
        manifest.incident = Incident(
            failed_step=event.failed_step, error=error, cause=cause, at=kit.now()
        )
        manifest.restores.append(
            RestoreRecord(restore_id=run.run_id, mode="rollback", started_at=kit.now())
        )
        journal.record(
            "begin rollback",
            f"service/{run.service}",
            "ok",
            detail=f"{event.failed_step} failed with {error}: {cause}",
        )
    return RestoreContext(
        restore_id=run.run_id,
        mode="rollback",
        lock_holder=run.run_id,
        started_at=kit.now(),
        poll_seconds=run.request.backup.poll_seconds,
        deadline_seconds=ROLLBACK_DEADLINE_SECONDS,
    )


# ---------------------------------------------------------------------------- compute


def stopped_by_run(audit: list[Action]) -> list[tuple[str, str]]:
    """The databases this run stopped: (kind, identifier), from the audit trail."""
    stopped: list[tuple[str, str]] = []
    for entry in audit:
        kind = _DB_STOPS.get(entry.action)
        if kind and entry.result == "ok" and (kind, entry.resource) not in stopped:
            stopped.append((kind, entry.resource))
    return stopped


def _ensure_model_and_config(
    aws: AwsClients, journal: Journal, record: RestoreRecord, capture: EndpointCapture
) -> str:
    """The endpoint config to start from: kept by the decommission, or re-created from the
    capture (with its models) if someone deleted it since."""
    tags = as_tag_list(capture.tags)
    for model in capture.models:
        name = model["ModelName"]
        if sagemaker.find_model(aws.sagemaker, name) is None:
            journal.change(
                "sagemaker:CreateModel",
                f"sagemaker-model/{name}",
                sagemaker.create_model,
                aws.sagemaker,
                model,
                tags,
            )
            record.restored.append(f"SageMaker model {name} (re-created from its capture)")
    config = capture.endpoint_config["EndpointConfigName"]
    if sagemaker.find_endpoint_config(aws.sagemaker, config) is None:
        journal.change(
            "sagemaker:CreateEndpointConfig",
            f"sagemaker-endpoint-config/{config}",
            sagemaker.create_endpoint_config,
            aws.sagemaker,
            capture.endpoint_config,
            tags,
        )
        record.restored.append(f"endpoint config {config} (re-created from its capture)")
    return str(config)


def _restore_autoscaling(
    aws: AwsClients, journal: Journal, record: RestoreRecord, capture: EndpointCapture
) -> None:
    wanted = [t["ResourceId"] for t in capture.scalable_targets]
    registered = {t["ResourceId"] for t in autoscaling.scalable_targets(aws.autoscaling, wanted)}
    for target in capture.scalable_targets:
        resource_id = target["ResourceId"]
        if resource_id in registered:
            continue
        journal.change(
            "application-autoscaling:RegisterScalableTarget",
            resource_id,
            autoscaling.register_target,
            aws.autoscaling,
            target,
        )
        for policy in capture.scaling_policies:
            if policy["ResourceId"] == resource_id:
                journal.change(
                    "application-autoscaling:PutScalingPolicy",
                    f"{resource_id}/policy/{policy['PolicyName']}",
                    autoscaling.put_policy,
                    aws.autoscaling,
                    policy,
                )
        record.restored.append(
            f"autoscaling of {resource_id}: {target.get('MinCapacity')}-"
            f"{target.get('MaxCapacity')} instances, "
            f"{sum(p['ResourceId'] == resource_id for p in capture.scaling_policies)} policy(ies)"
        )


def _endpoint_back(
    aws: AwsClients, journal: Journal, record: RestoreRecord, name: str, capture: EndpointCapture
) -> str | None:
    """Move one endpoint towards InService; None once it is there, else what it waits for."""
    current = sagemaker.describe_endpoint(aws.sagemaker, name)
    if current is None:
        config = _ensure_model_and_config(aws, journal, record, capture)
        journal.change(
            "sagemaker:CreateEndpoint",
            f"sagemaker-endpoint/{name}",
            sagemaker.create_endpoint,
            aws.sagemaker,
            name,
            config,
            as_tag_list(capture.tags),
        )
        record.restored.append(f"SageMaker endpoint {name} (config {config})")
        return f"endpoint {name}: Creating"
    status = current.get("EndpointStatus", "")
    if status in _ENDPOINT_BUSY:
        return f"endpoint {name}: {status}"
    if status != "InService":
        raise RestoreFailed(
            f"SageMaker endpoint {name} is {status}: {current.get('FailureReason', 'no reason')}"
            "; it was left as it is"
        )
    _restore_autoscaling(aws, journal, record, capture)
    return None


def _database_back(
    aws: AwsClients, journal: Journal, record: RestoreRecord, kind: str, identifier: str
) -> str | None:
    action, start, describe = _DB_STARTS[kind]
    current = describe(aws.rds, identifier)
    if current is None:
        raise RestoreFailed(
            f"{kind} {identifier}, stopped by this run, no longer exists: restore it from its "
            "snapshot in the manifest"
        )
    status = current["DBInstanceStatus" if kind == "rds-instance" else "Status"]
    if status == "available":
        return None
    if status == "stopped":
        journal.change(action, identifier, start, aws.rds, identifier)
        record.restored.append(f"{kind} {identifier} started")
        return f"{kind} {identifier}: starting"
    # stopping, starting, backing-up, ...: wait for it to settle.
    return f"{kind} {identifier}: {status}"


def restart_compute(event: RestoreStepEvent, kit: Toolkit) -> ComputeStatus:
    """One poll: re-create missing endpoints, start stopped databases, report whether all are up.

    Called again after each Wait until everything is up: every action here is idempotent.
    """
    run, restore = event.run, event.restore
    waiting: list[str] = []
    with running_phase(kit, run, "Restart compute") as (manifest, journal):
        record = manifest.restore(restore.restore_id)
        for endpoint in manifest.require_inventory().endpoints:
            capture = manifest.backups.endpoints.get(endpoint.name)
            if capture is None:
                continue  # never captured, so never deleted: nothing to bring back
            pending = _endpoint_back(kit.aws, journal, record, endpoint.name, capture)
            waiting += [pending] if pending else []
        for kind, identifier in stopped_by_run(kit.runs.audit_entries(run.run_id)):
            pending = _database_back(kit.aws, journal, record, kind, identifier)
            waiting += [pending] if pending else []
        deadline = restore.started_at + timedelta(seconds=restore.deadline_seconds)
        if waiting and kit.now() > deadline:
            raise RestoreDeadlineExceeded(
                f"still not up after {restore.deadline_seconds} s: {', '.join(waiting)}; "
                "no route was put back"
            )
    summary = "endpoints and databases are up" if not waiting else f"waiting: {', '.join(waiting)}"
    return ComputeStatus(
        phase="Restart compute",
        summary=summary,
        counts={"Waiting": len(waiting)},
        ready=not waiting,
    )


# ---------------------------------------------------------------------------- routes


def _ids_back(
    journal: Journal,
    record: RestoreRecord,
    label: str,
    resource: str,
    captured: list[dict[str, Any]],
    id_key: str,
    existing: set[str],
    create: Any,
) -> dict[str, str]:
    """Map each captured id to a live one, re-creating whatever is gone."""
    mapping: dict[str, str] = {}
    for item in captured:
        old = item[id_key]
        if old in existing:
            mapping[old] = old
            continue
        created = journal.change(f"apigatewayv2:Create{label}", f"{resource}/{old}", create, item)
        mapping[old] = created[id_key]
        record.restored.append(
            f"{label.lower()} {old} of {resource} (re-created as {created[id_key]})"
        )
    return mapping


def _restore_http_api(
    aws: AwsClients, journal: Journal, record: RestoreRecord, run_id: str, capture: HttpApiCapture
) -> None:
    api_id = capture.api["ApiId"]
    resource = f"http-api/{api_id}"
    client = aws.http_apis
    if http_api.get_api(client, api_id) is None:
        raise RestoreFailed(
            f"HTTP API {api_id} no longer exists, so its routes cannot be put back on it; its "
            "capture is in the manifest"
        )
    integrations = _ids_back(
        journal,
        record,
        "Integration",
        resource,
        capture.integrations,
        "IntegrationId",
        {i["IntegrationId"] for i in http_api.integrations(client, api_id)},
        lambda item: http_api.create_integration(client, api_id, item),
    )
    live_authorizers = set()
    for authorizer in capture.authorizers:
        if http_api.authorizer_exists(client, api_id, authorizer["AuthorizerId"]):
            live_authorizers.add(authorizer["AuthorizerId"])
    authorizers = _ids_back(
        journal,
        record,
        "Authorizer",
        resource,
        capture.authorizers,
        "AuthorizerId",
        live_authorizers,
        lambda item: http_api.create_authorizer(client, api_id, item),
    )
    present = {r["RouteKey"] for r in http_api.routes(client, api_id)}
    for route in capture.routes:
        if route["RouteKey"] in present:
            continue
        wanted = dict(route)
        target = wanted.get("Target", "")
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
    stages = {s["StageName"] for s in http_api.stages(client, api_id)}
    for stage in capture.stages:
        name = stage["StageName"]
        if name in stages:
            continue
        wanted = dict(stage)
        pinned = wanted.get("DeploymentId")
        redeploy = False
        if pinned and not wanted.get("AutoDeploy"):
            if not http_api.deployment_exists(client, api_id, pinned):
                wanted.pop("DeploymentId")
                redeploy = True
        else:
            wanted.pop("DeploymentId", None)
        journal.change(
            "apigatewayv2:CreateStage",
            f"{resource}/stage/{name}",
            http_api.create_stage,
            client,
            api_id,
            wanted,
        )
        detail = f"stage {name} of HTTP API {api_id}"
        if redeploy:
            journal.change(
                "apigatewayv2:CreateDeployment",
                f"{resource}/stage/{name}",
                http_api.create_deployment,
                client,
                api_id,
                name,
                f"Sunset restore of run {run_id}: deployment {pinned} was gone",
            )
            detail += f" (its deployment {pinned} was gone: deployed anew)"
        elif pinned:
            detail += f" (pinned to deployment {pinned} again)"
        record.restored.append(detail)
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


def _depth(path: str) -> int:
    return 0 if path == "/" else path.count("/")


def _restore_rest_api(
    aws: AwsClients,
    journal: Journal,
    record: RestoreRecord,
    manifest: Manifest,
    audit: list[Action],
    capture: RestApiCapture,
) -> None:
    api_id = capture.api["id"]
    resource = f"rest-api/{api_id}"
    client = aws.rest_apis
    if rest_api.get_api(client, api_id) is None:
        raise RestoreFailed(
            f"REST API {api_id} no longer exists, so its methods cannot be put back on it; its "
            "capture is in the manifest"
        )
    changed = False
    live = {r["path"]: r for r in rest_api.resources(client, api_id)}
    root = live["/"]
    tombstone = f"{resource}/{rest_api.TOMBSTONE_METHOD} /"
    ours = any(
        a.action == TOMBSTONE_ACTION and a.resource == tombstone and a.result == "ok" for a in audit
    )
    root_methods = root.get("resourceMethods") or {}
    if ours and rest_api.is_tombstone(root_methods.get(rest_api.TOMBSTONE_METHOD)):
        journal.change(
            "apigateway:DeleteMethod (tombstone)",
            tombstone,
            rest_api.delete_method,
            client,
            api_id,
            root["id"],
            rest_api.TOMBSTONE_METHOD,
        )
        root_methods.pop(rest_api.TOMBSTONE_METHOD)
        changed = True
    for captured in sorted(capture.resources, key=lambda r: _depth(r["path"])):
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
            if verb in present:
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
            )
            record.restored.append(f"{verb} {path} of REST API {api_id}")
            changed = True
    if not changed:
        return
    for stage in sorted(s["stageName"] for s in capture.stages):
        journal.change(
            "apigateway:CreateDeployment",
            f"{resource}/stage/{stage}",
            rest_api.create_deployment,
            client,
            api_id,
            stage,
            f"Sunset restore of run {manifest.run_id}",
        )
        record.restored.append(f"stage {stage} of REST API {api_id} redeployed")


def restore_routes(event: RestoreStepEvent, kit: Toolkit) -> PhaseResult:
    """Put the service's routes back on its APIs and redeploy: the service answers again."""
    run, restore = event.run, event.restore
    with running_phase(kit, run, "Restore API routes") as (manifest, journal):
        record = manifest.restore(restore.restore_id)
        before = len(record.restored)
        audit = kit.runs.audit_entries(run.run_id)
        for http in manifest.require_inventory().http_apis:
            capture = manifest.backups.http_apis.get(http.api_id)
            if capture is not None:
                _restore_http_api(kit.aws, journal, record, run.run_id, capture)
        for rest in manifest.require_inventory().rest_apis:
            rest_capture = manifest.backups.rest_apis.get(rest.api_id)
            if rest_capture is not None:
                _restore_rest_api(kit.aws, journal, record, manifest, audit, rest_capture)
        done = len(record.restored) - before
    return PhaseResult(
        phase="Restore API routes", summary=f"{done} piece(s) put back", counts={"Put back": done}
    )
