"""Backups you can trust: wait for the snapshots, verify every backup, then the checkpoint.

The waiting happens in the state machine (Check backups, a Choice and a Wait, looping), not in a
Lambda: a Lambda would burn its 15 minutes on an Aurora snapshot that takes an hour, and the
execution history shows every poll. Verification compares each backup with its source and
records every comparison; the checkpoint applies the rule in sunset.safety to the whole
inventory and is the only way into "Remove API routes".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from pydantic import BaseModel

from sunset import notices
from sunset.aws import autoscaling, ec2, http_api, rds, rest_api, sagemaker
from sunset.aws.clients import AwsClients
from sunset.context import RunContext
from sunset.errors import BackupDeadlineExceeded, BackupFailed, BackupNotVerified
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import (
    CAPTURED,
    SNAPSHOT_SOURCE_KIND,
    Check,
    EndpointRecord,
    Inventory,
    Manifest,
    ResourceKind,
    SnapshotRecord,
    Verification,
)
from sunset.phases.results import PhaseResult
from sunset.safety import NotRecoverable, gate
from sunset.tags import RUN_ID_TAG, SERVICE_TAG, SOURCE_TAG, tag_dict

COMPLETE = {"ebs": "completed", "rds-instance": "available", "rds-cluster": "available"}
FAILED = {"ebs": {"error"}, "rds-instance": {"failed", "error"}, "rds-cluster": {"failed", "error"}}
BACKUP_PHASE = "Back up"


class BackupProgress(BaseModel):
    """What one poll of the snapshots found; `complete` drives the state machine's Choice."""

    complete: bool
    completed: int
    total: int
    pending: list[str]
    summary: str


def _describe_snapshots(
    aws: AwsClients, records: list[SnapshotRecord]
) -> dict[str, dict[str, Any]]:
    """The current description of each recorded snapshot, by snapshot id."""
    ebs_ids = [r.snapshot_id for r in records if r.kind == "ebs"]
    found = {s["SnapshotId"]: s for s in ec2.snapshots(aws.ec2, ebs_ids)}
    for record in records:
        if record.kind == "rds-instance":
            found[record.snapshot_id] = rds.instance_snapshot(aws.rds, record.snapshot_id)
        elif record.kind == "rds-cluster":
            found[record.snapshot_id] = rds.cluster_snapshot(aws.rds, record.snapshot_id)
    return found


def _status(kind: str, description: dict[str, Any]) -> str:
    return str(description["State"] if kind == "ebs" else description["Status"])


def check_backups(run: RunContext, kit: Toolkit) -> BackupProgress:
    """One poll: record each snapshot's status; fail on an error or when the deadline is past."""
    with running_phase(kit, run, "Check backups") as (manifest, journal):
        records = manifest.backups.snapshots
        descriptions = _describe_snapshots(kit.aws, records)
        now = kit.now()
        for record in records:
            record.status = _status(record.kind, descriptions[record.snapshot_id])
            if record.status == COMPLETE[record.kind] and record.completed_at is None:
                record.completed_at = now
        broken = [r for r in records if r.status in FAILED[r.kind]]
        for record in broken:
            journal.record("snapshot failed", record.snapshot_id, "failed", detail=record.status)
        if broken:
            listing = ", ".join(f"{r.snapshot_id} of {r.source_id} ({r.status})" for r in broken)
            raise BackupFailed(f"snapshot(s) failed: {listing}; nothing was removed or stopped")
        pending = [r for r in records if r.status != COMPLETE[r.kind]]
        started = manifest.phase_started(BACKUP_PHASE) or run.started_at
        deadline = started + timedelta(seconds=run.request.backup.deadline_seconds)
        if pending and now > deadline:
            listing = ", ".join(f"{r.snapshot_id} of {r.source_id} ({r.status})" for r in pending)
            journal.record("backup deadline", "backups", "failed", detail=listing)
            raise BackupDeadlineExceeded(
                f"backups not complete after backup.deadline_seconds="
                f"{run.request.backup.deadline_seconds}: {listing}; nothing was removed or stopped"
            )
    done = len(records) - len(pending)
    return BackupProgress(
        complete=not pending,
        completed=done,
        total=len(records),
        pending=[r.snapshot_id for r in pending],
        summary="dry run: no snapshot to wait for"
        if run.request.dry_run
        else f"{done}/{len(records)} snapshot(s) complete",
    )


def _tag_checks(tags: dict[str, str], manifest: Manifest, source_tag: str) -> list[Check]:
    return [
        Check.compare(f"tag {RUN_ID_TAG}", manifest.run_id, tags.get(RUN_ID_TAG)),
        Check.compare(f"tag {SERVICE_TAG}", manifest.service, tags.get(SERVICE_TAG)),
        Check.compare(f"tag {SOURCE_TAG}", source_tag, tags.get(SOURCE_TAG)),
    ]


def _snapshot_checks(
    record: SnapshotRecord, snapshot: dict[str, Any], inventory: Inventory, manifest: Manifest
) -> list[Check]:
    """Compare a complete snapshot with the resource it was taken from."""
    checks = [Check.compare("status", COMPLETE[record.kind], _status(record.kind, snapshot))]
    if record.kind == "ebs":
        volume = next(v for v in inventory.volumes if v.volume_id == record.source_id)
        checks += [
            Check.compare("progress", "100%", snapshot.get("Progress")),
            Check.compare("volume id", volume.volume_id, snapshot.get("VolumeId")),
            Check.compare("size (GiB)", volume.size_gib, snapshot.get("VolumeSize")),
            Check.compare("encrypted", volume.encrypted, bool(snapshot.get("Encrypted"))),
        ]
        if volume.encrypted:
            checks.append(Check.compare("KMS key", volume.kms_key_id, snapshot.get("KmsKeyId")))
        return checks + _tag_checks(tag_dict(snapshot.get("Tags")), manifest, volume.volume_id)
    if record.kind == "rds-instance":
        db = next(d for d in inventory.db_instances if d.identifier == record.source_id)
        checks += [
            Check.compare("instance", db.identifier, snapshot.get("DBInstanceIdentifier")),
            Check.compare("engine", db.engine, snapshot.get("Engine")),
            Check.compare(
                "allocated storage (GiB)",
                db.allocated_storage_gib,
                snapshot.get("AllocatedStorage"),
            ),
            Check.compare("encrypted", db.encrypted, bool(snapshot.get("Encrypted"))),
        ]
        if db.encrypted:
            checks.append(Check.compare("KMS key", db.kms_key_id, snapshot.get("KmsKeyId")))
        return checks + _tag_checks(tag_dict(snapshot.get("TagList")), manifest, db.arn)
    cluster = next(c for c in inventory.db_clusters if c.identifier == record.source_id)
    checks += [
        Check.compare("cluster", cluster.identifier, snapshot.get("DBClusterIdentifier")),
        Check.compare("engine", cluster.engine, snapshot.get("Engine")),
        Check.compare("encrypted", cluster.encrypted, bool(snapshot.get("StorageEncrypted"))),
    ]
    if cluster.encrypted:
        checks.append(Check.compare("KMS key", cluster.kms_key_id, snapshot.get("KmsKeyId")))
    return checks + _tag_checks(tag_dict(snapshot.get("TagList")), manifest, cluster.arn)


@dataclass(frozen=True)
class _LiveEndpoints:
    """What AWS says now of every endpoint in the capture, read in batches: Search for the
    endpoints and their tags, configs and models listed (or described, when few), and the
    autoscaling targets of 50 variants a call."""

    endpoints: dict[str, dict[str, Any]]
    config_created: dict[str, str]
    model_created: dict[str, str]
    target_ids: set[str]

    @classmethod
    def read(cls, aws: AwsClients, manifest: Manifest) -> _LiveEndpoints:
        captures = manifest.backups.endpoints.values()
        configs = {c.endpoint_config.get("EndpointConfigName", "") for c in captures}
        models = {m.get("ModelName", "") for c in captures for m in c.models}
        variants = [
            autoscaling.variant_resource_id(c.endpoint.get("EndpointName", ""), v["VariantName"])
            for c in captures
            for v in c.endpoint_config.get("ProductionVariants", [])
        ]
        created = sagemaker.creation_times
        endpoints = sagemaker.search_endpoints(aws.sagemaker) if captures else {}
        # One Search's index does not hold yet (an endpoint created moments ago) is read directly.
        for name in (
            {c.endpoint.get("EndpointName", "") for c in captures} - endpoints.keys() - {""}
        ):
            described = sagemaker.described_with_tags(aws.sagemaker, name)
            if described is not None:
                endpoints[name] = described
        return cls(
            endpoints=endpoints,
            config_created=_instants(created(aws.sagemaker, "EndpointConfig", configs - {""})),
            model_created=_instants(created(aws.sagemaker, "Model", models - {""})),
            target_ids={
                t["ResourceId"] for t in autoscaling.scalable_targets(aws.autoscaling, variants)
            },
        )


def _instant(value: Any, absent: str = "not recorded") -> str:
    """A timestamp as one comparable text, whether botocore parsed it or the manifest's JSON
    carried it; `absent` when there is none (never equal to the "missing" of an object that no
    longer exists)."""
    moment = sagemaker.instant(value)
    return moment.astimezone(UTC).isoformat() if moment else absent


def _instants(found: dict[str, Any]) -> dict[str, str]:
    return {name: _instant(value, "no creation time given") for name, value in found.items()}


def _endpoint_checks(
    live: _LiveEndpoints, manifest: Manifest, endpoint: EndpointRecord
) -> list[Check]:
    """The capture is complete and still matches what a restore will need. Endpoint configs
    and models are immutable: one that still exists with its captured creation time is
    unchanged."""
    capture = manifest.backups.endpoints.get(endpoint.name)
    if capture is None:
        return [Check.compare("configuration captured", True, False)]
    config = capture.endpoint_config
    variants = config.get("ProductionVariants", [])
    wanted_models = sagemaker.model_names(variants)
    live_endpoint = live.endpoints.get(endpoint.name)
    checks = [
        Check.compare("endpoint captured", endpoint.name, capture.endpoint.get("EndpointName")),
        Check.compare(
            "tags captured",
            tag_dict(live_endpoint.get("Tags")) if live_endpoint else "missing",
            capture.tags,
        ),
        Check.compare(
            "endpoint runs the captured config",
            endpoint.endpoint_config_name,
            live_endpoint.get("EndpointConfigName") if live_endpoint else "missing",
        ),
        Check.compare(
            "config captured", endpoint.endpoint_config_name, config.get("EndpointConfigName")
        ),
        Check.compare(
            "models captured", wanted_models, sorted(m.get("ModelName", "") for m in capture.models)
        ),
        Check.compare(
            "config still exists, unchanged",
            _instant(config.get("CreationTime")),
            live.config_created.get(endpoint.endpoint_config_name, "missing"),
        ),
    ]
    captured_models = {m.get("ModelName", ""): m for m in capture.models}
    for model in wanted_models:
        checks.append(
            Check.compare(
                f"model {model} still exists, unchanged",
                _instant(captured_models.get(model, {}).get("CreationTime")),
                live.model_created.get(model, "missing"),
            )
        )
    prefix = f"endpoint/{endpoint.name}/variant/"
    checks.append(
        Check.compare(
            "autoscaling targets captured",
            sorted(t for t in live.target_ids if t.startswith(prefix)),
            sorted(t["ResourceId"] for t in capture.scalable_targets),
        )
    )
    return checks


# What makes a route or an integration what it is: a restore must bring back all of it.
_ROUTE_FIELDS = ("RouteId", "RouteKey", "Target", "AuthorizationType", "AuthorizerId")
_INTEGRATION_FIELDS = (
    "IntegrationId",
    "IntegrationType",
    "IntegrationUri",
    "IntegrationMethod",
    "PayloadFormatVersion",
)


def _fields(items: list[dict[str, Any]], names: tuple[str, ...]) -> list[list[Any]]:
    return sorted(([item.get(name) for name in names] for item in items), key=repr)


def _http_api_checks(
    aws: AwsClients, manifest: Manifest, api_id: str, mappings: http_api.DomainMappings
) -> list[Check]:
    capture = manifest.backups.http_apis.get(api_id)
    if capture is None:
        return [Check.compare("configuration captured", True, False)]
    routes = http_api.routes(aws.http_apis, api_id)
    used_authorizers = sorted({r["AuthorizerId"] for r in routes if r.get("AuthorizerId")})
    return [
        Check.compare(
            "routes", _fields(routes, _ROUTE_FIELDS), _fields(capture.routes, _ROUTE_FIELDS)
        ),
        Check.compare(
            "integrations",
            _fields(http_api.integrations(aws.http_apis, api_id), _INTEGRATION_FIELDS),
            _fields(capture.integrations, _INTEGRATION_FIELDS),
        ),
        Check.compare(
            "authorizers", used_authorizers, sorted(a["AuthorizerId"] for a in capture.authorizers)
        ),
        Check.compare(
            "stages",
            sorted(s["StageName"] for s in http_api.stages(aws.http_apis, api_id)),
            sorted(s["StageName"] for s in capture.stages),
        ),
        Check.compare(
            "domain mappings",
            sorted(m["ApiMappingId"] for m in mappings.of(api_id)),
            sorted(m["ApiMappingId"] for m in capture.api_mappings),
        ),
    ]


def _rest_methods(resources: list[dict[str, Any]]) -> list[list[Any]]:
    """Each method with what it is wired to: verb, path, authorization, integration target."""
    return sorted(
        (
            [
                verb,
                resource["path"],
                method.get("authorizationType"),
                method.get("methodIntegration", {}).get("type"),
                method.get("methodIntegration", {}).get("uri"),
            ]
            for resource in resources
            for verb, method in resource.get("resourceMethods", {}).items()
        ),
        key=repr,
    )


def _rest_api_checks(aws: AwsClients, manifest: Manifest, api_id: str) -> list[Check]:
    capture = manifest.backups.rest_apis.get(api_id)
    if capture is None:
        return [Check.compare("configuration captured", True, False)]
    resources = rest_api.resources(aws.rest_apis, api_id)
    missing_integrations = [
        f"{verb} {r['path']}"
        for r in capture.resources
        for verb, method in r.get("resourceMethods", {}).items()
        if "methodIntegration" not in method
    ]
    return [
        Check.compare("methods", _rest_methods(resources), _rest_methods(capture.resources)),
        Check.compare("every method's integration captured", [], missing_integrations),
        Check.compare(
            "stages",
            sorted(s["stageName"] for s in rest_api.stages(aws.rest_apis, api_id)),
            sorted(s["stageName"] for s in capture.stages),
        ),
    ]


def verify_backups(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Compare every backup with its source and record each comparison; fail on any mismatch."""
    with running_phase(kit, run, "Verify backups") as (manifest, journal):
        inventory = manifest.require_inventory()
        now = kit.now()
        descriptions = _describe_snapshots(kit.aws, manifest.backups.snapshots)
        verifications: list[Verification] = []
        for record in manifest.backups.snapshots:
            checks = _snapshot_checks(record, descriptions[record.snapshot_id], inventory, manifest)
            kind = SNAPSHOT_SOURCE_KIND[record.kind]
            verifications.append(
                Verification(
                    kind=kind,
                    resource_id=record.source_id,
                    backup=record.snapshot_id,
                    checks=checks,
                    at=now,
                )
            )
        captured: list[tuple[ResourceKind, str, list[Check]]] = []
        live = _LiveEndpoints.read(kit.aws, manifest)
        mappings = http_api.DomainMappings(kit.aws.http_apis)
        captured += [
            ("sagemaker-endpoint", e.name, _endpoint_checks(live, manifest, e))
            for e in inventory.endpoints
        ]
        captured += [
            ("http-api", a.api_id, _http_api_checks(kit.aws, manifest, a.api_id, mappings))
            for a in inventory.http_apis
        ]
        captured += [
            ("rest-api", a.api_id, _rest_api_checks(kit.aws, manifest, a.api_id))
            for a in inventory.rest_apis
        ]
        for kind, resource_id, checks in captured:
            verifications.append(
                Verification(
                    kind=kind, resource_id=resource_id, backup=CAPTURED, checks=checks, at=now
                )
            )
        for verification in verifications:
            manifest.backups.record_verification(verification)
            _record(journal, verification)
        failed = [v for v in verifications if not v.verified]
        if failed:
            raise BackupNotVerified(
                "backup verification failed: "
                + "; ".join(
                    f"{v.kind} {v.resource_id} ({v.backup}): "
                    + ", ".join(check.describe() for check in v.failures())
                    for v in failed
                )
                + "; nothing was removed or stopped"
            )
    return PhaseResult(
        phase="Verify backups",
        summary=f"{len(verifications)} backup(s) verified",
        counts={"Verified": len(verifications)},
    )


def _record(journal: Journal, verification: Verification) -> None:
    detail = "; ".join(check.evidence() for check in verification.checks)
    journal.record(
        "verify backup",
        f"{verification.kind}/{verification.resource_id}",
        "ok" if verification.verified else "failed",
        detail=f"{verification.backup}: {detail}",
    )


def pass_checkpoint(run: RunContext, kit: Toolkit) -> PhaseResult:
    """The gate before anything is removed: every in-scope resource has a verified backup."""
    with running_phase(kit, run, "Checkpoint") as (manifest, journal):
        problems = gate(manifest)
        if problems:
            journal.record("checkpoint", "backups", "failed", detail="; ".join(problems))
            raise NotRecoverable(
                "checkpoint closed, nothing will be removed: " + "; ".join(problems)
            )
        resources = manifest.require_inventory().backed_up_resources()
        if journal.dry_run:
            verified = sum(1 for v in manifest.backups.verifications.values() if v.verified)
            summary = (
                f"dry run: {verified} configuration(s) verified, "
                f"{len(resources) - verified} snapshot(s) planned first"
            )
        else:
            verified = len(resources)
            summary = f"every one of {verified} backup(s) verified: removal may start"
        journal.record("checkpoint", "backups", "ok", detail=summary)
        kit.store.save_manifest(manifest)
        journal.notify(kit.notifier, notices.backed_up(run, manifest))
    return PhaseResult(phase="Checkpoint", summary=summary, counts={"Verified": verified})
