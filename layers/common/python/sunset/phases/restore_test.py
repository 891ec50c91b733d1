"""Optional restore tests (backup.restore_test): prove each snapshot restores, then clean up.

A volume is created from each EBS snapshot, a DB instance from each RDS snapshot, and a cluster
from each Aurora snapshot together with one instance in it (a cluster with no instance proves
little); once each copy is available it is deleted again. Copies are restored into the source's
subnet group, security groups and parameter/option groups, so an account without a default VPC
tests what a real restore would do.

Cost: the copies bill for as long as they exist (minutes for volumes, typically 10 to 40 minutes
for databases, at the source's instance class), and the run waits that much longer.

Every copy is tagged sunset:restore-test=true with the run's tags, and has a name (RDS) or tags
(EBS) derived from the run and the snapshot: a retried phase adopts the copy it had started, and
the incident path finds every copy even if the manifest never recorded it. The IAM policies only
let Sunset delete resources that carry the tag.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from sunset.aws import ec2, rds
from sunset.aws.clients import AwsClients
from sunset.aws.errors import error_code, retry_as
from sunset.context import RunContext
from sunset.errors import AwsCallFailed, BackupDeadlineExceeded, BackupFailed, SunsetError
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import Manifest, RestoreTest, SnapshotRecord
from sunset.phases.results import PhaseResult
from sunset.tags import RESTORE_TEST_TAG, backup_tags

READY = "available"
# The statuses that mean "still on its way"; anything else that is not READY is a failure
# (restore-error, incompatible-network, inaccessible-encryption-credentials, ...).
IN_PROGRESS = {
    "ebs": {"creating"},
    "rds-instance": {
        "creating",
        "backing-up",
        "modifying",
        "rebooting",
        "renaming",
        "starting",
        "upgrading",
        "maintenance",
        "storage-optimization",
        "resetting-master-credentials",
        "configuring-enhanced-monitoring",
        "configuring-iam-database-auth",
        "configuring-log-exports",
    },
    "rds-cluster": {
        "creating",
        "backing-up",
        "modifying",
        "migrating",
        "preparing-data-migration",
        "promoting",
        "renaming",
        "starting",
        "upgrading",
        "maintenance",
        "resetting-master-credentials",
    },
}
GONE = {"missing", "deleting", "deleted"}
AURORA_TEST_CLASS = "db.r6g.large"


class CleanUpPending(SunsetError):
    """A copy is still being deleted (an Aurora cluster waits for its instance); retried."""


class RestoreProgress(BaseModel):
    complete: bool
    passed: int
    total: int
    summary: str


def restored_identifier(run_id: str, source_id: str) -> str:
    """A short RDS-valid name for a restore-test copy, unique to (run, source)."""
    return "sunset-rt-" + hashlib.sha256(f"{run_id}\0{source_id}".encode()).hexdigest()[:16]


def _test_of(record: SnapshotRecord, run_id: str, now: datetime, status: str) -> RestoreTest:
    return RestoreTest(
        kind=record.kind,
        snapshot_id=record.snapshot_id,
        source_id=record.source_id,
        restored_id=restored_identifier(run_id, record.source_id),
        instance_id=restored_identifier(run_id, record.source_id) + "-1"
        if record.kind == "rds-cluster"
        else None,
        status=status,
        started_at=now,
    )


def _copy_tags(manifest: Manifest, record: SnapshotRecord) -> dict[str, str]:
    return {
        **backup_tags(manifest.run_id, manifest.service, record.snapshot_id),
        RESTORE_TEST_TAG: "true",
    }


def _request_copy(aws: AwsClients, journal: Journal, manifest: Manifest, test: RestoreTest) -> None:
    """Ask AWS for the copy, adopting one an earlier attempt of this run already started."""
    record = next(s for s in manifest.backups.snapshots if s.snapshot_id == test.snapshot_id)
    inventory = manifest.require_inventory()
    tags = _copy_tags(manifest, record)
    try:
        if test.kind == "ebs":
            earlier = list(ec2.volumes_with_tags(aws.ec2, tags))
            if earlier:
                test.restored_id, test.status = earlier[0]["VolumeId"], earlier[0]["State"]
                journal.record(
                    "adopt restore copy", test.restored_id, "ok", detail=test.snapshot_id
                )
                return
            zone = next(
                v.availability_zone for v in inventory.volumes if v.volume_id == test.source_id
            )
            volume = journal.change(
                "ec2:CreateVolume (restore test)",
                test.snapshot_id,
                ec2.create_volume_from_snapshot,
                aws.ec2,
                test.snapshot_id,
                zone,
                tags,
            )
            test.restored_id, test.status = volume["VolumeId"], volume["State"]
        elif test.kind == "rds-instance":
            db = next(d for d in inventory.db_instances if d.identifier == test.source_id)
            response = journal.change(
                "rds:RestoreDBInstanceFromDBSnapshot (restore test)",
                test.snapshot_id,
                rds.restore_instance,
                aws.rds,
                test.snapshot_id,
                test.restored_id,
                db.instance_class or "db.t4g.micro",
                tags,
                db.placement(),
            )
            test.status = response["DBInstance"]["DBInstanceStatus"]
        else:
            cluster = next(c for c in inventory.db_clusters if c.identifier == test.source_id)
            response = journal.change(
                "rds:RestoreDBClusterFromSnapshot (restore test)",
                test.snapshot_id,
                rds.restore_cluster,
                aws.rds,
                test.snapshot_id,
                test.restored_id,
                cluster.engine,
                tags,
                cluster.placement(),
            )
            test.status = response["DBCluster"]["Status"]
    except AwsCallFailed as exc:
        if exc.code not in {"DBInstanceAlreadyExists", "DBClusterAlreadyExistsFault"}:
            raise
        test.status = _status(aws, test)
        journal.record("adopt restore copy", test.restored_id, "ok", detail=test.snapshot_id)


def start_restore_tests(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Restore a throw-away copy of every snapshot (once per run, even when retried)."""
    with running_phase(kit, run, "Start restore tests") as (manifest, journal):
        known = {t.snapshot_id: t for t in manifest.backups.restore_tests}
        for record in manifest.backups.snapshots:
            test = known.get(record.snapshot_id)
            if test is None:
                # On record before the call: a crash right after it still leaves a trace.
                test = _test_of(record, run.run_id, kit.now(), "requested")
                manifest.backups.restore_tests.append(test)
                kit.store.save_manifest(manifest)
            if test.status == "requested":
                _request_copy(kit.aws, journal, manifest, test)
                kit.store.save_manifest(manifest)
        total = len(manifest.backups.restore_tests)
    return PhaseResult(phase="Start restore tests", summary=f"{total} restore test(s) started")


def _status(aws: AwsClients, test: RestoreTest, instance: bool = False) -> str:
    if test.kind == "ebs":
        volume = ec2.volume(aws.ec2, test.restored_id)
        return str(volume["State"]) if volume else "missing"
    if test.kind == "rds-instance" or instance:
        identifier = (test.instance_id if instance else test.restored_id) or ""
        return rds.database_status(aws.rds, "rds-instance", identifier) or "missing"
    return rds.database_status(aws.rds, "rds-cluster", test.restored_id) or "missing"


def _advance(aws: AwsClients, journal: Journal, manifest: Manifest, test: RestoreTest) -> None:
    """Read one copy's status; an Aurora cluster gets its instance once it is available."""
    test.status = _status(aws, test)
    if test.kind == "rds-cluster" and test.status == READY and test.instance_id:
        if _status(aws, test, instance=True) == "missing":
            cluster = next(
                c
                for c in manifest.require_inventory().db_clusters
                if c.identifier == test.source_id
            )
            try:
                journal.change(
                    "rds:CreateDBInstance (restore test)",
                    test.restored_id,
                    rds.create_cluster_instance,
                    aws.rds,
                    test.restored_id,
                    test.instance_id,
                    cluster.engine,
                    cluster.member_instance_class or AURORA_TEST_CLASS,
                    _copy_tags(
                        manifest,
                        next(
                            s
                            for s in manifest.backups.snapshots
                            if s.snapshot_id == test.snapshot_id
                        ),
                    ),
                )
            except AwsCallFailed as exc:
                if exc.code != "DBInstanceAlreadyExists":
                    raise
        test.status = _status(aws, test, instance=True)
    if test.status == READY:
        test.result = "passed"
        journal.record(
            "restore test passed", test.snapshot_id, "ok", detail=f"{test.restored_id} available"
        )
    elif test.status not in IN_PROGRESS[test.kind]:
        test.result = "failed"
        journal.record(
            "restore test failed",
            test.snapshot_id,
            "failed",
            detail=f"{test.restored_id} {test.status}",
        )


def check_restore_tests(run: RunContext, kit: Toolkit) -> RestoreProgress:
    """One poll of the restored copies; a broken one, or the deadline, fails the run."""
    with running_phase(kit, run, "Check restore tests") as (manifest, journal):
        tests = manifest.backups.restore_tests
        for test in tests:
            if test.result == "running":
                _advance(kit.aws, journal, manifest, test)
        failed = [t for t in tests if t.result == "failed"]
        running = [t for t in tests if t.result == "running"]
        started = min((t.started_at for t in tests), default=run.started_at)
        late = running and kit.now() > started + timedelta(
            seconds=run.request.backup.deadline_seconds
        )
        if failed or late:
            remaining = delete_copies(kit.aws, journal, manifest)
            what = failed or running
            listing = ", ".join(f"{t.snapshot_id} -> {t.restored_id} ({t.status})" for t in what)
            error = BackupFailed if failed else BackupDeadlineExceeded
            verdict = "failed" if failed else "not finished by backup.deadline_seconds"
            left = (
                f"; still to delete: {', '.join(remaining)}"
                if remaining
                else "; the copies are being deleted"
            )
            raise error(f"restore test {verdict}: {listing}{left}; nothing was removed or stopped")
    passed = len(tests) - len(running)
    return RestoreProgress(
        complete=not running,
        passed=passed,
        total=len(tests),
        summary=f"{passed}/{len(tests)} restore test(s) passed",
    )


def _delete(aws: AwsClients, journal: Journal, test: RestoreTest) -> None:
    """Delete one copy; one already gone or being deleted counts as cleaned up."""
    if test.cleaned_up:
        return
    if test.kind == "ebs":
        if _status(aws, test) not in GONE:
            journal.change(
                "ec2:DeleteVolume (restore test)",
                test.restored_id,
                ec2.delete_volume,
                aws.ec2,
                test.restored_id,
            )
        test.cleaned_up = True
        return
    instance = test.restored_id if test.kind == "rds-instance" else test.instance_id
    if instance and _status(aws, test, instance=test.kind == "rds-cluster") not in GONE:
        journal.change(
            "rds:DeleteDBInstance (restore test)", instance, rds.delete_instance, aws.rds, instance
        )
    if test.kind == "rds-cluster" and _status(aws, test) not in GONE:
        try:
            journal.change(
                "rds:DeleteDBCluster (restore test)",
                test.restored_id,
                rds.delete_cluster,
                aws.rds,
                test.restored_id,
            )
        except AwsCallFailed as exc:
            if exc.code != "InvalidDBClusterStateFault":
                raise
            raise CleanUpPending(
                f"{test.restored_id} waits for its instance to be deleted"
            ) from exc
    test.cleaned_up = True


def delete_copies(aws: AwsClients, journal: Journal, manifest: Manifest) -> list[str]:
    """Try to delete every copy this run started, including any an earlier attempt never got to
    record; return the ones that could not be deleted (yet)."""
    remaining = []
    for record in manifest.backups.snapshots:
        if not any(t.snapshot_id == record.snapshot_id for t in manifest.backups.restore_tests):
            orphan = _test_of(record, manifest.run_id, journal.now(), "unknown")
            orphan.result = "failed"
            try:
                if record.kind == "ebs":
                    found = list(ec2.volumes_with_tags(aws.ec2, _copy_tags(manifest, record)))
                    if not found:
                        continue
                    orphan.restored_id = found[0]["VolumeId"]
                elif _status(aws, orphan) in GONE:
                    continue
            except (ClientError, BotoCoreError) as exc:
                if retry_as(exc) is not None:
                    raise  # throttled or passing: the step is retried, the copy looked for again
                # The incident path must still tell people: name what could not be looked for
                # (a target's role that stopped letting Sunset in, say).
                why = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
                remaining.append(f"any copy of {record.snapshot_id} (not looked for: {why})")
                continue
            manifest.backups.restore_tests.append(orphan)
    for test in manifest.backups.restore_tests:
        try:
            _delete(aws, journal, test)
        except (ClientError, BotoCoreError) as exc:
            if retry_as(exc) is not None:
                raise
            remaining.append(test.restored_id)
        except (AwsCallFailed, CleanUpPending):
            remaining.append(test.restored_id)
    return remaining


def clean_up_restore_tests(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Delete every restored copy; the manifest keeps what was restored and what came of it."""
    with running_phase(kit, run, "Clean up restore tests") as (manifest, journal):
        errors: list[Exception] = []
        for test in manifest.backups.restore_tests:
            try:
                _delete(kit.aws, journal, test)
            except (AwsCallFailed, CleanUpPending) as exc:
                errors.append(exc)
        kit.store.save_manifest(manifest)
        if errors:
            # Every copy was tried; the first problem decides whether the state retries.
            raise errors[0]
        total = len(manifest.backups.restore_tests)
    return PhaseResult(
        phase="Clean up restore tests", summary=f"{total} restored copy(ies) deleted"
    )


def delete_leftovers(aws: AwsClients, journal: Journal, manifest: Manifest) -> list[str]:
    """On the incident path: delete every restored copy still there; name those that remain."""
    if not manifest.request.backup.restore_test:
        return []
    return delete_copies(aws, journal, manifest)
