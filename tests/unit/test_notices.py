"""Notices: the JSON document beside the text, the SNS size cap, and the filter policies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sunset import notices
from sunset.aws import sns
from sunset.context import RunContext
from sunset.local.template import load_template
from sunset.manifest import Check, Incident, Inventory, Manifest, RestoreRecord, SnapshotRecord
from sunset.request import parse_request

ROOT = Path(__file__).resolve().parents[2]
STARTED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
REQUEST = parse_request(
    {
        "service": "svc",
        "selector": {"tags": {"app": "svc"}},
        "reason": "Replaced by svc-v2",
        "contacts": ["ml-oncall@example.com"],
        "expected_downtime": "P14D",
        "timezone": "Europe/Paris",
        "approval": {"required": True, "timeout_seconds": 3600},
    }
)
RUN = RunContext(
    run_id="r1",
    service="svc",
    started_at=STARTED,
    request=REQUEST,
    cutoff=STARTED + timedelta(hours=1),
)
REPORT = "s3://bucket/runs/r1/report.md"


def _record() -> RestoreRecord:
    return RestoreRecord(
        restore_id="restore-1",
        mode="rollback",
        started_at=STARTED,
        restored=["route GET /health of HTTP API a1"],
        checks=[Check(name="routes", expected=1, actual=2, ok=False)],
    )


def _every_notice() -> list[notices.Notice]:
    manifest = Manifest(run_id="r1", service="svc", request=REQUEST, started_at=STARTED)
    manifest.backups.snapshots.append(
        SnapshotRecord(
            kind="ebs",
            snapshot_id="snap-1",
            source_id="vol-1",
            status="completed",
            created_at=STARTED,
        )
    )
    incident = Incident(failed_step="Stop endpoints", error="E", cause="c", at=STARTED)
    return [
        notices.announced(RUN, Inventory()),
        notices.approval_requested(RUN, Inventory(), "TOKEN-123", STARTED + timedelta(hours=2)),
        notices.cancelled(RUN, "the approval was rejected: not yet (by carol)"),
        notices.started(RUN),
        notices.backed_up(RUN, manifest),
        notices.access_removed(RUN, ["route GET /health of HTTP API a1"]),
        notices.stopped(RUN, notices.StopOutcome(stopped=["endpoint llm"], left_running=["db"])),
        notices.completed(RUN, manifest, REPORT),
        notices.incident(
            "r1", "svc", "Back up", "E", "c", "state", ["ml-oncall@example.com"], "next"
        ),
        notices.rolled_back(RUN, incident, _record(), REPORT),
        notices.restored(RUN, _record(), REPORT),
        notices.restore_failed(RUN, _record(), "Verify restore", "E", "c", incident),
    ]


FACTS = {
    "ANNOUNCED": {
        "cutoff",
        "timezone",
        "cutoff_local",
        "notice_seconds",
        "reason",
        "expected_downtime",
        "downtime_seconds",
        "resumption_plan",
        "approval_required",
        "inventory",
        "impact",
        "target",
    },
    "APPROVAL": {
        "expires_at",
        "task_token",
        "approve_command",
        "reject_command",
        "reason",
        "expected_downtime",
        "downtime_seconds",
        "resumption_plan",
        "inventory",
    },
    "CANCELLED": {"why"},
    "STARTED": {"next"},
    "BACKED_UP": {"snapshots", "captured", "verified", "comparisons", "restore_tests_passed"},
    "ACCESS_REMOVED": {"removed"},
    "STOPPED": {"stopped", "left_running", "restarted_by_aws"},
    "COMPLETED": {
        "removed_or_stopped",
        "actions_recorded",
        "validation",
        "report",
        "resumption_plan",
    },
    "INCIDENT": {"failed_step", "error", "cause", "what_next"},
    "ROLLED_BACK": {"failed_step", "error", "cause", "restored", "comparisons", "report"},
    "RESTORED": {"restore_id", "restored", "comparisons", "report"},
}
RESTORE_FAILED_FACTS = {
    "restore_id",
    "mode",
    "failed_step",
    "error",
    "cause",
    "service_back",
    "restored",
    "still_missing",
    "shutdown_failure",
    "restore_command",
}


def test_every_notice_has_a_json_document_with_the_text_and_the_facts_of_its_phase() -> None:
    for notice in _every_notice():
        # When
        document = json.loads(json.dumps(notice.document()))  # fails on a datetime left in
        # Then
        assert document == {
            "schema": "sunset.notice/1",
            "phase": notice.phase,
            "severity": notice.severity,
            "service": "svc",
            "run_id": "r1",
            "subject": notice.subject,
            "text": notice.body,
            "contacts": ["ml-oncall@example.com"],
            "facts": document["facts"],
            "truncated": False,
        }
        restore_failed = notice.phase == "INCIDENT" and "rollback FAILED" in notice.subject
        expected = RESTORE_FAILED_FACTS if restore_failed else FACTS[notice.phase]
        assert set(document["facts"]) == expected, notice.phase


def test_facts_say_what_the_text_says() -> None:
    by_phase = {n.phase: n for n in _every_notice()[:8]}
    # The announcement: when in UTC and local time, how long, from the same request
    announced = by_phase["ANNOUNCED"].facts
    assert announced["cutoff"] == "2026-11-25T09:00:00Z"
    assert announced["cutoff_local"] == "2026-11-25T10:00:00+01:00"
    assert (announced["notice_seconds"], announced["downtime_seconds"]) == (3600, 14 * 86_400)
    assert announced["approval_required"] is True and announced["impact"] is None
    assert announced["inventory"]["counts"]["sagemaker_endpoints"] == 0
    # The approval: the token and the commands the text gives
    approval = by_phase["APPROVAL"]
    assert approval.facts["task_token"] == "TOKEN-123" and "\nTOKEN-123\n" in approval.body
    assert approval.facts["approve_command"] == "sunset approve r1 --by YOUR-NAME"
    assert approval.facts["approve_command"] in approval.body
    assert approval.facts["reject_command"] in approval.body
    assert approval.facts["expires_at"] == "2026-11-25T10:00:00Z"
    # The backups, the stop, the end
    assert by_phase["BACKED_UP"].facts["snapshots"] == [
        {"kind": "ebs", "source_id": "vol-1", "snapshot_id": "snap-1", "status": "completed"}
    ]
    assert by_phase["STOPPED"].facts == {
        "stopped": ["endpoint llm"],
        "left_running": ["db"],
        "restarted_by_aws": [],
    }
    completed = by_phase["COMPLETED"].facts
    assert completed["report"] == REPORT and completed["validation"]["proven"] is False


def test_a_permanent_shutdown_has_no_downtime_in_seconds() -> None:
    request = REQUEST.model_copy(update={"expected_downtime": None})
    run = RUN.model_copy(update={"request": request})
    facts = notices.announced(run, Inventory()).facts
    assert (facts["expected_downtime"], facts["downtime_seconds"]) == (None, None)


def _message_parts(message: str) -> tuple[dict[str, Any], dict[str, Any]]:
    per_protocol = json.loads(message)
    assert set(per_protocol) == {"default", "email", "sms", "sqs", "lambda", "http", "https"}
    assert len(per_protocol["sms"]) <= 160
    assert per_protocol["email"] == per_protocol["default"]
    assert len({per_protocol[p] for p in ("sqs", "lambda", "http", "https")}) == 1
    return per_protocol, json.loads(per_protocol["sqs"])


def test_people_get_the_text_and_machines_the_document_in_one_message() -> None:
    notice = notices.started(RUN)
    per_protocol, document = _message_parts(notice.structured_message(sns.MESSAGE_LIMIT_BYTES))
    assert per_protocol["default"] == notice.body
    assert document == notice.document()
    assert per_protocol["sms"] == f"{notice.subject} (run {notice.run_id})"


def test_a_task_token_is_never_cut_to_fit() -> None:
    # Given an approval request whose facts must shrink (a long reason, a token of 2,048
    # characters, the most Step Functions gives)
    token = "T" * 2_048
    notice = notices.approval_requested(
        RUN.model_copy(update={"request": RUN.request.model_copy(update={"reason": "r" * 1_900})}),
        Inventory(),
        token,
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    # When the message must fit in much less than usual
    per_protocol, document = _message_parts(notice.structured_message(40_000))
    # Then the other facts are cut, the token and the commands are whole
    assert document["truncated"] is True
    assert document["facts"]["task_token"] == token
    assert document["facts"]["reason"].endswith(" [cut]")
    assert document["facts"]["approve_command"] == notice.facts["approve_command"]


@pytest.mark.parametrize(
    "cause",
    [
        "x" * 1_000_000,
        # the worst case for JSON: every character escaped twice, or several bytes in UTF-8
        'é\n"\\\x01😀' * 200_000,
    ],
    ids=["long", "escaped-and-multibyte"],
)
def test_a_huge_cause_is_cut_so_the_message_fits_in_sns(cause: str) -> None:
    # Given an incident whose cause and state run to megabytes
    notice = notices.incident("r1", "svc", "Back up", "E", cause, cause, [], "next")
    # When
    budget = sns.MESSAGE_LIMIT_BYTES - sns.attributes_size(notice.attributes())
    message = notice.structured_message(budget)
    # Then the message fits, the text says it was cut and where the rest is
    assert len(message.encode("utf-8")) <= budget
    assert len(notice.body) <= notices.TEXT_LIMIT
    per_protocol, document = _message_parts(message)
    assert "The run's report (runs/r1/report.md" in per_protocol["default"]
    assert document["truncated"] is True and document["text"] == per_protocol["default"]
    assert document["facts"].get("failed_step", "Back up") == "Back up"


@mock_aws
def test_sns_delivers_the_document_to_sqs_and_filters_on_the_attributes() -> None:
    # Given a topic with a chat-ops queue (no policy) and an on-call queue (critical only)
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="t")["TopicArn"]
    queues = {}
    for name, policy in (("chat-ops", None), ("on-call", notices.FILTER_POLICIES["on-call"])):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        boto3.client("sns", region_name="us-east-1").subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes={"FilterPolicy": json.dumps(policy)} if policy else {},
        )
        queues[name] = url
    notifier = notices.Notifier(boto3.client("sns", region_name="us-east-1"), topic)
    # When a STARTED and a huge INCIDENT are published
    notifier.send(notices.started(RUN))
    notifier.send(notices.incident("r1", "svc", "Back up", "E", "x" * 500_000, "s", [], "n"))

    # Then chat-ops got both documents, on-call only the incident
    def received(name: str) -> list[dict[str, Any]]:
        batch = sqs.receive_message(QueueUrl=queues[name], MaxNumberOfMessages=10)
        return [json.loads(json.loads(m["Body"])["Message"]) for m in batch.get("Messages", [])]

    assert [d["phase"] for d in received("chat-ops")] == ["STARTED", "INCIDENT"]
    (incident,) = received("on-call")
    assert (incident["schema"], incident["facts"]["failed_step"]) == ("sunset.notice/1", "Back up")


def test_the_template_subscribes_people_and_approvers_with_the_policies_of_notices() -> None:
    template = load_template(ROOT / "template.yaml")
    subscriptions = {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SNS::Subscription"
    }
    audience = {"PeopleSubscription": "people", "ApproversSubscription": "approvers"}
    assert set(subscriptions) == set(audience)
    for logical_id, properties in subscriptions.items():
        assert properties["FilterPolicyScope"] == "MessageAttributes"
        assert properties["FilterPolicy"] == notices.FILTER_POLICIES[audience[logical_id]]
