"""Runs that must not go ahead, and runs that fail part-way: what is left, and who is told."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sunset.local import Run, Sandbox
from sunset.local.sample import SampleService, seed_sample_service
from tests.conftest import FAST, Inbox, lock_holder
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import sample_shape

EVENTS = Path(__file__).resolve().parents[2] / "events"
MALFORMED = json.loads((EVENTS / "malformed" / "EXPECTED.json").read_text())
MALFORMED.pop("_comment")


def _untouched(sandbox: Sandbox, service: SampleService) -> None:
    """The sample service is exactly as seeded: nothing backed up, removed or stopped."""
    sagemaker = sandbox.client("sagemaker")
    statuses = {
        e["EndpointName"]: e["EndpointStatus"] for e in sagemaker.list_endpoints()["Endpoints"]
    }
    assert statuses == dict.fromkeys(service.endpoints, "InService")
    routes = sandbox.client("apigatewayv2").get_routes(ApiId=service.http_api_id)["Items"]
    assert sorted(r["RouteKey"] for r in routes) == sorted(service.http_route_keys)
    paths = [
        r["path"]
        for r in sandbox.client("apigateway").get_resources(restApiId=service.rest_api_id)["items"]
    ]
    assert "/v1/predict" in paths
    assert _volume_snapshots(sandbox, service) == []
    rds = sandbox.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier=service.db_instance)["DBInstances"][0]
    assert db["DBInstanceStatus"] == "available"
    manual = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    manual += rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert manual == []
    targets = sandbox.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )["ScalableTargets"]
    assert len(targets) == len(service.endpoints)
    stages = sandbox.client("apigatewayv2").get_stages(ApiId=service.http_api_id)["Items"]
    assert len(stages) == len(service.http_stages)


def _volume_snapshots(sandbox: Sandbox, service: SampleService) -> list[dict[str, Any]]:
    filters = [{"Name": "volume-id", "Values": service.volumes}]
    return list(sandbox.client("ec2").describe_snapshots(Filters=filters)["Snapshots"])


class TestBadInput:
    @pytest.fixture(scope="class")
    def world(self) -> Iterator[tuple[Sandbox, SampleService, Inbox]]:
        with Sandbox() as sandbox:
            yield sandbox, seed_sample_service(sandbox.session), Inbox(sandbox)

    @pytest.mark.parametrize("filename", sorted(MALFORMED))
    def test_is_refused_in_prepare_naming_the_field_and_nothing_is_touched(
        self, world: tuple[Sandbox, SampleService, Inbox], filename: str
    ) -> None:
        sandbox, service, inbox = world
        # Given
        execution_input = json.loads((EVENTS / "malformed" / filename).read_text())
        # When
        run = sandbox.run("decommission", execution_input, name=f"bad-{filename[:-5]}")
        # Then the run ends in Prepare with the field named
        assert run.status == "FAILED"
        assert run.error == "InvalidRequest"
        assert run.cause is not None and MALFORMED[filename] in run.cause
        assert run.states_entered == ["Prepare", "Read refusal", "Request refused"]
        # and nothing was changed, announced, locked or written
        _untouched(sandbox, service)
        assert inbox.notices() == []
        assert lock_holder(sandbox, service.name) is None
        listing = sandbox.client("s3").list_objects_v2(
            Bucket=sandbox.outputs["ArtifactsBucketName"]
        )
        assert listing.get("KeyCount", 0) == 0

    def test_every_malformed_example_is_covered(self) -> None:
        files = {p.name for p in (EVENTS / "malformed").glob("*.json")} - {"EXPECTED.json"}
        assert files == set(MALFORMED)


def test_second_run_for_a_locked_service_is_refused_while_the_first_completes(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a second run started while the first is discovering (it holds the lock)
    second: list[Run] = []

    def start_second_run(_function: str, _event: dict[str, Any]) -> None:
        if not second:
            second.append(sandbox.run("decommission", service.request(), name="second"))

    sandbox.before("DiscoverFunction", start_second_run)
    # When
    first = sandbox.run("decommission", service.request(), name="first")
    # Then the second was refused cleanly, naming the holder, and the first completed
    assert second[0].status == "FAILED"
    assert second[0].error == "ServiceLocked"
    assert "locked by run first" in (second[0].cause or "")
    assert first.status == "SUCCEEDED", first.cause
    # and nobody was told about the refused run
    assert {n.attributes["run_id"] for n in inbox.notices()} == {"first"}
    assert lock_holder(sandbox, service.name) is None


def test_failure_during_backup_sends_incident_and_removes_nothing(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a volume that disappears between discovery and its snapshot
    vanished = service.volumes[1]

    def volume_vanishes(_function: str, _event: dict[str, Any]) -> None:
        sandbox.client("ec2").delete_volume(VolumeId=vanished)

    sandbox.before("BackupFunction", volume_vanishes)
    # When
    run = sandbox.run("decommission", service.request(), name="broken-backup")
    # Then the run fails with a readable cause naming the step and the resource
    assert run.status == "FAILED"
    assert run.error == "AwsCallFailed"
    assert run.cause is not None
    assert run.cause.startswith("Back up failed: AwsCallFailed: ec2:CreateSnapshot on " + vanished)
    assert run.states_entered[-3:] == ["Back up failed", "Report incident", "Run failed"]
    # and no route or endpoint was touched
    endpoints = sandbox.client("sagemaker").list_endpoints()["Endpoints"]
    assert sorted(e["EndpointName"] for e in endpoints) == sorted(service.endpoints)
    routes = sandbox.client("apigatewayv2").get_routes(ApiId=service.http_api_id)["Items"]
    assert len(routes) == len(service.http_route_keys)
    # and people got an INCIDENT, critical, saying what failed and what state things are in
    notices = inbox.notices()
    assert [n.phase for n in notices] == ["ANNOUNCED", "STARTED", "INCIDENT"]
    incident = notices[-1]
    assert incident.attributes["severity"] == "critical"
    assert "FAILED at Back up" in incident.subject
    assert vanished in incident.body
    assert "nothing was removed or stopped" in incident.body
    # and the evidence is written, the lock released, the run recorded as failed
    bucket = sandbox.outputs["ArtifactsBucketName"]
    s3 = sandbox.client("s3")
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key="runs/broken-backup/manifest.json")["Body"].read()
    )
    assert manifest["outcome"] == "failed"
    assert manifest["incident"]["failed_step"] == "Back up"
    # every snapshot taken before the failure is on record, and nothing else
    recorded = {s["snapshot_id"] for s in manifest["backups"]["snapshots"]}
    assert recorded == {s["SnapshotId"] for s in _volume_snapshots(sandbox, service)}
    assert vanished not in {s["source_id"] for s in manifest["backups"]["snapshots"]}
    report = (
        s3.get_object(Bucket=bucket, Key="runs/broken-backup/report.md")["Body"].read().decode()
    )
    assert "## Incident" in report and "**Back up**" in report
    failed_calls = [a for a in manifest["actions"] if a["result"] == "failed"]
    assert [(a["action"], a["resource"]) for a in failed_calls] == [
        ("ec2:CreateSnapshot", vanished)
    ]
    assert lock_holder(sandbox, service.name) is None


def test_explicit_ids_limit_the_run_to_what_is_named(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given the security-incident example: one endpoint and one log group, by id
    execution_input = json.loads((EVENTS / "decommission-explicit-ids.json").read_text())
    # When
    run = sandbox.run("decommission", execution_input, name="explicit")
    # Then only the named endpoint is gone
    assert run.status == "SUCCEEDED", run.cause
    endpoints = sandbox.client("sagemaker").list_endpoints()["Endpoints"]
    assert [e["EndpointName"] for e in endpoints] == ["chat-assistant-embeddings"]
    assert run.output is not None
    assert run.output["counts"] == {"SageMaker endpoints": 1, "Log groups": 2}
    # and the APIs, volumes and databases were left alone
    routes = sandbox.client("apigatewayv2").get_routes(ApiId=service.http_api_id)["Items"]
    assert len(routes) == len(service.http_route_keys)
    assert _volume_snapshots(sandbox, service) == []


def test_an_explicit_id_that_does_not_exist_fails_before_anything_changes(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a typo in an explicit id
    request = service.request(resources={"ebs_volumes": ["vol-0123456789abcdef0"]})
    # When
    run = sandbox.run("decommission", request, name="typo")
    # Then
    assert run.status == "FAILED"
    assert run.error == "ResourceNotFound"
    assert "vol-0123456789abcdef0" in (run.cause or "")
    assert run.cause is not None and run.cause.startswith("Discover resources failed")
    _untouched(sandbox, service)
    assert inbox.phases() == ["INCIDENT"]


def test_a_selector_that_matches_nothing_is_an_error_not_a_silent_success(
    sandbox: Sandbox, service: SampleService
) -> None:
    # When
    request = service.request(selector={"tags": {"app": "chat-asistant"}})
    run = sandbox.run("decommission", request, name="nothing")
    # Then
    assert run.status == "FAILED"
    assert run.error == "NothingToDecommission"
    _untouched(sandbox, service)


def test_a_run_whose_lock_was_taken_over_changes_nothing_more_and_leaves_the_lock(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a run whose lock goes to a newer run while it waits at the checkpoint (as when a
    # run is stuck past its lock's lifetime)
    before = service_state(sandbox, sample_shape(service))
    table = sandbox.outputs["RunsTableName"]

    def taken_over(_function: str, _event: dict[str, Any]) -> None:
        sandbox.client("dynamodb").put_item(
            TableName=table,
            Item={
                "pk": {"S": f"LOCK#{service.name}"},
                "sk": {"S": "LOCK"},
                "run_id": {"S": "newer"},
                "acquired_at": {"S": "2026-11-26T00:00:00+00:00"},
                "expires_at": {"N": "9999999999"},
            },
        )

    sandbox.before("CutAccessFunction", taken_over)
    # When
    run = sandbox.run("decommission", service.request(backup=FAST), name="stale")
    # Then it stopped before removing anything, said why, and left the newer run's lock alone
    assert run.status == "FAILED"
    assert "stale no longer holds the lock on service 'chat-assistant' (held by newer)" in (
        run.cause or ""
    )
    assert service_state(sandbox, sample_shape(service)) == before
    assert lock_holder(sandbox, service.name) == "newer"
    assert inbox.wait_for("INCIDENT").attributes["run_id"] == "stale"
