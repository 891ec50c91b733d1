"""Shared fixtures: a sandbox with the sample service, and an inbox that receives the notices."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall
from sunset.local.sample import SampleService, seed_sample_service

# Quick polls for backups and restores: the sandbox's snapshots and endpoints are ready at once.
FAST = {"poll_seconds": 1, "deadline_seconds": 60}


@dataclass
class Notice:
    """One notice as an SQS subscriber receives it: the JSON document, in the SNS envelope."""

    subject: str
    body: str
    attributes: dict[str, str]
    document: dict[str, Any]

    @property
    def phase(self) -> str:
        return self.attributes["phase"]

    @property
    def facts(self) -> dict[str, Any]:
        return dict(self.document["facts"])


class Inbox:
    """An SQS queue subscribed to the notification topic: what people would receive.

    With a `filter_policy` (one of notices.FILTER_POLICIES), only what that audience receives.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        name: str = "test-inbox",
        filter_policy: dict[str, list[str]] | None = None,
    ) -> None:
        self._sqs = sandbox.client("sqs")
        self.url = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        policy = (
            {"FilterPolicyScope": "MessageAttributes", "FilterPolicy": json.dumps(filter_policy)}
            if filter_policy is not None
            else {}
        )
        sandbox.client("sns").subscribe(
            TopicArn=sandbox.outputs["NotificationTopicArn"],
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes=policy,
        )
        self._received: list[Notice] = []

    def notices(self) -> list[Notice]:
        while True:
            batch = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return list(self._received)
            for message in messages:
                envelope: dict[str, Any] = json.loads(message["Body"])
                # Published with MessageStructure=json: an SQS subscriber gets the document.
                document: dict[str, Any] = json.loads(envelope["Message"])
                self._received.append(
                    Notice(
                        subject=envelope["Subject"],
                        body=document["text"],
                        attributes={
                            k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()
                        },
                        document=document,
                    )
                )
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def wait_for(self, phase: str, timeout: float = 30) -> Notice:
        """The first notice of `phase`, waiting for it: notices arrive while a run goes on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [n for n in self.notices() if n.phase == phase]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no {phase} notice arrived in {timeout:.0f} s")

    def phases(self) -> list[str]:
        return [notice.phase for notice in self.notices()]


def artifact(sandbox: Sandbox, run_id: str, name: str) -> str:
    """One of the run's artifacts in the bucket: manifest.json, audit.jsonl, report.md."""
    body = sandbox.client("s3").get_object(
        Bucket=sandbox.outputs["ArtifactsBucketName"], Key=f"runs/{run_id}/{name}"
    )["Body"]
    return str(body.read().decode("utf-8"))


def manifest_of(sandbox: Sandbox, run_id: str) -> dict[str, Any]:
    return dict(json.loads(artifact(sandbox, run_id, "manifest.json")))


def routes_of(service: SampleService) -> list[str]:
    """Every route of the sample service, as ACCESS_REMOVED names the routes it removed."""
    return [
        *(f"{key} (HTTP API {service.http_api_id})" for key in service.http_route_keys),
        f"POST /v1/embed (REST API {service.rest_api_id})",
        f"POST /v1/predict (REST API {service.rest_api_id})",
    ]


def denying(sandbox: Sandbox, calls: set[tuple[str, str]]) -> Callable[..., Any]:
    """An api_calls hook: AccessDenied for each (function's logical id, operation) in `calls`,
    every other call made as asked."""
    lambdas = sandbox.lambdas
    assert lambdas is not None

    def failing(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if (lambdas.current, operation) in calls:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "injected"}}, operation)
        return call(client, operation, params)

    return failing


def execution_arn(name: str) -> str:
    """The ARN of a decommission execution in the sandbox: Sunset's own account and Region."""
    return f"arn:aws:states:us-east-1:123456789012:execution:sunset-decommission:{name}"


def lock_holder(sandbox: Sandbox, lock: str) -> str | None:
    """Who holds a lock in the runs table, if anyone: a service's where Sunset runs, or
    service@account/region (sunset.request.lock_name)."""
    item = sandbox.client("dynamodb").get_item(
        TableName=sandbox.outputs["RunsTableName"],
        Key={"pk": {"S": f"LOCK#{lock}"}, "sk": {"S": "LOCK"}},
    )
    return item["Item"]["run_id"]["S"] if "Item" in item else None


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb
        # Every ended execution went through AbandonedRunFunction's rule: it must never fail.
        assert sb.execution_events.failures == []


@pytest.fixture
def service(sandbox: Sandbox) -> SampleService:
    return seed_sample_service(sandbox.session)


@pytest.fixture
def inbox(sandbox: Sandbox) -> Inbox:
    return Inbox(sandbox)
