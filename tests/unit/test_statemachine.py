"""The ASL reads like the runbook and keeps its safety promises, checked on the file itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sunset.local.template import load_template
from sunset.phases.abandoned import _IN_FLIGHT_MARGIN_SECONDS, MAX_WAIT_SECONDS

ROOT = Path(__file__).resolve().parents[2]
MACHINES = {
    name: json.loads((ROOT / "statemachine" / f"{name}.asl.json").read_text())
    for name in ("decommission", "recommission")
}
ASL = MACHINES["decommission"]
STATES: dict[str, Any] = ASL["States"]
RESTORE = MACHINES["recommission"]["States"]
# The restore states both machines run: the recommission, and the decommission's rollback.
SHARED = [name for name in RESTORE if name not in {"Begin restore", "Read refusal"}]
SHARED = [n for n in SHARED if n not in {"Restore refused", "Begin restore failed", "Restored"}]
# A failure in these comes after the first removal: it goes to the rollback decision. Report
# is not among them: when it fails the shutdown has completed, only its paperwork has not.
AFTER_CUT = {"Remove API routes", "Stop endpoints", "Validate shutdown"}
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
DESTRUCTIVE = {"Remove API routes", "Stop endpoints"}
# A run with targets: it only starts runs of this machine, one per target, and follows them.
TARGET_RUNS = {"Start target runs", "Check target runs", "Report target runs"}


def _next_states(state: dict[str, Any]) -> set[str]:
    targets = {state["Next"]} if "Next" in state else set()
    targets |= {catch["Next"] for catch in state.get("Catch", [])}
    targets |= {choice["Next"] for choice in state.get("Choices", [])}
    if "Default" in state:
        targets.add(state["Default"])
    return targets


@pytest.mark.parametrize("machine", list(MACHINES))
def test_every_task_retries_with_backoff_and_jitter(machine: str) -> None:
    for name, state in MACHINES[machine]["States"].items():
        if state["Type"] != "Task":
            continue
        assert state["Retry"], name
        assert all(
            rule.get("BackoffRate", 1) > 1 and rule.get("JitterStrategy") == "FULL"
            for rule in state["Retry"]
        ), name
        if state["Resource"] == "arn:aws:states:::lambda:invoke":
            retried = {error for rule in state["Retry"] for error in rule["ErrorEquals"]}
            assert retried >= LAMBDA_TRANSIENT | {"AwsThrottled", "AwsTransient"}, name


@pytest.mark.parametrize("machine", list(MACHINES))
def test_every_task_catches_everything(machine: str) -> None:
    for name, state in MACHINES[machine]["States"].items():
        if state["Type"] == "Task":
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


def test_every_phase_failure_goes_through_the_incident_report_or_the_rollback() -> None:
    phases = [
        n
        for n, state in STATES.items()
        if state["Type"] == "Task" and n not in SHARED and n not in TARGET_RUNS
    ]
    assert len(phases) == 20
    special = {
        "Prepare",
        "Report prepare failure",
        "Report incident",
        "Release lock (last resort)",
        "Begin rollback",
    }
    for name in phases:
        if name in special:
            continue
        failed = STATES[name]["Catch"][-1]["Next"]
        assert STATES[failed] == {
            "Type": "Pass",
            "Result": name,
            "ResultPath": "$.failed_step",
            "Next": "Roll back?" if name in AFTER_CUT else "Report incident",
        }
    assert STATES["Roll back?"]["Choices"] == [
        # a dry run changed nothing: there is nothing to roll back
        {"Variable": "$.run.request.dry_run", "BooleanEquals": True, "Next": "Report incident"},
        {
            "Variable": "$.run.request.on_failure",
            "StringEquals": "rollback",
            "Next": "Begin rollback",
        },
    ]
    assert STATES["Roll back?"]["Default"] == "Report incident"
    assert STATES["Begin rollback"]["Next"] == "Restart compute"


def test_a_prepare_that_failed_for_another_reason_than_its_input_tells_people() -> None:
    # Refused input and a locked service end quietly: the caller sees the refusal at once
    catches = STATES["Prepare"]["Catch"]
    assert catches[0] == {
        "ErrorEquals": ["InvalidRequest", "ServiceLocked"],
        "ResultPath": "$",
        "Next": "Read refusal",
    }
    # Anything else (AWS refusing Prepare a call, say) sends INCIDENT before the run ends
    assert catches[-1]["Next"] == "Report prepare failure"
    report = STATES["Report prepare failure"]
    assert report["Parameters"]["Payload"] == {
        "run_id.$": "$$.Execution.Name",
        "input.$": "$$.Execution.Input",
        "failed_step": "Prepare",
        "error.$": "$",
    }
    assert report["Next"] == report["Catch"][-1]["Next"] == "Prepare failed"
    assert STATES["Prepare failed"]["Type"] == "Fail"


def test_the_approval_gate_comes_before_anything_changes_and_a_no_cancels() -> None:
    # The notice period and the gate sit between Announce and Back up
    assert STATES["Announce"]["Next"] == "Dry run?"
    assert STATES["Dry run?"]["Default"] == "Notice period"
    assert STATES["Notice period"]["TimestampPath"] == "$.run.cutoff"
    assert STATES["Notice period"]["Next"] == "Approval required?"
    assert STATES["Approval required?"]["Default"] == "Back up"
    gate = STATES["Ask for approval"]
    assert gate["Resource"].endswith(".waitForTaskToken")
    assert gate["TimeoutSecondsPath"] == "$.run.request.approval.timeout_seconds"
    assert gate["Next"] == "Back up"
    # a rejection or no answer in time cancels; anything else is an incident
    assert gate["Catch"][0]["ErrorEquals"] == ["ApprovalRejected", "States.Timeout"]
    assert gate["Catch"][0]["Next"] == "Cancel run"
    assert STATES["Cancel run"]["Next"] == "Run cancelled"
    assert STATES["Run cancelled"]["Type"] == "Fail"


def test_the_rollback_runs_the_very_states_of_the_recommission() -> None:
    for name in SHARED:
        ours, theirs = dict(STATES[name]), dict(RESTORE[name])
        if name == "Report restore":
            assert (ours.pop("Next"), theirs.pop("Next")) == ("Rolled back", "Restored")
        assert ours == theirs, name


def test_every_restore_failure_goes_through_the_restore_failure_report() -> None:
    for name in SHARED:
        state = RESTORE[name]
        if state["Type"] != "Task" or name in {
            "Report restore failure",
            "Release restore lock (last resort)",
        }:
            continue
        failed = state["Catch"][0]["Next"]
        assert RESTORE[failed] == {
            "Type": "Pass",
            "Result": name,
            "ResultPath": "$.restore_failed_step",
            "Next": "Report restore failure",
        }


def test_routes_come_back_only_once_compute_is_up() -> None:
    assert "Restore API routes" not in _reachable_without("Compute back?", "recommission")
    assert RESTORE["Compute back?"]["Choices"] == [
        {"Variable": "$.compute.ready", "BooleanEquals": True, "Next": "Restore API routes"}
    ]
    assert RESTORE["Wait for compute"]["Next"] == "Restart compute"


def _reachable_without(blocked: str, machine: str = "decommission") -> set[str]:
    states = MACHINES[machine]["States"]
    reachable: set[str] = set()
    frontier = [MACHINES[machine]["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reachable or name == blocked:
            continue
        reachable.add(name)
        frontier.extend(_next_states(states[name]))
    return reachable


def test_destructive_states_are_reached_only_through_the_checkpoint() -> None:
    # Take the checkpoint out of the graph: no destructive state may still be reachable.
    assert not _reachable_without("Checkpoint: backups verified") & DESTRUCTIVE
    assert not set(MACHINES["recommission"]["States"]) & DESTRUCTIVE
    assert STATES["Checkpoint: backups verified"]["Next"] == "Remove API routes"


def test_the_checkpoint_is_reached_only_through_verification_and_the_wait_loop() -> None:
    assert "Checkpoint: backups verified" not in _reachable_without("Verify backups")
    assert "Verify backups" not in _reachable_without("Backups complete?")
    assert "Backups complete?" not in _reachable_without("Check backups")
    loop = STATES["Backups complete?"]
    assert loop["Choices"] == [
        {"Variable": "$.backup_status.complete", "BooleanEquals": True, "Next": "Verify backups"}
    ]
    assert loop["Default"] == "Wait for backups"
    assert STATES["Wait for backups"]["SecondsPath"] == "$.run.request.backup.poll_seconds"
    assert STATES["Wait for backups"]["Next"] == "Check backups"


@pytest.mark.parametrize("machine", list(MACHINES))
def test_every_state_is_reachable_and_every_target_exists(machine: str) -> None:
    states = MACHINES[machine]["States"]
    targets = {t for state in states.values() for t in _next_states(state)}
    assert targets <= set(states)
    assert set(states) - targets == {MACHINES[machine]["StartAt"]}


@pytest.mark.parametrize("machine", list(MACHINES))
def test_template_substitutes_every_placeholder_and_nothing_else(machine: str) -> None:
    template = load_template(ROOT / "template.yaml")
    resource = template["Resources"][f"{machine.capitalize()}StateMachine"]["Properties"]
    placeholders = set(re.findall(r"\$\{(\w+)\}", json.dumps(MACHINES[machine])))
    assert placeholders == set(resource["DefinitionSubstitutions"])
    assert resource["DefinitionUri"] == f"statemachine/{machine}.asl.json"


@pytest.mark.parametrize("machine", list(MACHINES))
def test_the_machine_may_invoke_every_function_it_names(machine: str) -> None:
    # moto does not enforce the machine's role: without this, a function missing here would
    # pass every sandbox run and be denied on AWS
    template = load_template(ROOT / "template.yaml")
    resource = template["Resources"][f"{machine.capitalize()}StateMachine"]["Properties"]
    named = {
        value["Fn::GetAtt"][0]
        for value in resource["DefinitionSubstitutions"].values()
        if "Fn::GetAtt" in value
    }
    invocable = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in resource["Policies"]
        if isinstance(policy, dict) and "LambdaInvokePolicy" in policy
    }
    assert named and named == invocable


def test_template_has_the_documented_outputs() -> None:
    template = load_template(ROOT / "template.yaml")
    assert set(template["Outputs"]) == {
        "DecommissionStateMachineArn",
        "RecommissionStateMachineArn",
        "NotificationTopicArn",
        "ArtifactsBucketName",
        "RunsTableName",
        # for planned shutdowns (sunset schedule), beside the contract's five
        "SchedulerRoleArn",
        "ScheduleDeadLetterQueueArn",
        # where undelivered notices and the functions' logs go
        "NoticeDeadLetterQueueArn",
        "FunctionLogGroupName",
    }


@pytest.mark.parametrize(
    ("task", "choice", "then"),
    [
        ("Back up", "Back up paused?", "Check backups"),
        ("Remove API routes", "Remove API routes paused?", "Stop endpoints"),
        ("Stop endpoints", "Stop paused?", "Plan or validate?"),
    ],
)
def test_steps_that_pause_are_run_again_until_done(task: str, choice: str, then: str) -> None:
    # The step's `more` is kept in its result, and read by the Choice right after it
    result = STATES[task]["ResultPath"]
    assert STATES[task]["ResultSelector"]["more.$"] == "$.Payload.more"
    assert STATES[task]["Next"] == choice
    assert STATES[choice]["Choices"] == [
        {"Variable": f"{result}.more", "BooleanEquals": True, "Next": task}
    ]
    assert STATES[choice]["Default"] == then


def test_a_dry_run_skips_only_the_waits_the_restore_tests_and_the_proof() -> None:
    dry = {"Variable": "$.run.request.dry_run", "BooleanEquals": True}
    # No notice period and no approval: Announce plans both
    assert STATES["Dry run?"]["Choices"] == [{**dry, "Next": "Back up"}]
    # No snapshot exists to restore-test
    assert STATES["Restore test?"]["Choices"] == [
        {
            "And": [
                {"Variable": "$.run.request.backup.restore_test", "BooleanEquals": True},
                {"Variable": "$.run.request.dry_run", "BooleanEquals": False},
            ],
            "Next": "Start restore tests",
        }
    ]
    # Nothing was stopped, so nothing is proven down: straight to the report and its plan
    assert STATES["Stop endpoints"]["Next"] == "Stop paused?"
    assert STATES["Stop paused?"]["Default"] == "Plan or validate?"
    assert STATES["Plan or validate?"]["Choices"] == [{**dry, "Next": "Report"}]
    assert STATES["Plan or validate?"]["Default"] == "Validate shutdown"
    # Every phase that changes AWS still runs in a dry run, its changes planned by the Journal
    for phase in ("Back up", "Checkpoint: backups verified", "Remove API routes", "Stop endpoints"):
        assert phase in _reachable_without("Notice period", "decommission")


def test_the_abandoned_run_closer_waits_out_the_longest_step() -> None:
    # A step still running when its execution was stopped may run up to its Timeout: the
    # closer waits that long (STEP_TIMEOUT_SECONDS), within its own Timeout.
    template = load_template(ROOT / "template.yaml")
    default = template["Globals"]["Function"]["Timeout"]
    functions = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    closer = functions.pop("AbandonedRunFunction")
    longest = max(properties.get("Timeout", default) for properties in functions.values())
    waits = int(closer["Environment"]["Variables"]["STEP_TIMEOUT_SECONDS"])
    assert waits == longest
    # and its cap on one wait leaves the in-flight margin whole
    assert MAX_WAIT_SECONDS >= waits + _IN_FLIGHT_MARGIN_SECONDS
    assert closer["Timeout"] > MAX_WAIT_SECONDS + 60


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += _next_states(STATES[name])
    return seen


def test_a_run_with_targets_changes_nothing_itself_and_ends_on_its_own_states() -> None:
    # Prepare sends a request with targets to the target runs, any other to Discover
    assert STATES["Prepare"]["Next"] == "Several targets?"
    assert STATES["Several targets?"]["Default"] == "Discover resources"
    # and from there on a run with targets reaches no state of a one-target run: each target's
    # own run does the work, with its own incident path and rollback
    assert _reachable("Start target runs") == TARGET_RUNS | {
        "Target runs ended?",
        "Wait for target runs",
        "Every target run succeeded?",
        "Decommissioned in every target",
        "Some target runs failed",
        "Target runs failed",
    }
    # and a target run that could not be checked is still recorded
    assert STATES["Check target runs"]["Catch"][-1]["Next"] == "Report target runs"
