"""Stop endpoints: delete the SageMaker endpoints (configs and models kept), optionally stop RDS."""

from __future__ import annotations

from sunset import notices
from sunset.aws import autoscaling, rds, sagemaker
from sunset.context import RunContext
from sunset.journal import Toolkit, running_phase
from sunset.phases.results import PhaseResult
from sunset.safety import require_recoverable

_STOPPABLE = {"available"}


def stop_compute(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Deregister autoscaling and delete each endpoint; stop databases when the request says so."""
    aws = kit.aws
    stopped: list[str] = []
    with running_phase(kit, run, "Stop endpoints") as (manifest, journal):
        inventory = manifest.require_inventory()
        for endpoint in inventory.endpoints:
            require_recoverable(manifest, "sagemaker-endpoint", endpoint.name)
            capture = manifest.backups.endpoints[endpoint.name]
            # Autoscaling first: a registered target would fight the deletion, and its
            # policies are already in the capture for the restore.
            registered = autoscaling.scalable_targets(
                aws.autoscaling, [t["ResourceId"] for t in capture.scalable_targets]
            )
            for target in registered:
                journal.change(
                    "application-autoscaling:DeregisterScalableTarget",
                    target["ResourceId"],
                    autoscaling.deregister_target,
                    aws.autoscaling,
                    target,
                )
            if sagemaker.describe_endpoint(aws.sagemaker, endpoint.name) is None:
                continue  # already gone: a retried phase must not fail on its own work
            journal.change(
                "sagemaker:DeleteEndpoint",
                f"sagemaker-endpoint/{endpoint.name}",
                sagemaker.delete_endpoint,
                aws.sagemaker,
                endpoint.name,
            )
            stopped.append(
                f"SageMaker endpoint {endpoint.name} (config {endpoint.endpoint_config_name} kept)"
            )
        if run.request.stop_databases:
            for instance in inventory.db_instances:
                require_recoverable(manifest, "rds-instance", instance.identifier)
                if instance.status in _STOPPABLE:
                    journal.change(
                        "rds:StopDBInstance",
                        instance.identifier,
                        rds.stop_instance,
                        aws.rds,
                        instance.identifier,
                    )
                    stopped.append(f"RDS instance {instance.identifier}")
            for cluster in inventory.db_clusters:
                require_recoverable(manifest, "rds-cluster", cluster.identifier)
                if cluster.status in _STOPPABLE:
                    journal.change(
                        "rds:StopDBCluster",
                        cluster.identifier,
                        rds.stop_cluster,
                        aws.rds,
                        cluster.identifier,
                    )
                    stopped.append(f"Aurora cluster {cluster.identifier}")
        kit.store.save_manifest(manifest)
        journal.notify(kit.notifier, notices.stopped(run, stopped))
    return PhaseResult(
        phase="Stop endpoints",
        summary=f"{len(stopped)} resource(s) stopped",
        counts={"Stopped": len(stopped)},
    )
