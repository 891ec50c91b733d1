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
    for name in (
        "Discover resources",
        "Announce",
        "Back up",
        "Remove API routes",
        "Stop endpoints",
        "Check logs",
        "Report",
    ):
        failed = STATES[name]["Catch"][0]["Next"]
        assert STATES[failed] == {
            "Type": "Pass",
            "Result": name,
            "ResultPath": "$.failed_step",
            "Next": "Report incident",
        }


def test_destructive_states_are_reached_only_through_back_up() -> None:
    # Remove "Back up" from the graph: no destructive state may still be reachable.
    reachable, frontier = set(), [ASL["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reachable or name == "Back up":
            continue
        reachable.add(name)
        frontier.extend(_next_states(STATES[name]))
    assert not reachable & DESTRUCTIVE
    assert STATES["Back up"]["Next"] == "Remove API routes"


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
