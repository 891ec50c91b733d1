"""The world changes under a run, or AWS fails at the worst moment: nothing lost, nothing locked."""

from __future__ import annotations

from typing import Any

import pytest

from sunset.local import Sandbox
from sunset.local.sample import SampleService
from tests.conftest import Inbox, lock_holder, manifest_of


def _artifacts(sandbox: Sandbox, run_id: str) -> set[str]:
    listing = sandbox.client("s3").list_objects_v2(
        Bucket=sandbox.outputs["ArtifactsBucketName"], Prefix=f"runs/{run_id}/"
    )
    return {item["Key"].rsplit("/", 1)[-1] for item in listing.get("Contents", [])}


def test_a_protected_aurora_member_keeps_its_whole_cluster_out(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given one member of the vector cluster is protected
    rds = sandbox.client("rds")
    member = rds.describe_db_instances(DBInstanceIdentifier=f"{service.db_cluster}-1")
    rds.add_tags_to_resource(
        ResourceName=member["DBInstances"][0]["DBInstanceArn"],
        Tags=[{"Key": "sunset:protect", "Value": "true"}],
    )
    # When the databases are stopped
    run = sandbox.run("decommission", service.request(stop_databases=True), name="aurora")
    # Then the cluster was neither snapshotted nor stopped, and the member is reported
    assert run.status == "SUCCEEDED", run.cause
    cluster = rds.describe_db_clusters(DBClusterIdentifier=service.db_cluster)["DBClusters"][0]
    assert cluster["Status"] == "available"
    snapshots = rds.describe_db_cluster_snapshots(
        DBClusterIdentifier=service.db_cluster, SnapshotType="manual"
    )["DBClusterSnapshots"]
    assert snapshots == []
    inventory = manifest_of(sandbox, "aurora")["inventory"]
    assert inventory["db_clusters"] == []
    assert {"kind": "rds-instance", "resource_id": f"{service.db_cluster}-1"} in inventory[
        "protected"
    ]
    # while the standalone database was stopped
    db = rds.describe_db_instances(DBInstanceIdentifier=service.db_instance)["DBInstances"][0]
    assert db["DBInstanceStatus"] == "stopped"


def test_a_route_added_after_the_backup_stops_the_run_before_that_api_is_touched(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given someone adds a route while the run is backing up
    http = sandbox.client("apigatewayv2")

    def route_added(_function: str, _event: dict[str, Any]) -> None:
        http.create_route(ApiId=service.http_api_id, RouteKey="POST /v2/chat")

    sandbox.before("CutAccessFunction", route_added)
    # When
    run = sandbox.run("decommission", service.request(), name="late-route")
    # Then the run fails naming the route, and the API keeps every route and stage
    assert run.status == "FAILED"
    assert run.error == "NotRecoverable"
    assert "POST /v2/chat" in (run.cause or "")
    routes = http.get_routes(ApiId=service.http_api_id)["Items"]
    assert len(routes) == len(service.http_route_keys) + 1
    stages = http.get_stages(ApiId=service.http_api_id)["Items"]
    assert sorted(s["StageName"] for s in stages) == sorted(service.http_stages)
    # and the endpoints were never reached; with nothing removed, the rollback (the default
    # on_failure) had nothing to bring back and says the service runs as before
    assert len(sandbox.client("sagemaker").list_endpoints()["Endpoints"]) == 2
    assert inbox.phases()[-1] == "ROLLED_BACK"
    assert "Nothing needed bringing back." in inbox.notices()[-1].body
    assert lock_holder(sandbox, service.name) is None


@pytest.mark.parametrize("stale_index", [False, True], ids=["fresh-index", "stale-index"])
def test_an_endpoint_protected_since_discovery_is_left_running_and_said_so(
    sandbox: Sandbox, service: SampleService, inbox: Inbox, stale_index: bool
) -> None:
    # Given the LLM endpoint gets protected while the run is cutting access; with a stale
    # index, SageMaker Search's index stopped just before (the worst case of its lag), so it
    # still shows the endpoint untagged
    sagemaker = sandbox.client("sagemaker")
    llm = service.endpoints[0]

    def protect(_function: str, _event: dict[str, Any]) -> None:
        if stale_index:
            sandbox.endpoints.freeze_search()
            sagemaker.search(Resource="Endpoint")
        arn = sagemaker.describe_endpoint(EndpointName=llm)["EndpointArn"]
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "sunset:protect", "Value": "true"}])

    sandbox.before("StopFunction", protect)
    # When
    run = sandbox.run("decommission", service.request(), name="late-protect")
    # Then it still runs (Stop read the tag itself), the other one is gone, and people are told
    assert run.status == "SUCCEEDED", run.cause
    endpoints = sagemaker.list_endpoints()["Endpoints"]
    assert [e["EndpointName"] for e in endpoints] == [llm]
    stopped = next(n for n in inbox.notices() if n.phase == "STOPPED")
    assert "some left RUNNING" in stopped.subject
    assert f"SageMaker endpoint {llm}: tagged sunset:protect=true since discovery" in stopped.body
    skipped = [
        a for a in manifest_of(sandbox, "late-protect")["actions"] if a["result"] == "skipped"
    ]
    assert [(a["action"], a["resource"]) for a in skipped] == [
        ("skip endpoint", f"sagemaker-endpoint/{llm}")
    ]
    index = sagemaker.search(Resource="Endpoint")["Results"]
    index_has_tag = any(t["Key"] == "sunset:protect" for r in index for t in r["Endpoint"]["Tags"])
    assert index_has_tag is not stale_index


def test_http_api_stages_and_domain_mappings_are_removed_and_captured(
    sandbox: Sandbox, service: SampleService
) -> None:
    # When
    run = sandbox.run("decommission", service.request(), name="stages")
    # Then no stage is left to serve an old deployment, and the domain no longer maps the API
    assert run.status == "SUCCEEDED", run.cause
    http = sandbox.client("apigatewayv2")
    assert http.get_stages(ApiId=service.http_api_id)["Items"] == []
    assert http.get_api_mappings(DomainName=service.domain_name)["Items"] == []
    capture = manifest_of(sandbox, "stages")["backups"]["http_apis"][service.http_api_id]
    assert sorted(s["StageName"] for s in capture["stages"]) == sorted(service.http_stages)
    assert [(m["DomainName"], m["ApiMappingKey"]) for m in capture["api_mappings"]] == [
        (service.domain_name, "v1")
    ]


def test_a_websocket_api_of_the_service_is_reported_as_not_handled(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When
    run = sandbox.run("decommission", service.request(), name="websocket")
    # Then it is named in the announcement, so nobody believes it was shut down
    assert run.status == "SUCCEEDED", run.cause
    announced = inbox.notices()[0]
    assert f"NOT handled by Sunset: websocket-api {service.websocket_api_id}" in announced.body
    api = sandbox.client("apigatewayv2").get_api(ApiId=service.websocket_api_id)
    assert api["Name"] == f"{service.name}-stream"


def test_when_sns_is_gone_at_the_end_the_lock_is_still_released_and_evidence_written(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given the topic disappears right before the final report
    topic = sandbox.outputs["NotificationTopicArn"]

    def topic_deleted(_function: str, _event: dict[str, Any]) -> None:
        sandbox.client("sns").delete_topic(TopicArn=topic)

    sandbox.before("ReportFunction", topic_deleted)
    # When
    run = sandbox.run("decommission", service.request(), name="no-sns")
    # Then the run fails, but the service is unlocked and every artifact is written
    assert run.status == "FAILED"
    assert run.states_entered[-4:] == [
        "Report failed",
        "Report incident",
        "Release lock (last resort)",
        "Run failed, incident not reported",
    ]
    assert lock_holder(sandbox, service.name) is None
    assert _artifacts(sandbox, "no-sns") == {
        "manifest.json",
        "audit.jsonl",
        "report.md",
        "report.html",
    }
    manifest = manifest_of(sandbox, "no-sns")
    assert manifest["outcome"] == "failed"
    failed = [a["action"] for a in manifest["actions"] if a["result"] == "failed"]
    # and the rule on the failed execution tried the INCIDENT once more, in vain: on AWS the
    # event then lands in AbandonedRunDeadLetterQueue, for a person to see
    assert failed == ["notify COMPLETED", "notify INCIDENT", "notify INCIDENT"]
    (failure,) = sandbox.execution_events.failures
    assert "AbandonedRunFunction" in failure and "AwsCallFailed" in failure
    sandbox.execution_events.failures.clear()


def test_prepare_failing_after_taking_the_lock_releases_it_and_says_so(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given the artifacts bucket is gone, so the manifest cannot be written
    bucket = sandbox.outputs["ArtifactsBucketName"]

    def bucket_deleted(_function: str, _event: dict[str, Any]) -> None:
        sandbox.client("s3").delete_bucket(Bucket=bucket)

    sandbox.before("PrepareFunction", bucket_deleted)
    # When
    run = sandbox.run("decommission", service.request(), name="no-bucket")
    # Then
    assert run.status == "FAILED"
    assert run.states_entered == ["Prepare", "Report prepare failure", "Prepare failed"]
    assert lock_holder(sandbox, service.name) is None
    # and people were told the run never started, and why
    incident = inbox.wait_for("INCIDENT")
    assert incident.facts["failed_step"] == "Prepare"
    assert "The run never started" in incident.body


def test_a_database_already_stopped_by_someone_else_is_not_stopped_twice(
    sandbox: Sandbox, service: SampleService
) -> None:
    # Given the database is stopped by hand while the run is cutting access
    rds = sandbox.client("rds")

    def stopped_by_hand(_function: str, _event: dict[str, Any]) -> None:
        rds.stop_db_instance(DBInstanceIdentifier=service.db_instance)

    sandbox.before("StopFunction", stopped_by_hand)
    # When
    run = sandbox.run("decommission", service.request(stop_databases=True), name="stopped")
    # Then
    assert run.status == "SUCCEEDED", run.cause
    actions = manifest_of(sandbox, "stopped")["actions"]
    skip = next(
        a
        for a in actions
        if a["resource"] == f"rds-instance/{service.db_instance}" and a["action"] == "skip database"
    )
    assert (skip["result"], skip["detail"]) == ("skipped", "already stopped")
    assert not any(a["action"] == "rds:StopDBInstance" for a in actions)
