"""The ASL reads like the runbook and keeps its safety promises, checked on the file itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sunset.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "decommission.asl.json").read_text())
STATES: dict[str, Any] = ASL["States"]
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
DESTRUCTIVE = {"Remove API routes", "Stop endpoints"}


def _next_states(state: dict[str, Any]) -> set[str]:
    targets = {state["Next"]} if "Next" in state else set()
    targets |= {catch["Next"] for catch in state.get("Catch", [])}
    targets |= {choice["Next"] for choice in state.get("Choices", [])}
    if "Default" in state:
        targets.add(state["Default"])
    return targets


def test_every_task_retries_with_backoff_and_jitter() -> None:
    for name, state in STATES.items():
        if state["Type"] != "Task":
            continue
        assert state["Retry"], name
        assert all(
            rule.get("BackoffRate", 1) > 1 and rule.get("JitterStrategy") == "FULL"
            for rule in state["Retry"]
        ), name
        if state["Resource"] == "arn:aws:states:::lambda:invoke":
            retried = {error for rule in state["Retry"] for error in rule["ErrorEquals"]}
            assert retried >= LAMBDA_TRANSIENT | {"AwsThrottled"}, name


def test_every_task_catches_everything() -> None:
    for name, state in STATES.items():
        if state["Type"] == "Task":
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


def test_every_phase_failure_goes_through_the_incident_report() -> None:
    phases = [n for n, state in STATES.items() if state["Type"] == "Task"]
    assert len(phases) == 16
    for name in phases:
        if name in {"Prepare", "Report incident", "Release lock (last resort)"}:
            continue
        failed = STATES[name]["Catch"][0]["Next"]
        assert STATES[failed] == {
            "Type": "Pass",
            "Result": name,
            "ResultPath": "$.failed_step",
            "Next": "Report incident",
        }


def _reachable_without(blocked: str) -> set[str]:
    reachable: set[str] = set()
    frontier = [ASL["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reachable or name == blocked:
            continue
        reachable.add(name)
        frontier.extend(_next_states(STATES[name]))
    return reachable


def test_destructive_states_are_reached_only_through_the_checkpoint() -> None:
    # Take the checkpoint out of the graph: no destructive state may still be reachable.
    assert not _reachable_without("Checkpoint: backups verified") & DESTRUCTIVE
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


def test_every_state_is_reachable_and_every_target_exists() -> None:
    targets = {t for state in STATES.values() for t in _next_states(state)}
    assert targets <= set(STATES)
    assert set(STATES) - targets == {ASL["StartAt"]}


def test_template_substitutes_every_placeholder_and_nothing_else() -> None:
    template = load_template(ROOT / "template.yaml")
    machine = template["Resources"]["DecommissionStateMachine"]["Properties"]
    placeholders = set(re.findall(r"\$\{(\w+)\}", json.dumps(ASL)))
    assert placeholders == set(machine["DefinitionSubstitutions"])
    assert machine["DefinitionUri"] == "statemachine/decommission.asl.json"


def test_template_has_the_documented_outputs() -> None:
    template = load_template(ROOT / "template.yaml")
    assert set(template["Outputs"]) == {
        "DecommissionStateMachineArn",
        "NotificationTopicArn",
        "ArtifactsBucketName",
        "RunsTableName",
    }
