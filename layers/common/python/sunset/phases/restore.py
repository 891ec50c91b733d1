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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sunset.aws import autoscaling, rds, sagemaker
from sunset.aws.clients import AwsClients
from sunset.context import (
    BeginRestoreEvent,
    FailureEvent,
    RestoreContext,
    RestoreStart,
    RestoreStepEvent,
    RunContext,
)
from sunset.errors import (
    AwsCallFailed,
    InvalidRequest,
    RestoreDeadlineExceeded,
    RestoreFailed,
    readable_cause,
)
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import (
    Action,
    EndpointCapture,
    Incident,
    Manifest,
    RestoreMode,
    RestoreRecord,
)
from sunset.phases.prepare import held, reach_target, record_target
from sunset.phases.results import PhaseResult
from sunset.request import MAX_POLLS, parse_recommission
from sunset.tags import as_tag_list, is_protected, settable

# How long a rollback waits for endpoints and databases to come back before it gives up, and
# the shortest poll that keeps its wait loop inside one execution's history.
ROLLBACK_DEADLINE_SECONDS = 3_600
ROLLBACK_MIN_POLL_SECONDS = -(-ROLLBACK_DEADLINE_SECONDS // MAX_POLLS)
_ENDPOINT_BUSY = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}
_DB_STARTS: dict[str, tuple[str, Callable[..., Any]]] = {
    "rds-instance": ("rds:StartDBInstance", rds.start_instance),
    "rds-cluster": ("rds:StartDBCluster", rds.start_cluster),
}
_DB_STOPS = {"rds:StopDBInstance": "rds-instance", "rds:StopDBCluster": "rds-cluster"}
PROTECTED = "tagged sunset:protect=true: left alone"


def restore_lock_holder(restore_id: str) -> str:
    """Who holds the service's lock during a recommission. Prefixed: an execution name is
    unique per state machine only, and a restore must never pass for a decommission run."""
    return f"restore:{restore_id}"


def _open_record(manifest: Manifest, restore_id: str, mode: RestoreMode, now: datetime) -> None:
    """Open the restore's record, or keep the one a retried Begin step already opened."""
    if any(r.restore_id == restore_id and r.outcome == "running" for r in manifest.restores):
        return
    manifest.restores.append(RestoreRecord(restore_id=restore_id, mode=mode, started_at=now))


@contextmanager
def collecting_failures(broken: list[str]) -> Iterator[None]:
    """Note why one resource cannot come back, and go on with the next: one failure must not
    keep the others down. The caller raises the failures together once all had their turn."""
    try:
        yield
    except (RestoreFailed, AwsCallFailed) as exc:
        broken.append(str(exc))


class ComputeStatus(PhaseResult):
    ready: bool


# ---------------------------------------------------------------------------- beginning


def begin_recommission(event: BeginRestoreEvent, kit: Toolkit) -> RestoreStart:
    """Validate the input, read the run's manifest, take the service's lock.

    Each refusal happens before anything changes: a bad input or a dry run's id
    (InvalidRequest), a run with no
    manifest or one of a schema this version does not read (ManifestError), a service locked by
    another run (ServiceLocked).
    """
    request = parse_recommission(event.input)
    manifest = kit.store.load_manifest(request.run_id)
    if manifest.request.dry_run:
        raise InvalidRequest(
            f"invalid request: run_id: {request.run_id} was a dry run; it changed nothing, so "
            "there is nothing to restore"
        )
    target = manifest.request.target
    if target is not None:
        # As Prepare does: a role Sunset can no longer assume refuses the restore up front.
        reach_target(target, event.restore_id, kit, f"run {request.run_id}'s target.role_arn")
    run = RunContext.of(manifest)
    holder = restore_lock_holder(event.restore_id)
    restore = RestoreContext(
        restore_id=event.restore_id,
        mode="recommission",
        lock_holder=holder,
        started_at=event.started_at,
        poll_seconds=request.poll_seconds,
        deadline_seconds=request.deadline_seconds,
    )
    # Held through the whole wait for compute, like a decommission's lock (prepare.lock_lifetime).
    kit.runs.acquire_lock(
        run.lock, holder, kit.now(), kit.lock_ttl_seconds + request.deadline_seconds
    )
    try:
        kit.runs.put_run(
            event.restore_id, run.service, "RUNNING", event.started_at, restores=run.run_id
        )
        with running_phase(kit, run, "Begin restore") as (manifest, journal):
            _open_record(manifest, event.restore_id, "recommission", kit.now())
            journal.record(
                "lock service", f"service/{run.service}", "ok", detail=held(run.lock, holder)
            )
            if target is not None:
                record_target(journal, target)
    except BaseException:
        kit.runs.release_lock(run.lock, holder)
        raise
    return RestoreStart(run=run, restore=restore)


def begin_rollback(event: FailureEvent, kit: Toolkit) -> RestoreContext:
    """Record why the run failed and open its rollback, under the run's own lock.

    The lock is taken again (a no-op while the run holds it): should it have expired and gone
    to another run, ServiceLocked sends this run to the incident path instead.
    """
    if event.run is None:
        raise RestoreFailed("a rollback needs the run context that Prepare returns")
    run = event.run
    error = event.error.get("Error", "Unknown")
    cause = readable_cause(event.error.get("Cause", ""))
    kit.runs.acquire_lock(
        run.lock, run.run_id, kit.now(), kit.lock_ttl_seconds + ROLLBACK_DEADLINE_SECONDS
    )
    with running_phase(kit, run, "Begin rollback") as (manifest, journal):
        manifest.incident = Incident(
            failed_step=event.failed_step, error=error, cause=cause, at=kit.now()
        )
        _open_record(manifest, run.run_id, "rollback", kit.now())
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
        poll_seconds=max(run.request.backup.poll_seconds, ROLLBACK_MIN_POLL_SECONDS),
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
    tags = as_tag_list(settable(capture.tags))
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
    """Register each captured target that is not registered, and put each captured policy that
    is missing (by name): a retry after a crash between the two finishes the job."""
    wanted = [t["ResourceId"] for t in capture.scalable_targets]
    registered = {t["ResourceId"] for t in autoscaling.scalable_targets(aws.autoscaling, wanted)}
    for target in capture.scalable_targets:
        resource_id = target["ResourceId"]
        if resource_id not in registered:
            journal.change(
                "application-autoscaling:RegisterScalableTarget",
                resource_id,
                autoscaling.register_target,
                aws.autoscaling,
                target,
            )
            record.restored.append(
                f"autoscaling of {resource_id}: "
                f"{target.get('MinCapacity')}-{target.get('MaxCapacity')} instances"
            )
        live = autoscaling.scaling_policies(aws.autoscaling, resource_id)
        present = {policy["PolicyName"] for policy in live}
        for policy in capture.scaling_policies:
            if policy["ResourceId"] != resource_id or policy["PolicyName"] in present:
                continue
            journal.change(
                "application-autoscaling:PutScalingPolicy",
                f"{resource_id}/policy/{policy['PolicyName']}",
                autoscaling.put_policy,
                aws.autoscaling,
                policy,
            )
            record.restored.append(f"scaling policy {policy['PolicyName']} of {resource_id}")


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
            as_tag_list(settable(capture.tags)),
        )
        record.restored.append(f"SageMaker endpoint {name} (config {config})")
        return f"endpoint {name}: Creating"
    if is_protected(sagemaker.tags_of(aws.sagemaker, current["EndpointArn"])):
        journal.record("skip endpoint", f"sagemaker-endpoint/{name}", "skipped", detail=PROTECTED)
        return None
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
    action, start = _DB_STARTS[kind]
    status = rds.database_status(aws.rds, kind, identifier)
    if status is None:
        raise RestoreFailed(
            f"{kind} {identifier}, stopped by this run, no longer exists: restore it from its "
            "snapshot in the manifest"
        )
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
    pending: list[str | None] = []
    broken: list[str] = []
    with running_phase(kit, run, "Restart compute") as (manifest, journal):
        kit.runs.require_lock(run.lock, restore.lock_holder)
        record = manifest.restore(restore.restore_id)
        for endpoint in manifest.require_inventory().endpoints:
            capture = manifest.backups.endpoints.get(endpoint.name)
            if capture is None:
                continue  # never captured, so never deleted: nothing to bring back
            with collecting_failures(broken):
                pending.append(_endpoint_back(kit.aws, journal, record, endpoint.name, capture))
        for kind, identifier in stopped_by_run(kit.runs.audit_entries(run.run_id)):
            with collecting_failures(broken):
                pending.append(_database_back(kit.aws, journal, record, kind, identifier))
        waiting = [what for what in pending if what]
        if broken:
            raise RestoreFailed("; ".join(broken) + "; no route was put back")
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
