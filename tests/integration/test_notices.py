"""Who receives what: one message per phase, text for people and JSON for machines, sorted to
each audience by the filter policies of notices.FILTER_POLICIES."""

from __future__ import annotations

from typing import Any

import pytest

from sunset import notices
from sunset.local import Sandbox
from sunset.local.sample import SampleService
from sunset.manifest import REMOVAL_PHASES
from tests.conftest import Inbox, Notice, manifest_of

APPROVAL = {"required": True, "timeout_seconds": 300}
# Three audiences with a policy; chat-ops subscribes with none and gets everything.
AUDIENCES = ("people", "approvers", "on-call", "chat-ops")


@pytest.fixture
def inboxes(sandbox: Sandbox) -> dict[str, Inbox]:
    return {
        name: Inbox(sandbox, f"notices-{name}", notices.FILTER_POLICIES.get(name))
        for name in AUDIENCES
    }


def _received(inboxes: dict[str, Inbox]) -> dict[str, list[str]]:
    return {name: inbox.phases() for name, inbox in inboxes.items()}


def _is_the_document_of(notice: Notice, run_id: str, request: dict[str, Any]) -> None:
    document = notice.document
    assert document["schema"] == "sunset.notice/1"
    assert (document["phase"], document["severity"]) == (
        notice.attributes["phase"],
        notice.attributes["severity"],
    )
    assert (document["run_id"], document["service"]) == (run_id, request["service"])
    assert document["subject"] == notice.subject  # the SNS envelope's, that email shows
    assert document["contacts"] == request["contacts"]
    assert document["truncated"] is False


def test_an_approved_run_tells_each_audience_its_part_in_text_and_json(
    sandbox: Sandbox, service: SampleService, inboxes: dict[str, Inbox]
) -> None:
    # Given a run that needs approval, and the approver's notice
    request = service.request(approval=APPROVAL)
    arn = sandbox.start("decommission", request, name="approved")
    sandbox.wait_for_approval_request("approved")
    asked = inboxes["approvers"].wait_for("APPROVAL")
    # When the approver answers
    sandbox.approve("approved", by="alice")
    run = sandbox.wait(arn)
    assert run.status == "SUCCEEDED", run.cause
    # Then each audience got its notices, in order, and nothing else
    assert _received(inboxes) == {
        "people": ["ANNOUNCED", "COMPLETED"],
        "approvers": ["APPROVAL"],
        "on-call": [],
        "chat-ops": [
            "ANNOUNCED",
            "APPROVAL",
            "STARTED",
            "BACKED_UP",
            "ACCESS_REMOVED",
            "STOPPED",
            "COMPLETED",
        ],
    }
    # and every notice chat-ops got is the JSON document of what people read
    by_phase = {n.phase: n for n in inboxes["chat-ops"].notices()}
    for notice in by_phase.values():
        _is_the_document_of(notice, "approved", request)
    # the approval facts carry the token the text shows and the run waited on
    token = asked.facts["task_token"]
    assert f"Task token:\n{token}\n" in asked.body
    assert asked.facts["approve_command"] == "sunset approve approved --by YOUR-NAME"
    assert by_phase["ANNOUNCED"].facts["approval_required"] is True
    # the backups are the manifest's, and the end names the report and the proof
    manifest = manifest_of(sandbox, "approved")
    assert by_phase["BACKED_UP"].facts["snapshots"] == [
        {key: s[key] for key in ("kind", "source_id", "snapshot_id", "status")}
        for s in manifest["backups"]["snapshots"]
    ]
    completed = inboxes["people"].notices()[-1]
    assert completed.facts["report"] == run.output["report"]
    assert completed.facts["validation"]["proven"] is True
    removed = completed.facts["removed_or_stopped"]
    assert removed == len(
        [
            a
            for a in manifest["actions"]
            if a["phase"] in REMOVAL_PHASES
            and a["result"] == "ok"
            and not a["action"].startswith("notify")
        ]
    )
    assert f"shut down: {removed} change(s) removed or stopped something" in completed.body


def test_a_rejected_run_tells_people_it_was_cancelled_and_why(
    sandbox: Sandbox, service: SampleService, inboxes: dict[str, Inbox]
) -> None:
    # Given a run waiting for approval
    arn = sandbox.start("decommission", service.request(approval=APPROVAL), name="rejected")
    sandbox.wait_for_approval_request("rejected")
    # When it is rejected
    sandbox.reject("rejected", by="carol", reason="the partner migration is not finished")
    assert sandbox.wait(arn).error == "Cancelled"
    # Then
    assert _received(inboxes) == {
        "people": ["ANNOUNCED", "CANCELLED"],
        "approvers": ["APPROVAL"],
        "on-call": [],
        "chat-ops": ["ANNOUNCED", "APPROVAL", "CANCELLED"],
    }
    cancelled = inboxes["chat-ops"].notices()[-1]
    assert cancelled.facts == {
        "why": "the approval was rejected: the partner migration is not finished (by carol)"
    }


def test_an_incident_reaches_on_call_naming_the_failed_step(
    sandbox: Sandbox, service: SampleService, inboxes: dict[str, Inbox]
) -> None:
    # Given a run that halts on failure, and a crash while it stops the endpoints
    def crash(*_args: Any) -> None:
        raise RuntimeError("injected: Stop endpoints crashed")

    sandbox.before("StopFunction", crash)
    # When
    run = sandbox.run("decommission", service.request(on_failure="halt"), name="halted")
    # Then on-call hears of the incident only, people of the start and the incident
    assert run.status == "FAILED"
    assert _received(inboxes) == {
        "people": ["ANNOUNCED", "INCIDENT"],
        "approvers": [],
        "on-call": ["INCIDENT"],
        "chat-ops": ["ANNOUNCED", "STARTED", "BACKED_UP", "ACCESS_REMOVED", "INCIDENT"],
    }
    (incident,) = inboxes["on-call"].notices()
    assert incident.attributes["severity"] == "critical"
    facts = incident.facts
    assert (facts["failed_step"], facts["error"]) == ("Stop endpoints", run.error)
    assert facts["cause"] == "injected: Stop endpoints crashed"
    assert "sunset restore halted" in facts["what_next"]
