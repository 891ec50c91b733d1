"""Stop endpoints: delete the SageMaker endpoints (configs and models kept), optionally stop RDS.

Each resource is read again right before the changes (the endpoints in one ListEndpoints,
each one's protect tag with ListTags): one tagged sunset:protect=true since discovery is
skipped, one already gone or stopped counts as done (a retried phase must not fail on its own
work), and a database that is busy (say, still `backing-up`) is not stopped and is named as
such in the STOPPED notice and the report, never silently passed over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from sunset import notices
from sunset.aws import autoscaling, rds, sagemaker
from sunset.aws.clients import AwsClients
from sunset.context import RunContext
from sunset.journal import Journal, OutOfTime, Toolkit, running_phase
from sunset.manifest import Manifest
from sunset.phases.results import PhaseResult
from sunset.safety import NotRecoverable, planned_changes, require_recoverable
from sunset.tags import is_protected, tag_dict

_STOPPED = {"stopped", "stopping"}
_STOPPABLE = "available"
PROTECTED_SINCE_DISCOVERY = "tagged sunset:protect=true since discovery"


def _delete_endpoints(
    kit: Toolkit, journal: Journal, manifest: Manifest, outcome: notices.StopOutcome
) -> None:
    aws = kit.aws
    endpoints = manifest.require_inventory().endpoints
    for endpoint in endpoints:
        require_recoverable(manifest, "sagemaker-endpoint", endpoint.name)
    if not endpoints:
        return
    # What exists now, and the registered autoscaling targets, in batches right before the
    # deletions: ListEndpoints 100 endpoints a call, DescribeScalableTargets 50 variants a call.
    current_by_name = sagemaker.endpoint_summaries(aws.sagemaker)
    registered_by_id = {
        target["ResourceId"]: target
        for target in autoscaling.scalable_targets(
            aws.autoscaling,
            [
                t["ResourceId"]
                for e in endpoints
                for t in manifest.backups.endpoints[e.name].scalable_targets
            ],
        )
    }
    for endpoint in endpoints:
        resource = f"sagemaker-endpoint/{endpoint.name}"
        current = current_by_name.get(endpoint.name)
        stopped = (
            f"SageMaker endpoint {endpoint.name} (config {endpoint.endpoint_config_name} kept)"
        )
        # Deleted by a paused invocation, or planned by a paused dry run (which deletes
        # nothing): done, whatever ListEndpoints says a second later (its answer may not show
        # the deletion yet, and a second DeleteEndpoint would fail).
        if journal.settled("sagemaker:DeleteEndpoint", resource):
            outcome.stopped.append(stopped)
            continue
        if current is None or current.get("EndpointStatus") == "Deleting":
            # On AWS an endpoint deletes for minutes: a retried step meets its own deletion,
            # which a second DeleteEndpoint would answer with a ValidationException.
            seen = "already deleted" if current is None else "already deleting"
            if journal.adopt("sagemaker:DeleteEndpoint", resource, seen):
                outcome.stopped.append(stopped)
            else:
                journal.record("skip endpoint", resource, "skipped", detail=seen)
                if current is not None:
                    outcome.stopped.append(stopped)
            continue
        # The protect tag is read from ListTags right before the deletion, one call per
        # endpoint: Search's index could miss a tag added moments ago, and this is the last
        # word before a change that cannot be taken back.
        if is_protected(sagemaker.tags_of_existing(aws.sagemaker, endpoint.arn) or {}):
            journal.record("skip endpoint", resource, "skipped", detail=PROTECTED_SINCE_DISCOVERY)
            outcome.left_running.append(
                f"SageMaker endpoint {endpoint.name}: {PROTECTED_SINCE_DISCOVERY}"
            )
            continue
        capture = manifest.backups.endpoints[endpoint.name]
        running = _running_config(aws, capture.endpoint, current)
        if running != endpoint.endpoint_config_name:
            # Someone deployed a new config after the capture: deleting now would lose it.
            raise NotRecoverable(
                f"SageMaker endpoint {endpoint.name} now runs config {running}, not the captured "
                f"{endpoint.endpoint_config_name}; it was not deleted"
            )
        kit.budget.next_unit(f"the deletion of SageMaker endpoint {endpoint.name}")
        # Autoscaling first: a registered target would fight the deletion, and its policies
        # are in the capture for the restore.
        for captured in capture.scalable_targets:
            target = registered_by_id.get(captured["ResourceId"])
            if target is None:
                continue
            journal.change(
                "application-autoscaling:DeregisterScalableTarget",
                target["ResourceId"],
                autoscaling.deregister_target,
                aws.autoscaling,
                target,
            )
        journal.change(
            "sagemaker:DeleteEndpoint",
            resource,
            sagemaker.delete_endpoint,
            aws.sagemaker,
            endpoint.name,
        )
        outcome.stopped.append(stopped)


def _running_config(aws: AwsClients, captured: dict[str, Any], current: dict[str, Any]) -> str:
    """The config the endpoint runs now. ListEndpoints has no config name, but an endpoint
    neither updated nor re-created since the capture (same creation and last-modified times)
    runs the captured one; any other is read again with DescribeEndpoint."""
    then = [sagemaker.instant(captured.get(key)) for key in ("CreationTime", "LastModifiedTime")]
    now = [sagemaker.instant(current.get(key)) for key in ("CreationTime", "LastModifiedTime")]
    if None not in then and then == now:
        return str(captured["EndpointConfigName"])
    described = sagemaker.describe_endpoint(aws.sagemaker, str(current["EndpointName"]))
    # Deleted meanwhile: DeleteEndpoint fails, and the retried step finds it gone.
    return str((described or captured)["EndpointConfigName"])


class _Database(NamedTuple):
    kind: Literal["rds-instance", "rds-cluster"]
    identifier: str


_DATABASE_CALLS: dict[str, tuple[str, Callable[..., Any], Callable[..., Any], str, str]] = {
    "rds-instance": (
        "RDS instance",
        rds.describe_instance,
        rds.stop_instance,
        "rds:StopDBInstance",
        "DBInstanceStatus",
    ),
    "rds-cluster": (
        "Aurora cluster",
        rds.describe_cluster,
        rds.stop_cluster,
        "rds:StopDBCluster",
        "Status",
    ),
}


def _stop_databases(
    kit: Toolkit, journal: Journal, manifest: Manifest, outcome: notices.StopOutcome
) -> None:
    aws = kit.aws
    inventory = manifest.require_inventory()
    targets = [_Database("rds-instance", db.identifier) for db in inventory.db_instances]
    targets += [_Database("rds-cluster", cluster.identifier) for cluster in inventory.db_clusters]
    # A dry run's plan, indexed once for the rule below (a scan per database is quadratic)
    planned = planned_changes(manifest)
    for target in targets:
        kind, identifier = target.kind, target.identifier
        label, describe, stop, action, status_key = _DATABASE_CALLS[kind]
        require_recoverable(manifest, kind, identifier, planned)
        if journal.settled(action, identifier):
            _stopped(journal, manifest, outcome, f"{label} {identifier}")
            continue
        current = describe(aws.rds, identifier)
        resource = f"{kind}/{identifier}"
        status = current[status_key] if current else "deleted"
        if current is None or status in _STOPPED:
            if current is not None and journal.adopt(action, identifier, f"already {status}"):
                _stopped(journal, manifest, outcome, f"{label} {identifier}")
            else:
                journal.record("skip database", resource, "skipped", detail=f"already {status}")
            continue
        if is_protected(tag_dict(current.get("TagList"))):
            journal.record("skip database", resource, "skipped", detail=PROTECTED_SINCE_DISCOVERY)
            outcome.left_running.append(f"{label} {identifier}: {PROTECTED_SINCE_DISCOVERY}")
            continue
        if status != _STOPPABLE:
            reason = f"status is {status!r}; only an available database can be stopped"
            journal.record("skip database", resource, "skipped", detail=reason)
            outcome.left_running.append(f"{label} {identifier}: {reason}")
            continue
        kit.budget.next_unit(f"stopping {label} {identifier}")
        journal.change(action, identifier, stop, aws.rds, identifier)
        _stopped(journal, manifest, outcome, f"{label} {identifier}")


def _stopped(
    journal: Journal, manifest: Manifest, outcome: notices.StopOutcome, database: str
) -> None:
    """A database this run stopped, with the date AWS starts it again if that comes first."""
    outcome.stopped.append(database)
    if rds.restarts_before_return(manifest.request.downtime):
        outcome.restarted_by_aws.append((database, journal.now() + rds.MAX_STOPPED))


def stop_compute(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Deregister autoscaling and delete each endpoint; stop databases when the request says so.

    When its invocation runs short of time it pauses (`more`) before the next change, and the
    ASL runs it again: what it stopped before is found stopped and adopted, so STOPPED, sent
    once at the end, still names everything."""
    outcome = notices.StopOutcome()
    try:
        with running_phase(kit, run, "Stop endpoints") as (manifest, journal):
            kit.runs.require_lock(run.lock, run.run_id)
            _delete_endpoints(kit, journal, manifest, outcome)
            if run.request.stop_databases:
                _stop_databases(kit, journal, manifest, outcome)
            kit.store.save_manifest(manifest)
            journal.notify(kit.notifier, notices.stopped(run, outcome))
    except OutOfTime as paused:
        return PhaseResult(phase="Stop endpoints", summary=str(paused), more=True)
    counts = {"Stopped": len(outcome.stopped), "Left running": len(outcome.left_running)}
    done = "would be stopped (dry run)" if journal.dry_run else "stopped"
    summary = f"{len(outcome.stopped)} resource(s) {done}"
    if outcome.left_running:
        summary += f", {len(outcome.left_running)} left running"
    return PhaseResult(phase="Stop endpoints", summary=summary, counts=counts)
