"""The whole decommission, through the real state machine and handlers, asserting on AWS state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sunset.local import Sandbox
from sunset.local.sample import SampleService, seed_sample_service
from tests.conftest import Inbox, artifact, manifest_of

RUN_ID = "chat-assistant-2026-11-25"


def _tags(tag_list: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tag_list}


class TestOneDecommission:
    """What one decommission of the sample service did: one run, read by each test (none of
    them changes anything)."""

    @pytest.fixture(scope="class")
    def world(self) -> Iterator[tuple[Sandbox, SampleService, Inbox, Any]]:
        with Sandbox() as sandbox:
            service = seed_sample_service(sandbox.session)
            inbox = Inbox(sandbox)
            run = sandbox.run("decommission", service.request(), name=RUN_ID)
            assert run.status == "SUCCEEDED", run.cause
            yield sandbox, service, inbox, run

    @pytest.fixture
    def sandbox(self, world: tuple[Sandbox, SampleService, Inbox, Any]) -> Sandbox:
        return world[0]

    @pytest.fixture
    def service(self, world: tuple[Sandbox, SampleService, Inbox, Any]) -> SampleService:
        return world[1]

    @pytest.fixture
    def inbox(self, world: tuple[Sandbox, SampleService, Inbox, Any]) -> Inbox:
        return world[2]

    @pytest.fixture
    def finished(self, world: tuple[Sandbox, SampleService, Inbox, Any]) -> Any:
        return world[3]

    def test_run_walks_the_runbook_in_order(self, finished: Any) -> None:
        # Then
        assert finished.states_entered == [
            "Prepare",
            "Several targets?",
            "Discover resources",
            "Announce",
            "Dry run?",
            "Notice period",
            "Approval required?",
            "Back up",
            "Back up paused?",
            "Check backups",
            "Backups complete?",
            "Verify backups",
            "Restore test?",
            "Checkpoint: backups verified",
            "Remove API routes",
            "Remove API routes paused?",
            "Stop endpoints",
            "Stop paused?",
            "Plan or validate?",
            "Validate shutdown",
            "Shutdown settled?",
            "Report",
            "Decommissioned",
        ]
        assert finished.output["run_id"] == RUN_ID
        assert finished.output["status"] == "SUCCEEDED"

    def test_endpoints_are_gone_but_configs_models_and_autoscaling_capture_are_kept(
        self, sandbox: Sandbox, service: SampleService, finished: Any
    ) -> None:
        sagemaker = sandbox.client("sagemaker")
        # Then the endpoints are deleted
        assert sagemaker.list_endpoints()["Endpoints"] == []
        # and their configs and models remain for a restore
        for config in service.endpoint_configs:
            assert sagemaker.describe_endpoint_config(EndpointConfigName=config)
        for model in service.models:
            assert sagemaker.describe_model(ModelName=model)
        # and autoscaling was deregistered, its policies kept in the manifest
        targets = sandbox.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="sagemaker"
        )["ScalableTargets"]
        assert targets == []
        manifest = manifest_of(sandbox, RUN_ID)
        for endpoint in service.endpoints:
            capture = manifest["backups"]["endpoints"][endpoint]
            assert capture["endpoint"]["EndpointName"] == endpoint
            assert capture["tags"] == service.tags
            assert capture["scalable_targets"][0]["MaxCapacity"] == 8
            assert capture["scaling_policies"][0]["PolicyType"] == "TargetTrackingScaling"
            assert capture["models"][0]["PrimaryContainer"]["Image"].endswith(":3.1") or capture[
                "models"
            ][0]["PrimaryContainer"]["Image"].endswith(":2.0")

    def test_http_routes_are_removed_and_the_api_with_its_integrations_kept(
        self, sandbox: Sandbox, service: SampleService, finished: Any
    ) -> None:
        http = sandbox.client("apigatewayv2")
        # Then
        assert http.get_routes(ApiId=service.http_api_id)["Items"] == []
        assert http.get_integrations(ApiId=service.http_api_id)["Items"]
        capture = manifest_of(sandbox, RUN_ID)["backups"]["http_apis"][service.http_api_id]
        assert sorted(r["RouteKey"] for r in capture["routes"]) == sorted(service.http_route_keys)
        assert [a["AuthorizerType"] for a in capture["authorizers"]] == ["JWT"]

    def test_rest_methods_are_removed_and_the_stage_redeployed(
        self, sandbox: Sandbox, service: SampleService, finished: Any
    ) -> None:
        rest = sandbox.client("apigateway")
        # Then only the tombstone on the root is left
        resources = rest.get_resources(restApiId=service.rest_api_id, embed=["methods"])["items"]
        assert [r["path"] for r in resources] == ["/"]
        assert list(resources[0].get("resourceMethods", {})) == ["ANY"]
        assert resources[0]["resourceMethods"]["ANY"]["methodIntegration"]["type"] == "MOCK"
        # and the stage points at a deployment made by this run
        stage = rest.get_stage(restApiId=service.rest_api_id, stageName=service.rest_stage)
        deployment = rest.get_deployment(
            restApiId=service.rest_api_id, deploymentId=stage["deploymentId"]
        )
        assert RUN_ID in deployment["description"]
        # and the original methods are captured
        capture = manifest_of(sandbox, RUN_ID)["backups"]["rest_apis"][service.rest_api_id]
        paths = {r["path"]: sorted(r.get("resourceMethods", {})) for r in capture["resources"]}
        assert paths["/v1/predict"] == ["POST"] and paths["/v1/embed"] == ["POST"]

    def test_snapshots_exist_and_carry_the_run_tags(
        self, sandbox: Sandbox, service: SampleService, finished: Any
    ) -> None:
        ec2, rds = sandbox.client("ec2"), sandbox.client("rds")
        # Then each service volume has exactly one snapshot of this run
        snapshots = ec2.describe_snapshots(
            Filters=[{"Name": "tag:sunset:run-id", "Values": [RUN_ID]}]
        )["Snapshots"]
        assert sorted(s["VolumeId"] for s in snapshots) == sorted(service.volumes)
        for snapshot in snapshots:
            tags = _tags(snapshot["Tags"])
            assert tags["sunset:service"] == service.name
            assert tags["sunset:source"] == snapshot["VolumeId"]
        # and the databases have snapshots tagged the same way
        instance_snapshot = rds.describe_db_snapshots(
            DBInstanceIdentifier=service.db_instance, SnapshotType="manual"
        )["DBSnapshots"]
        cluster_snapshot = rds.describe_db_cluster_snapshots(
            DBClusterIdentifier=service.db_cluster, SnapshotType="manual"
        )["DBClusterSnapshots"]
        assert len(instance_snapshot) == 1 and len(cluster_snapshot) == 1
        assert _tags(instance_snapshot[0]["TagList"])["sunset:run-id"] == RUN_ID
        assert _tags(cluster_snapshot[0]["TagList"])["sunset:run-id"] == RUN_ID
        # and databases keep running unless the request asks to stop them
        db = rds.describe_db_instances(DBInstanceIdentifier=service.db_instance)["DBInstances"][0]
        assert db["DBInstanceStatus"] == "available"

    def test_protected_volume_is_untouched_and_reported(
        self, sandbox: Sandbox, service: SampleService, finished: Any
    ) -> None:
        ec2 = sandbox.client("ec2")
        # Then nothing was done to it
        snapshots = ec2.describe_snapshots(
            Filters=[{"Name": "volume-id", "Values": [service.protected_volume]}]
        )["Snapshots"]
        assert snapshots == []
        volume = ec2.describe_volumes(VolumeIds=[service.protected_volume])["Volumes"][0]
        assert volume["State"] == "available"
        # and it is named in the manifest and the report
        manifest = manifest_of(sandbox, RUN_ID)
        assert manifest["inventory"]["protected"] == [
            {"kind": "ebs-volume", "resource_id": service.protected_volume}
        ]
        assert f"{service.protected_volume} | PROTECTED" in artifact(sandbox, RUN_ID, "report.md")

    def test_people_receive_one_notice_per_phase_with_filterable_attributes(
        self, service: SampleService, finished: Any, inbox: Inbox
    ) -> None:
        # When
        notices = inbox.notices()
        # Then
        assert [n.phase for n in notices] == [
            "ANNOUNCED",
            "STARTED",
            "BACKED_UP",
            "ACCESS_REMOVED",
            "STOPPED",
            "COMPLETED",
        ]
        for notice in notices:
            assert notice.attributes["service"] == service.name
            assert notice.attributes["run_id"] == RUN_ID
            assert notice.attributes["severity"] == "info"
            assert notice.subject.startswith(f"[Sunset] {service.name}: ")
            assert len(notice.subject) <= 100
        announced = notices[0].body
        for expected in (
            "Replaced by chat-v2",
            "P14D (14 d)",
            "Run recommission with this run id",
            "ml-oncall@example.com",
            "SageMaker endpoints: 2",
            "Protected, left untouched: ebs-volume",
            "64,800 model invocations",
        ):
            assert expected in announced

    def test_artifacts_record_every_change_with_its_request_id(
        self, sandbox: Sandbox, finished: Any
    ) -> None:
        # When
        audit = [json.loads(line) for line in artifact(sandbox, RUN_ID, "audit.jsonl").splitlines()]
        report = artifact(sandbox, RUN_ID, "report.md")
        manifest = manifest_of(sandbox, RUN_ID)
        # Then every AWS change in the audit trail has a request id and succeeded
        changes = [e for e in audit if ":" in e["action"]]
        assert {e["action"] for e in changes} >= {
            "ec2:CreateSnapshot",
            "rds:CreateDBSnapshot",
            "rds:CreateDBClusterSnapshot",
            "apigatewayv2:DeleteRoute",
            "apigateway:DeleteResource",
            "apigateway:CreateDeployment",
            "application-autoscaling:DeregisterScalableTarget",
            "sagemaker:DeleteEndpoint",
        }
        assert all(e["request_id"] and e["result"] == "ok" for e in changes)
        assert all(e["run_id"] == RUN_ID for e in audit)
        # and every backup comes before the first removal
        first_removal = min(i for i, e in enumerate(audit) if e["phase"] == "Remove API routes")
        last_backup = max(i for i, e in enumerate(audit) if e["phase"] == "Back up")
        assert last_backup < first_removal
        # and the manifest is schema v1 and complete
        assert manifest["schema_version"] == 1 and manifest["outcome"] == "succeeded"
        assert [p["name"] for p in manifest["phases"]] == [
            "Prepare",
            "Discover",
            "Announce",
            "Back up",
            "Check backups",
            "Verify backups",
            "Checkpoint",
            "Remove API routes",
            "Stop endpoints",
            "Validate shutdown",
            "Report",
        ]
        # and the report has the sections a post-mortem needs
        for heading in (
            "## Timeline",
            "## Inventory",
            "## Backups",
            "## What was removed and stopped",
            "## Validation",
            "## Audit trail",
            "## How to restore",
            "## Lessons learned",
        ):
            assert heading in report

    def test_lock_is_released_and_run_recorded(
        self, sandbox: Sandbox, service: SampleService, finished: Any
    ) -> None:
        table = sandbox.outputs["RunsTableName"]
        dynamodb = sandbox.client("dynamodb")
        # Then
        lock = dynamodb.get_item(
            TableName=table, Key={"pk": {"S": f"LOCK#{service.name}"}, "sk": {"S": "LOCK"}}
        )
        assert "Item" not in lock
        run = dynamodb.get_item(
            TableName=table, Key={"pk": {"S": f"RUN#{RUN_ID}"}, "sk": {"S": "RUN"}}
        )
        assert run["Item"]["status"]["S"] == "SUCCEEDED"


def test_databases_are_stopped_when_asked(sandbox: Sandbox, service: SampleService) -> None:
    # When
    run = sandbox.run("decommission", service.request(stop_databases=True), name="stop-dbs")
    # Then
    assert run.status == "SUCCEEDED", run.cause
    rds = sandbox.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier=service.db_instance)["DBInstances"][0]
    assert db["DBInstanceStatus"] == "stopped"
    cluster = rds.describe_db_clusters(DBClusterIdentifier=service.db_cluster)["DBClusters"][0]
    assert cluster["Status"] == "stopped"


def test_the_sandbox_api_is_plain_boto3(sandbox: Sandbox) -> None:
    # Given a service seeded with plain boto3 clients, as DESIGN.md shows
    import boto3

    volume = boto3.client("ec2").create_volume(
        AvailabilityZone="us-east-1a",
        Size=10,
        TagSpecifications=[
            {"ResourceType": "volume", "Tags": [{"Key": "app", "Value": "tiny-model"}]}
        ],
    )["VolumeId"]
    # When
    run = sandbox.run(
        "decommission",
        {"service": "tiny-model", "selector": {"tags": {"app": "tiny-model"}}, "reason": "retired"},
    )
    # Then
    assert run.status == "SUCCEEDED", run.cause
    assert run.output is not None and run.output["counts"] == {"EBS volumes": 1}
    snapshots = boto3.client("ec2").describe_snapshots(
        Filters=[{"Name": "volume-id", "Values": [volume]}]
    )["Snapshots"]
    assert len(snapshots) == 1
