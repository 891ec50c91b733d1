"""Optional restore tests (backup.restore_test): prove each snapshot restores, then clean up.

A volume is created from each EBS snapshot, a DB instance from each RDS snapshot and a cluster
from each Aurora snapshot; once each is available it is deleted again. Cost: the restored
copies bill for as long as they exist (minutes for volumes, typically 10 to 40 minutes for
databases, at the source's instance class), plus the time the run waits for them.

Restored copies are tagged sunset:restore-test=true (and with the run's tags), and the IAM
policy only lets Sunset delete resources that carry that tag.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from sunset.aws import ec2, rds
from sunset.aws.clients import AwsClients
from sunset.context import RunContext
from sunset.errors import AwsCallFailed, BackupDeadlineExceeded, BackupFailed
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import Inventory, Manifest, RestoreTest, SnapshotRecord
from sunset.phases.results import PhaseResult
from sunset.tags import RESTORE_TEST_TAG, backup_tags

READY = "available"
BROKEN = {"error", "failed", "incompatible-restore", "incompatible-parameters", "storage-full"}


class RestoreProgress(BaseModel):
    complete: bool
    passed: int
    total: int
    summary: str


def restored_identifier(run_id: str, source_id: str) -> str:
    """A short RDS-valid name for a restore-test copy, unique to (run, source)."""
    return "sunset-rt-" + hashlib.sha256(f"{run_id}\0{source_id}".encode()).hexdigest()[:16]


def _start(
    aws: AwsClients, journal: Journal, manifest: Manifest, record: SnapshotRecord
) -> RestoreTest:
    inventory: Inventory = manifest.require_inventory()
    tags = {
        **backup_tags(manifest.run_id, manifest.service, record.snapshot_id),
        RESTORE_TEST_TAG: "true",
    }
    status: str
    if record.kind == "ebs":
        zone = next(
            v.availability_zone for v in inventory.volumes if v.volume_id == record.source_id
        )
        volume = journal.change(
            "ec2:CreateVolume (restore test)",
            record.snapshot_id,
            ec2.create_volume_from_snapshot,
            aws.ec2,
            record.snapshot_id,
            zone,
            tags,
        )
        restored, status = volume["VolumeId"], volume["State"]
    elif record.kind == "rds-instance":
        db = next(d for d in inventory.db_instances if d.identifier == record.source_id)
        restored = restored_identifier(manifest.run_id, record.source_id)
        response = journal.change(
            "rds:RestoreDBInstanceFromDBSnapshot (restore test)",
            record.snapshot_id,
            rds.restore_instance,
            aws.rds,
            record.snapshot_id,
            restored,
            db.instance_class or "db.t4g.micro",
            tags,
        )
        status = response["DBInstance"]["DBInstanceStatus"]
    else:
        cluster = next(c for c in inventory.db_clusters if c.identifier == record.source_id)
        restored = restored_identifier(manifest.run_id, record.source_id)
        response = journal.change(
            "rds:RestoreDBClusterFromSnapshot (restore test)",
            record.snapshot_id,
            rds.restore_cluster,
            aws.rds,
            record.snapshot_id,
            restored,
            cluster.engine,
            tags,
        )
        status = response["DBCluster"]["Status"]
    return RestoreTest(
        kind=record.kind,
        snapshot_id=record.snapshot_id,
        source_id=record.source_id,
        restored_id=restored,
        status=status,
        started_at=journal.now(),
    )


def start_restore_tests(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Restore a throw-away copy of every snapshot (once per run, even when retried)."""
    with running_phase(kit, run, "Start restore tests") as (manifest, journal):
        started = {t.snapshot_id for t in manifest.backups.restore_tests}
        for record in manifest.backups.snapshots:
            if record.snapshot_id not in started:
                manifest.backups.restore_tests.append(_start(kit.aws, journal, manifest, record))
                kit.store.save_manifest(manifest)
        total = len(manifest.backups.restore_tests)
    return PhaseResult(phase="Start restore tests", summary=f"{total} restore test(s) started")


def _current_status(aws: AwsClients, test: RestoreTest) -> str:
    described: dict[str, Any] | None
    if test.kind == "ebs":
        described = ec2.volume(aws.ec2, test.restored_id)
        return str(described["State"]) if described else "missing"
    if test.kind == "rds-instance":
        described = rds.describe_instance(aws.rds, test.restored_id)
        return str(described["DBInstanceStatus"]) if described else "missing"
    described = rds.describe_cluster(aws.rds, test.restored_id)
    return str(described["Status"]) if described else "missing"


def _delete(aws: AwsClients, journal: Journal, test: RestoreTest) -> None:
    if test.cleaned_up:
        return
    if test.kind == "ebs":
        journal.change(
            "ec2:DeleteVolume (restore test)",
            test.restored_id,
            ec2.delete_volume,
            aws.ec2,
            test.restored_id,
        )
    elif test.kind == "rds-instance":
        journal.change(
            "rds:DeleteDBInstance (restore test)",
            test.restored_id,
            rds.delete_instance,
            aws.rds,
            test.restored_id,
        )
    else:
        journal.change(
            "rds:DeleteDBCluster (restore test)",
            test.restored_id,
            rds.delete_cluster,
            aws.rds,
            test.restored_id,
        )
    test.cleaned_up = True


def check_restore_tests(run: RunContext, kit: Toolkit) -> RestoreProgress:
    """One poll of the restored copies; a broken one, or the deadline, fails the run."""
    with running_phase(kit, run, "Check restore tests") as (manifest, journal):
        tests = manifest.backups.restore_tests
        for test in tests:
            if test.result != "running":
                continue
            test.status = _current_status(kit.aws, test)
            if test.status == READY:
                test.result = "passed"
                journal.record(
                    "restore test passed",
                    test.snapshot_id,
                    "ok",
                    detail=f"{test.restored_id} {test.status}",
                )
            elif test.status in BROKEN or test.status == "missing":
                test.result = "failed"
                journal.record(
                    "restore test failed",
                    test.snapshot_id,
                    "failed",
                    detail=f"{test.restored_id} {test.status}",
                )
        failed = [t for t in tests if t.result == "failed"]
        running = [t for t in tests if t.result == "running"]
        started = min((t.started_at for t in tests), default=run.started_at)
        late = running and kit.now() > started + timedelta(
            seconds=run.request.backup.deadline_seconds
        )
        if failed or late:
            for test in tests:
                _delete(kit.aws, journal, test)
            what = failed or running
            listing = ", ".join(f"{t.snapshot_id} -> {t.restored_id} ({t.status})" for t in what)
            error = BackupFailed if failed else BackupDeadlineExceeded
            verdict = "failed" if failed else "not finished by backup.deadline_seconds"
            raise error(
                f"restore test {verdict}: {listing}; "
                "the copies were deleted and nothing was removed or stopped"
            )
    passed = len(tests) - len(running)
    return RestoreProgress(
        complete=not running,
        passed=passed,
        total=len(tests),
        summary=f"{passed}/{len(tests)} restore test(s) passed",
    )


def clean_up_restore_tests(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Delete every restored copy; the manifest keeps what was restored and what came of it."""
    with running_phase(kit, run, "Clean up restore tests") as (manifest, journal):
        for test in manifest.backups.restore_tests:
            _delete(kit.aws, journal, test)
            kit.store.save_manifest(manifest)
        total = len(manifest.backups.restore_tests)
    return PhaseResult(
        phase="Clean up restore tests", summary=f"{total} restored copy(ies) deleted"
    )


def delete_leftovers(aws: AwsClients, journal: Journal, manifest: Manifest) -> list[str]:
    """On the incident path: delete every restored copy still there; name those that remain."""
    remaining = []
    for test in manifest.backups.restore_tests:
        try:
            _delete(aws, journal, test)
        except AwsCallFailed:
            remaining.append(test.restored_id)
    return remaining
