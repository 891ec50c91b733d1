"""Backups you can trust: the wait loop, verification, restore tests and the gate, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sunset.artifacts import ArtifactStore
from sunset.aws.clients import AwsClients
from sunset.journal import Toolkit
from sunset.local import Sandbox
from sunset.local.sample import SampleService
from sunset.notices import Notifier
from sunset.phases.backup import back_up
from sunset.phases.discover import discover
from sunset.phases.prepare import prepare
from sunset.runs import RunsTable
from tests.conftest import Inbox, execution_arn, manifest_of

FAST = {"poll_seconds": 1, "deadline_seconds": 120}


def _service_intact(sandbox: Sandbox, service: SampleService) -> None:
    """The gate held: every route, stage and endpoint is still there."""
    endpoints = sandbox.client("sagemaker").list_endpoints()["Endpoints"]
    assert {e["EndpointName"]: e["EndpointStatus"] for e in endpoints} == dict.fromkeys(
        service.endpoints, "InService"
    )
    http = sandbox.client("apigatewayv2")
    assert {r["RouteKey"] for r in http.get_routes(ApiId=service.http_api_id)["Items"]} >= set(
        service.http_route_keys
    )
    assert len(http.get_stages(ApiId=service.http_api_id)["Items"]) == len(service.http_stages)
    paths = [
        r["path"]
        for r in sandbox.client("apigateway").get_resources(restApiId=service.rest_api_id)["items"]
    ]
    assert "/v1/predict" in paths


def test_the_run_waits_for_pending_snapshots_then_verifies_them(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given snapshots that stay pending for three status reads
    sandbox.snapshots.hold(polls=3)
    # When
    run = sandbox.run("decommission", service.request(backup=FAST), name="waits")
    # Then the state machine polled in its own loop, then went through the checkpoint
    assert run.status == "SUCCEEDED", run.cause
    states = run.states_entered
    assert states.count("Wait for backups") == 2
    assert states.count("Check backups") == 3
    assert states.index("Verify backups") < states.index("Checkpoint: backups verified")
    assert states.index("Checkpoint: backups verified") < states.index("Remove API routes")
    # and every backup is complete and verified, with each comparison on record
    manifest = manifest_of(sandbox, "waits")
    snapshots = manifest["backups"]["snapshots"]
    assert {s["status"] for s in snapshots} == {"completed", "available"}
    assert all(s["completed_at"] for s in snapshots)
    verifications = manifest["backups"]["verifications"]
    assert set(verifications) == {
        *(f"sagemaker-endpoint:{name}" for name in service.endpoints),
        f"http-api:{service.http_api_id}",
        f"rest-api:{service.rest_api_id}",
        *(f"ebs-volume:{volume}" for volume in service.volumes),
        f"rds-instance:{service.db_instance}",
        f"rds-cluster:{service.db_cluster}",
    }
    volume_check = verifications[f"ebs-volume:{service.volumes[0]}"]["checks"]
    assert {c["name"]: (c["expected"], c["actual"], c["ok"]) for c in volume_check}[
        "size (GiB)"
    ] == (200, 200, True)
    assert {c["name"] for c in volume_check} >= {
        "status",
        "progress",
        "encrypted",
        "KMS key",
        "tag sunset:run-id",
        "tag sunset:source",
    }
    audit = [a for a in manifest["actions"] if a["action"] == "verify backup"]
    assert len(audit) == len(verifications) and all(a["result"] == "ok" for a in audit)
    assert [a["result"] for a in manifest["actions"] if a["action"] == "checkpoint"] == ["ok"]


def _vanish_snapshot_tag(sandbox: Sandbox, service: SampleService) -> Callable[..., None]:
    def hook(_function: str, _event: dict[str, Any]) -> None:
        ec2 = sandbox.client("ec2")
        snapshot = ec2.describe_snapshots(
            Filters=[{"Name": "volume-id", "Values": [service.volumes[0]]}]
        )["Snapshots"][0]
        ec2.delete_tags(Resources=[snapshot["SnapshotId"]], Tags=[{"Key": "sunset:run-id"}])

    return hook


def _delete_endpoint_config(sandbox: Sandbox, service: SampleService) -> Callable[..., None]:
    def hook(_function: str, _event: dict[str, Any]) -> None:
        sagemaker = sandbox.client("sagemaker")
        sagemaker.delete_endpoint_config(EndpointConfigName=service.endpoint_configs[1])

    return hook


def _add_route(sandbox: Sandbox, service: SampleService) -> Callable[..., None]:
    def hook(_function: str, _event: dict[str, Any]) -> None:
        http = sandbox.client("apigatewayv2")
        http.create_route(ApiId=service.http_api_id, RouteKey="POST /v2/chat")

    return hook


@pytest.mark.parametrize(
    ("case", "prepare_failure", "backup", "step", "error", "cause"),
    [
        ("ebs-error", "fail:volume", FAST, "Check backups", "BackupFailed", "(error)"),
        ("rds-failed", "fail:db_instance", FAST, "Check backups", "BackupFailed", "(failed)"),
        ("aurora-failed", "fail:db_cluster", FAST, "Check backups", "BackupFailed", "(failed)"),
        (
            "deadline",
            "hold:100",
            {"poll_seconds": 1, "deadline_seconds": 2},
            "Check backups",
            "BackupDeadlineExceeded",
            "backup.deadline_seconds=2",
        ),
        (
            "tag-removed",
            "hook:tag",
            FAST,
            "Verify backups",
            "BackupNotVerified",
            "tag sunset:run-id: expected",
        ),
        (
            "config-deleted",
            "hook:config",
            FAST,
            "Verify backups",
            "BackupNotVerified",
            "config still exists, unchanged: expected",
        ),
        (
            "route-added",
            "hook:route",
            FAST,
            "Verify backups",
            "BackupNotVerified",
            "routes: expected",
        ),
    ],
)
def test_no_backup_failure_gets_past_the_gate(
    sandbox: Sandbox,
    service: SampleService,
    inbox: Inbox,
    case: str,
    prepare_failure: str,
    backup: dict[str, int],
    step: str,
    error: str,
    cause: str,
) -> None:
    # Given one kind of backup failure
    how, _, what = prepare_failure.partition(":")
    if how == "fail":
        source = {
            "volume": service.volumes[1],
            "db_instance": service.db_instance,
            "db_cluster": service.db_cluster,
        }[what]
        sandbox.snapshots.hold(polls=1)
        sandbox.snapshots.fail(source)
    elif how == "hold":
        sandbox.snapshots.hold(polls=int(what))
    else:
        hook = {"tag": _vanish_snapshot_tag, "config": _delete_endpoint_config, "route": _add_route}
        sandbox.before("VerifyBackupsFunction", hook[what](sandbox, service))
    # When
    run = sandbox.run("decommission", service.request(backup=backup), name=case)
    # Then the run stops at that step, on the incident path
    assert run.status == "FAILED"
    assert run.error == error
    assert run.cause is not None and run.cause.startswith(f"{step} failed: {error}: ")
    assert cause in run.cause
    assert "Checkpoint: backups verified" not in run.states_entered
    assert "Remove API routes" not in run.states_entered
    # and nothing was removed: routes, stages and endpoints are all still there
    _service_intact(sandbox, service)
    incident = inbox.notices()[-1]
    assert incident.phase == "INCIDENT" and f"FAILED at {step}" in incident.subject
    assert "nothing was removed or stopped" in incident.body


def test_restore_tests_restore_every_snapshot_then_clean_up(
    sandbox: Sandbox, service: SampleService
) -> None:
    # When
    request = service.request(backup={**FAST, "restore_test": True})
    run = sandbox.run("decommission", request, name="restore-test")
    # Then
    assert run.status == "SUCCEEDED", run.cause
    states = run.states_entered
    for state in ("Start restore tests", "Check restore tests", "Clean up restore tests"):
        assert state in states
    assert states.index("Clean up restore tests") < states.index("Checkpoint: backups verified")
    tests = manifest_of(sandbox, "restore-test")["backups"]["restore_tests"]
    assert {(t["kind"], t["result"], t["cleaned_up"]) for t in tests} == {
        ("ebs", "passed", True),
        ("rds-instance", "passed", True),
        ("rds-cluster", "passed", True),
    }
    assert len(tests) == len(service.volumes) + 2
    # and no restored copy is left behind
    leftovers = sandbox.client("ec2").describe_volumes(
        Filters=[{"Name": "tag:sunset:restore-test", "Values": ["true"]}]
    )["Volumes"]
    assert leftovers == []
    rds = sandbox.client("rds")
    instances = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]]
    clusters = [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]]
    assert not [name for name in instances + clusters if name.startswith("sunset-rt-")]


def test_backing_up_again_in_the_same_run_takes_no_second_snapshot(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given a run whose Back up phase ran, then died before its manifest held the snapshots
    aws = AwsClients(sandbox.session)
    kit = Toolkit(
        aws=aws,
        store=ArtifactStore(aws.s3, sandbox.outputs["ArtifactsBucketName"]),
        runs=RunsTable(aws.dynamodb, sandbox.outputs["RunsTableName"]),
        notifier=Notifier(aws.sns, sandbox.outputs["NotificationTopicArn"]),
    )
    run = prepare(service.request(), "again", datetime.now(UTC), execution_arn("again"), kit)
    discover(run, kit)
    back_up(run, kit)
    manifest = kit.store.load_manifest("again")
    first = {s.source_id: s.snapshot_id for s in manifest.backups.snapshots}
    manifest.backups.snapshots.clear()
    kit.store.save_manifest(manifest)
    # When Back up runs again for the same run id
    back_up(run, kit)
    # Then it adopts the snapshots it had started instead of taking new ones
    again = {s.source_id: s.snapshot_id for s in kit.store.load_manifest("again").backups.snapshots}
    assert again == first
    ec2 = sandbox.client("ec2")
    for volume in service.volumes:
        snapshots = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [volume]}])
        assert len(snapshots["Snapshots"]) == 1
    rds = sandbox.client("rds")
    manual = rds.describe_db_snapshots(
        DBInstanceIdentifier=service.db_instance, SnapshotType="manual"
    )
    assert len(manual["DBSnapshots"]) == 1
    adopted = [a for a in kit.runs.audit_entries("again") if a.action == "adopt snapshot"]
    assert len(adopted) == len(first)


def test_a_later_run_never_touches_an_earlier_runs_snapshots(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given a first run, and a second one over what the first left (volumes, databases)
    first = sandbox.run("decommission", service.request(backup=FAST), name="first")
    second = sandbox.run("decommission", service.request(backup=FAST), name="second")
    # Then both succeeded with snapshots of their own, side by side
    assert first.status == "SUCCEEDED", first.cause
    assert second.status == "SUCCEEDED", second.cause
    rds = sandbox.client("rds")
    manual = rds.describe_db_snapshots(
        DBInstanceIdentifier=service.db_instance, SnapshotType="manual"
    )
    ids = sorted(s["DBSnapshotIdentifier"] for s in manual["DBSnapshots"])
    assert len(ids) == 2 and ids[0] != ids[1]
    by_run = {
        run_id: {s["snapshot_id"] for s in manifest_of(sandbox, run_id)["backups"]["snapshots"]}
        for run_id in ("first", "second")
    }
    assert not by_run["first"] & by_run["second"]


def test_a_restore_test_that_fails_deletes_every_copy_and_removes_nothing(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given a restored volume that disappears before it could be checked
    ec2 = sandbox.client("ec2")

    def copy_lost(_function: str, _event: dict[str, Any]) -> None:
        copies = ec2.describe_volumes(
            Filters=[{"Name": "tag:sunset:restore-test", "Values": ["true"]}]
        )["Volumes"]
        ec2.delete_volume(VolumeId=copies[0]["VolumeId"])

    sandbox.before("CheckRestoreTestsFunction", copy_lost)
    # When
    request = service.request(backup={**FAST, "restore_test": True})
    run = sandbox.run("decommission", request, name="restore-fails")
    # Then the run fails on that test, and no copy is left behind
    assert run.status == "FAILED"
    assert run.error == "BackupFailed"
    assert (run.cause or "").startswith(
        "Check restore tests failed: BackupFailed: restore test failed"
    )
    _service_intact(sandbox, service)
    copies = ec2.describe_volumes(Filters=[{"Name": "tag:sunset:restore-test", "Values": ["true"]}])
    assert copies["Volumes"] == []
    rds = sandbox.client("rds")
    names = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]]
    names += [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]]
    assert not [name for name in names if name.startswith("sunset-rt-")]
    tests = manifest_of(sandbox, "restore-fails")["backups"]["restore_tests"]
    assert all(t["cleaned_up"] for t in tests)


def test_the_checkpoint_itself_refuses_a_backup_that_is_not_on_record(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given a verification that vanished from the manifest between Verify and the checkpoint
    bucket = sandbox.outputs["ArtifactsBucketName"]
    s3 = sandbox.client("s3")

    def verification_lost(_function: str, event: dict[str, Any]) -> None:
        key = f"runs/{event['run']['run_id']}/manifest.json"
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        del manifest["backups"]["verifications"][f"ebs-volume:{service.volumes[0]}"]
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())

    sandbox.before("CheckpointFunction", verification_lost)
    # When
    run = sandbox.run("decommission", service.request(backup=FAST), name="gate-closed")
    # Then
    assert run.status == "FAILED"
    assert run.error == "NotRecoverable"
    assert f"ebs-volume {service.volumes[0]} has no verified backup" in (run.cause or "")
    assert "Remove API routes" not in run.states_entered
    _service_intact(sandbox, service)


def test_an_endpoint_redeployed_after_its_capture_is_not_deleted(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given the LLM endpoint moves to a new config between the backup and the stop
    sagemaker = sandbox.client("sagemaker")
    llm = service.endpoints[0]

    def redeployed(_function: str, _event: dict[str, Any]) -> None:
        sagemaker.create_endpoint_config(
            EndpointConfigName="hotfix-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": service.models[0],
                    "InitialInstanceCount": 4,
                    "InstanceType": "ml.g4dn.xlarge",
                }
            ],
        )
        # moto has no UpdateEndpoint: recreate it under the same name, as a deploy would leave it
        sagemaker.delete_endpoint(EndpointName=llm)
        sagemaker.create_endpoint(EndpointName=llm, EndpointConfigName="hotfix-config")

    sandbox.before("StopFunction", redeployed)
    # When
    run = sandbox.run("decommission", service.request(backup=FAST), name="redeployed")
    # Then the endpoint running the uncaptured config is left alone, and the run says why
    assert run.status == "FAILED"
    assert run.error == "NotRecoverable"
    assert "now runs config hotfix-config" in (run.cause or "")
    # and the rollback (routes back) refuses to call the service "as before" while it runs
    # a config nobody captured
    assert "The rollback failed too, at Verify restore" in (run.cause or "")
    endpoint = sagemaker.describe_endpoint(EndpointName=llm)
    assert endpoint["EndpointConfigName"] == "hotfix-config"
