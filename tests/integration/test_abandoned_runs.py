"""An execution stopped by hand takes none of the state machine's paths: the AbandonedRunRule
closes the run instead (the lock given back, INCIDENT naming the state, nothing rolled back)."""

from __future__ import annotations

from typing import Any

from sunset.local import Sandbox
from sunset.local.api_calls import api_calls
from sunset.local.sample import SampleService
from tests.conftest import FAST, Inbox, denying, lock_holder, manifest_of
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import sample_shape


def _stop_when(sandbox: Sandbox, function: str, execution: list[str]) -> None:
    """Stop the execution right before `function` runs (the function still runs: on AWS a
    Lambda invocation in flight is not stopped with its execution)."""

    def stop(_logical_id: str, _event: Any) -> None:
        if execution:
            sandbox.client("stepfunctions").stop_execution(executionArn=execution.pop())

    sandbox.before(function, stop)


def test_a_run_stopped_in_its_notice_period_gives_the_lock_back_and_says_so(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a run waiting out its notice period
    arn = sandbox.start("decommission", service.request(notice_seconds=600), name="stopped")
    inbox.wait_for("ANNOUNCED")
    assert lock_holder(sandbox, service.name) == "stopped"
    # When someone stops the execution
    sandbox.client("stepfunctions").stop_execution(executionArn=arn)
    run = sandbox.wait(arn)
    # Then it ended ABORTED, the lock is free, and people were told where it stopped
    assert run.status == "ABORTED"
    assert lock_holder(sandbox, service.name) is None
    incident = inbox.wait_for("INCIDENT")
    assert incident.facts["failed_step"] == "Notice period"
    assert incident.facts["error"] == "ExecutionAborted"
    assert "Nothing had been removed or stopped" in incident.body
    manifest = manifest_of(sandbox, "stopped")
    assert manifest["outcome"] == "failed"
    assert manifest["incident"]["error"] == "ExecutionAborted"
    # and a new run of the service may start at once
    again = sandbox.run("decommission", service.request(backup=FAST), name="again")
    assert again.status == "SUCCEEDED", again.cause


def test_a_run_stopped_mid_shutdown_is_not_rolled_back_and_can_be_restored(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    before = service_state(sandbox, sample_shape(service))
    execution: list[str] = []
    _stop_when(sandbox, "StopFunction", execution)
    # When the execution is stopped as Stop endpoints starts (which still runs to its end)
    arn = sandbox.start("decommission", service.request(backup=FAST), name="halted")
    execution.append(arn)
    run = sandbox.wait(arn)
    # Then the run is closed where it stood: lock free, INCIDENT saying how to restore
    assert run.status == "ABORTED"
    assert lock_holder(sandbox, service.name) is None
    incident = inbox.wait_for("INCIDENT")
    assert incident.facts["failed_step"] == "Stop endpoints"
    assert "nothing was rolled back" in incident.body
    assert "sunset restore halted" in incident.body
    assert "ROLLED_BACK" not in inbox.phases()
    # and a recommission brings everything back
    restore = sandbox.run("recommission", {"run_id": "halted", **FAST}, name="back")
    assert restore.status == "SUCCEEDED", restore.cause
    assert service_state(sandbox, sample_shape(service)) == before


def test_a_recommission_stopped_mid_way_gives_its_lock_back_and_says_what_is_back(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a finished decommission, and a recommission stopped as its routes come back
    assert sandbox.run("decommission", service.request(backup=FAST), name="retired").status == (
        "SUCCEEDED"
    )
    execution: list[str] = []
    _stop_when(sandbox, "RestoreRoutesFunction", execution)
    arn = sandbox.start("recommission", {"run_id": "retired", **FAST}, name="cut-short")
    execution.append(arn)
    run = sandbox.wait(arn)
    # Then the restore's lock is free and its failure told, naming the state it was in
    assert run.status == "ABORTED"
    assert lock_holder(sandbox, service.name) is None
    incident = inbox.wait_for("INCIDENT")
    assert incident.facts["failed_step"] == "Restore API routes"
    restore = next(
        r for r in manifest_of(sandbox, "retired")["restores"] if r["restore_id"] == "cut-short"
    )
    assert restore["outcome"] == "failed"
    # and the next recommission finishes the job
    again = sandbox.run("recommission", {"run_id": "retired", **FAST}, name="finish")
    assert again.status == "SUCCEEDED", again.cause


def test_an_incident_its_own_path_could_not_send_is_sent_after_all(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Back up is denied its first snapshot, and the incident path its notice
    failing = denying(
        sandbox, {("BackupFunction", "CreateSnapshot"), ("IncidentFunction", "Publish")}
    )
    # When the run fails in Back up and its INCIDENT cannot be sent
    with api_calls(failing):
        run = sandbox.run("decommission", service.request(backup=FAST), name="mute")
    # Then the state machine's last resort gave the lock back, and the rule on the failed
    # execution sent the INCIDENT the incident path could not, naming the step that failed
    assert run.status == "FAILED"
    assert run.states_entered[-2:] == [
        "Release lock (last resort)",
        "Run failed, incident not reported",
    ]
    assert lock_holder(sandbox, service.name) is None
    incident = inbox.wait_for("INCIDENT")
    assert incident.facts["failed_step"] == "Back up"
    assert inbox.phases().count("INCIDENT") == 1
