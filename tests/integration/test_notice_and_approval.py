"""People before machines: the notice period, and the approval gate that a person answers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from sunset.errors import InvalidRequest
from sunset.local import Sandbox
from sunset.local.sample import SampleService
from tests.conftest import Inbox, artifact, lock_holder, manifest_of

APPROVAL = {"required": True, "timeout_seconds": 300}


def _snapshots_of(sandbox: Sandbox, run_id: str) -> list[str]:
    found = sandbox.client("ec2").describe_snapshots(
        Filters=[{"Name": "tag:sunset:run-id", "Values": [run_id]}]
    )["Snapshots"]
    return [snapshot["SnapshotId"] for snapshot in found]


def test_the_notice_period_is_announced_in_both_time_zones_and_waited_for(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When
    request = service.request(notice_seconds=2, timezone="Europe/Paris")
    run = sandbox.run("decommission", request, name="with-notice")
    # Then the announcement said when, in UTC and in Paris time
    assert run.status == "SUCCEEDED", run.cause
    announced = next(n for n in inbox.notices() if n.phase == "ANNOUNCED")
    when = next(line for line in announced.body.splitlines() if line.startswith("When: "))
    assert " UTC (" in when and "Europe/Paris)" in when and "in 2 s" in when
    # and the shutdown waited for the cutoff (moto's Wait truncates the time left to whole
    # seconds, so it may wake up to a second early; AWS waits to the cutoff itself)
    manifest = manifest_of(sandbox, "with-notice")
    started = datetime.fromisoformat(manifest["started_at"])
    backup = next(p for p in manifest["phases"] if p["name"] == "Back up")
    assert datetime.fromisoformat(backup["started_at"]) >= started + timedelta(seconds=1)
    assert run.states_entered.index("Notice period") < run.states_entered.index("Back up")


def test_an_approved_run_goes_on_and_the_approval_is_on_record(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a run that needs approval
    arn = sandbox.start("decommission", service.request(approval=APPROVAL), name="approved")
    sandbox.wait_for_approval_request("approved")
    # Then the person is asked, with what they need to answer
    asked = inbox.wait_for("APPROVAL")
    assert (asked.phase, asked.attributes["severity"]) == ("APPROVAL", "warning")
    assert "sunset approve approved --by YOUR-NAME" in asked.body
    assert "Task token:" in asked.body and _snapshots_of(sandbox, "approved") == []
    # When they approve
    assert sandbox.approve("approved", by="alice") == "run approved approved by alice"
    run = sandbox.wait(arn)
    # Then the run goes on, and the approval is in the audit trail
    assert run.status == "SUCCEEDED", run.cause
    phases = [n.phase for n in inbox.notices()]
    assert phases.index("APPROVAL") < phases.index("STARTED") < phases.index("COMPLETED")
    audit = [json.loads(line) for line in artifact(sandbox, "approved", "audit.jsonl").splitlines()]
    assert any(a["action"] == "approve" and a["detail"] == "by alice" for a in audit)
    # and a second answer is refused
    with pytest.raises(InvalidRequest, match="not waiting for an approval"):
        sandbox.reject("approved", by="bob", reason="too late")


def test_a_rejected_run_is_cancelled_with_nothing_touched(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a run waiting for approval
    arn = sandbox.start("decommission", service.request(approval=APPROVAL), name="rejected")
    sandbox.wait_for_approval_request("rejected")
    # When it is rejected
    sandbox.reject("rejected", by="carol", reason="the partner migration is not finished")
    run = sandbox.wait(arn)
    # Then the run is cancelled, says why, touched nothing and let go of the service
    assert (run.status, run.error) == ("FAILED", "Cancelled")
    assert "the partner migration is not finished" in (run.cause or "")
    cancelled = inbox.notices()[-1]
    assert cancelled.phase == "CANCELLED"
    assert "rejected: the partner migration is not finished (by carol)" in cancelled.body
    assert _snapshots_of(sandbox, "rejected") == []
    endpoints = sandbox.client("sagemaker").list_endpoints()["Endpoints"]
    assert {e["EndpointName"] for e in endpoints} >= set(service.endpoints)
    assert lock_holder(sandbox, service.name) is None
    assert manifest_of(sandbox, "rejected")["outcome"] == "cancelled"
    # and the post-mortem says who said no and why, and that there is nothing to restore
    report = artifact(sandbox, "rejected", "report.md")
    assert "The shutdown of **chat-assistant** was **cancelled** before anything changed" in report
    assert "**Rejected** by carol at " in report
    assert "after it was asked. Reason: the partner migration is not finished" in report
    assert "| reject | ok | by carol: the partner migration is not finished |" in report
    assert "Nothing was removed or stopped, so there is nothing to bring back." in report


def test_no_answer_in_time_cancels_the_run(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When nobody answers within the timeout
    request = service.request(approval={"required": True, "timeout_seconds": 1})
    run = sandbox.run("decommission", request, name="unanswered")
    # Then
    assert (run.status, run.error) == ("FAILED", "Cancelled")
    assert "nobody approved it within 1 s" in inbox.notices()[-1].body
    assert "Not approved: nobody approved it within 1 s." in artifact(
        sandbox, "unanswered", "report.md"
    )
    assert lock_holder(sandbox, service.name) is None
    with pytest.raises(InvalidRequest, match="not waiting for an approval|no longer waits"):
        sandbox.approve("unanswered", by="dave")


def test_a_cutoff_in_the_past_is_refused_naming_the_field(
    sandbox: Sandbox, service: SampleService
) -> None:
    # When
    run = sandbox.run("decommission", service.request(cutoff="2020-01-01T09:00:00Z"), name="past")
    # Then
    assert (run.status, run.error) == ("FAILED", "InvalidRequest")
    assert "cutoff: 2020-01-01T09:00:00Z is not in the future" in (run.cause or "")
    assert lock_holder(sandbox, service.name) is None
