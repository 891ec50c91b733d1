"""Back up: snapshot what holds data, capture the configuration of what will be removed.

Every snapshot carries the sunset:run-id, sunset:service and sunset:source tags. Its identifier
includes the run id and a hash of it, so two runs never collide and a retried phase finds the
snapshot it already started in the manifest instead of starting a second one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sunset import notices
from sunset.aws import autoscaling, ec2, http_api, rds, rest_api, sagemaker
from sunset.aws.clients import AwsClients
from sunset.context import RunContext
from sunset.errors import AwsCallFailed, ResourceVanished
from sunset.journal import Journal, OutOfTime, Toolkit, running_phase
from sunset.manifest import (
    SNAPSHOT_ACTION,
    EndpointCapture,
    EndpointRecord,
    HttpApiCapture,
    Manifest,
    RestApiCapture,
    SnapshotRecord,
)
from sunset.phases.results import PhaseResult
from sunset.tags import RUN_ID_TAG, SERVICE_TAG, SOURCE_TAG, backup_tags, tag_dict

Clock = Callable[[], datetime]
SnapshotKind = Literal["rds-instance", "rds-cluster"]


def snapshot_identifier(run_id: str, source_id: str) -> str:
    """An RDS-valid snapshot name unique to (run, source): letters, digits, single hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{source_id}-{run_id}".lower()).strip("-")
    digest = hashlib.sha256(f"{run_id}\0{source_id}".encode()).hexdigest()[:10]
    return f"sunset-{slug[:200].strip('-')}-{digest}"


def _earlier_snapshots(manifest: Manifest, aws: AwsClients) -> dict[str, dict[str, Any]]:
    """This run's EBS snapshots that did not fail, by the volume they copy: one paginated
    DescribeSnapshots for the whole run rather than one per volume (the benchmark's N=1000
    spent minutes there; docs/PERFORMANCE.md)."""
    tags = {RUN_ID_TAG: manifest.run_id, SERVICE_TAG: manifest.service}
    return {
        tag_dict(snapshot.get("Tags")).get(SOURCE_TAG, ""): snapshot
        for snapshot in ec2.snapshots_tagged(aws.ec2, tags)
        if snapshot["State"] != "error"
    }


def _snapshot_volumes(manifest: Manifest, journal: Journal, kit: Toolkit) -> None:
    aws, now = kit.aws, kit.now
    # A dry run records no snapshot, so a resumed one knows what it planned from the journal.
    snapshotted = {s.source_id for s in manifest.backups.snapshots if s.kind == "ebs"}
    pending = [
        volume
        for volume in manifest.require_inventory().volumes
        if volume.volume_id not in snapshotted
        and not journal.planned(SNAPSHOT_ACTION["ebs-volume"], volume.volume_id)
    ]
    # EBS snapshot ids are chosen by AWS: a snapshot this run started in an attempt that died
    # before saving the manifest is found by its tags, never taken twice.
    earlier_by_volume = _earlier_snapshots(manifest, aws) if pending else {}
    for volume in pending:
        kit.budget.next_unit(f"the snapshot of {volume.volume_id}")
        tags = backup_tags(manifest.run_id, manifest.service, volume.volume_id)
        earlier = earlier_by_volume.get(volume.volume_id)
        if earlier:
            snapshot = earlier
            journal.record(
                "adopt snapshot",
                snapshot["SnapshotId"],
                "ok",
                detail=f"started earlier for {volume.volume_id}",
            )
        else:
            snapshot = journal.change(
                SNAPSHOT_ACTION["ebs-volume"],
                volume.volume_id,
                ec2.create_snapshot,
                aws.ec2,
                volume.volume_id,
                f"Sunset run {manifest.run_id}: backup of {volume.volume_id} ({manifest.service})",
                tags,
            )
            if snapshot is None:
                continue  # a dry run: planned, and there is no snapshot to record
        manifest.backups.snapshots.append(
            SnapshotRecord(
                kind="ebs",
                snapshot_id=snapshot["SnapshotId"],
                source_id=volume.volume_id,
                status=snapshot["State"],
                created_at=now(),
            )
        )


@dataclass(frozen=True)
class _DatabaseSnapshots:
    """How one kind of RDS snapshot is taken and read back."""

    action: str
    create: Callable[..., dict[str, Any]]
    describe: Callable[[Any, str], dict[str, Any]]
    response_key: str
    already_exists: str


_DATABASE_SNAPSHOTS: dict[SnapshotKind, _DatabaseSnapshots] = {
    "rds-instance": _DatabaseSnapshots(
        SNAPSHOT_ACTION["rds-instance"],
        rds.create_instance_snapshot,
        rds.instance_snapshot,
        "DBSnapshot",
        "DBSnapshotAlreadyExists",
    ),
    "rds-cluster": _DatabaseSnapshots(
        SNAPSHOT_ACTION["rds-cluster"],
        rds.create_cluster_snapshot,
        rds.cluster_snapshot,
        "DBClusterSnapshot",
        "DBClusterSnapshotAlreadyExistsFault",
    ),
}


def _snapshot_database(
    manifest: Manifest,
    journal: Journal,
    aws: AwsClients,
    now: Clock,
    kind: SnapshotKind,
    source: tuple[str, str],
) -> None:
    """Snapshot one database that has none on record (`_snapshot_databases` skips the rest)."""
    identifier, arn = source
    how = _DATABASE_SNAPSHOTS[kind]
    snapshot_id = snapshot_identifier(manifest.run_id, identifier)
    try:
        response = journal.change(
            how.action,
            identifier,
            how.create,
            aws.rds,
            identifier,
            snapshot_id,
            backup_tags(manifest.run_id, manifest.service, arn),
        )
        if response is None:
            return  # a dry run: planned, and there is no snapshot to record
        snapshot = response[how.response_key]
    except AwsCallFailed as exc:
        # The name is unique to this run and source, so an existing snapshot is this run's
        # own, started by an attempt that died before the manifest was saved.
        if exc.code != how.already_exists:
            raise
        snapshot = how.describe(aws.rds, snapshot_id)
        journal.record(
            "adopt snapshot", snapshot_id, "ok", detail=f"started earlier for {identifier}"
        )
    manifest.backups.snapshots.append(
        SnapshotRecord(
            kind=kind,
            snapshot_id=snapshot_id,
            source_id=identifier,
            status=snapshot["Status"],
            created_at=now(),
        )
    )


def _snapshot_databases(manifest: Manifest, journal: Journal, kit: Toolkit) -> None:
    inventory = manifest.require_inventory()
    sources: list[tuple[SnapshotKind, str, str]] = [
        ("rds-instance", db.identifier, db.arn) for db in inventory.db_instances
    ]
    sources += [("rds-cluster", db.identifier, db.arn) for db in inventory.db_clusters]
    for kind, identifier, arn in sources:
        if journal.planned(SNAPSHOT_ACTION[kind], identifier):
            continue  # a resumed dry run: planned by an earlier invocation
        if manifest.backups.snapshot_for(kind, identifier):
            continue  # taken, or adopted, by an earlier attempt or invocation
        kit.budget.next_unit(f"the snapshot of {identifier}")
        _snapshot_database(manifest, journal, kit.aws, kit.now, kind, (identifier, arn))


def capture_endpoints(
    aws: AwsClients,
    endpoints: list[EndpointRecord],
    known_configs: dict[str, dict[str, Any]],
    described: dict[str, dict[str, Any]] | None = None,
    known_models: dict[str, dict[str, Any]] | None = None,
) -> dict[str, EndpointCapture]:
    """Each endpoint, its config, its models and its autoscaling, as AWS describes them.

    Reads are shared across endpoints: one Search for the endpoints and their tags, one
    DescribeEndpointConfig per config that discovery did not already read (configs are
    immutable), one DescribeModel per model not in `known_models`, and the autoscaling targets
    of 50 variants a call. `described` and `known_models` are Searches already made, for a
    caller that captures in batches.
    """
    if not endpoints:
        return {}
    if described is None:
        described = sagemaker.search_endpoints(aws.sagemaker)
    configs = dict(known_configs)
    models = dict(known_models or {})
    views = {}
    for endpoint in endpoints:
        view = described.get(endpoint.name) or _described_one_by_one(aws, endpoint.name)
        name = view["EndpointConfigName"]
        if name not in configs:
            config = sagemaker.find_endpoint_config(aws.sagemaker, name)
            if config is None:
                raise ResourceVanished(
                    f"SageMaker endpoint {endpoint.name} runs endpoint config {name}, which no "
                    "longer exists: its configuration cannot be captured; nothing was removed"
                )
            configs[name] = config
        for model in sagemaker.model_names(configs[name]["ProductionVariants"]):
            if model not in models:
                models[model] = sagemaker.describe_model(aws.sagemaker, model)
        views[endpoint.name] = view
    resource_ids = [
        autoscaling.variant_resource_id(name, variant["VariantName"])
        for name, view in views.items()
        for variant in configs[view["EndpointConfigName"]]["ProductionVariants"]
    ]
    targets: dict[str, list[dict[str, Any]]] = {}
    for target in autoscaling.scalable_targets(aws.autoscaling, resource_ids):
        # ResourceId: endpoint/<endpoint name>/variant/<variant name>
        targets.setdefault(target["ResourceId"].split("/")[1], []).append(target)
    captures = {}
    for name, view in views.items():
        config = configs[view["EndpointConfigName"]]
        own = targets.get(name, [])
        captures[name] = EndpointCapture(
            endpoint={key: value for key, value in view.items() if key != "Tags"},
            endpoint_config=config,
            models=[models[m] for m in sagemaker.model_names(config["ProductionVariants"])],
            tags=tag_dict(view.get("Tags")),
            scalable_targets=own,
            scaling_policies=[
                policy
                for target in own
                for policy in autoscaling.scaling_policies(aws.autoscaling, target["ResourceId"])
            ],
        )
    return captures


def _described_one_by_one(aws: AwsClients, name: str) -> dict[str, Any]:
    """An endpoint Search did not return (its index can lag a change), read directly."""
    described = sagemaker.described_with_tags(aws.sagemaker, name)
    if described is None:
        raise ResourceVanished(
            f"SageMaker endpoint {name} disappeared before its configuration was captured; "
            "nothing was removed"
        )
    return described


def capture_http_api(
    aws: AwsClients, api_id: str, mappings: http_api.DomainMappings
) -> HttpApiCapture:
    api = http_api.get_api(aws.http_apis, api_id)
    if api is None:
        raise ResourceVanished(
            f"HTTP API {api_id} disappeared before its configuration was captured; "
            "nothing was removed"
        )
    routes = http_api.routes(aws.http_apis, api_id)
    return HttpApiCapture(
        api=api,
        routes=routes,
        integrations=http_api.integrations(aws.http_apis, api_id),
        authorizers=http_api.authorizers_of(aws.http_apis, api_id, routes),
        stages=http_api.stages(aws.http_apis, api_id),
        api_mappings=mappings.of(api_id),
    )


def capture_rest_api(aws: AwsClients, api_id: str) -> RestApiCapture:
    api = rest_api.get_api(aws.rest_apis, api_id)
    if api is None:
        raise ResourceVanished(
            f"REST API {api_id} disappeared before its configuration was captured; "
            "nothing was removed"
        )
    return RestApiCapture(
        api=api,
        resources=rest_api.resources(aws.rest_apis, api_id),
        stages=rest_api.stages(aws.rest_apis, api_id),
    )


# Endpoints captured between two checks of the step's time: one Search serves them all.
ENDPOINT_CAPTURE_BATCH = 100


def _capture_configurations(manifest: Manifest, journal: Journal, kit: Toolkit) -> None:
    """Capture what is not captured yet: a resumed step keeps what it captured before."""
    inventory, backups = manifest.require_inventory(), manifest.backups
    pending = [e for e in inventory.endpoints if e.name not in backups.endpoints]
    described = sagemaker.search_endpoints(kit.aws.sagemaker) if pending else {}
    # The models of the configs discovery read, found 100 a call; any other is described.
    configs = inventory.endpoint_configs
    running = {described[e.name]["EndpointConfigName"] for e in pending if e.name in described}
    wanted = {
        model
        for name in running & configs.keys()
        for model in sagemaker.model_names(configs[name]["ProductionVariants"])
    }
    models = sagemaker.search_models(kit.aws.sagemaker, wanted)
    for start in range(0, len(pending), ENDPOINT_CAPTURE_BATCH):
        batch = pending[start : start + ENDPOINT_CAPTURE_BATCH]
        kit.budget.next_unit(f"the capture of SageMaker endpoint {batch[0].name}")
        captures = capture_endpoints(kit.aws, batch, inventory.endpoint_configs, described, models)
        for name, capture in captures.items():
            backups.endpoints[name] = capture
            journal.record("capture configuration", f"sagemaker-endpoint/{name}", "ok")
    http_pending = [a.api_id for a in inventory.http_apis if a.api_id not in backups.http_apis]
    mappings = http_api.DomainMappings(kit.aws.http_apis) if http_pending else None
    for api_id in http_pending:
        assert mappings is not None
        kit.budget.next_unit(f"the capture of HTTP API {api_id}")
        backups.http_apis[api_id] = capture_http_api(kit.aws, api_id, mappings)
        journal.record("capture configuration", f"http-api/{api_id}", "ok")
    for api_id in [a.api_id for a in inventory.rest_apis if a.api_id not in backups.rest_apis]:
        kit.budget.next_unit(f"the capture of REST API {api_id}")
        backups.rest_apis[api_id] = capture_rest_api(kit.aws, api_id)
        journal.record("capture configuration", f"rest-api/{api_id}", "ok")


def back_up(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Send STARTED, start every snapshot, capture every configuration. When its invocation runs
    short of time it pauses (`more`), and the ASL runs it again to go on from there."""
    try:
        with running_phase(kit, run, "Back up") as (manifest, journal):
            kit.runs.require_lock(run.lock, run.run_id)
            journal.notify(kit.notifier, notices.started(run))
            _snapshot_volumes(manifest, journal, kit)
            _snapshot_databases(manifest, journal, kit)
            _capture_configurations(manifest, journal, kit)
            backups = manifest.backups
            # BACKED_UP goes out from the checkpoint, once the backups are complete and verified.
    except OutOfTime as paused:
        return PhaseResult(phase="Back up", summary=str(paused), more=True)
    counts = {
        "Snapshots": len(backups.snapshots),
        "Endpoint configurations": len(backups.endpoints),
        "API configurations": len(backups.http_apis) + len(backups.rest_apis),
    }
    summary = "backups started and configuration captured"
    if journal.dry_run:
        snapshots = sum(
            1
            for a in manifest.actions
            if a.action in SNAPSHOT_ACTION.values() and a.result == "planned"
        )
        summary = f"dry run: {snapshots} snapshot(s) planned, configuration captured"
        counts["Snapshots planned"] = snapshots
    return PhaseResult(phase="Back up", summary=summary, counts=counts)
