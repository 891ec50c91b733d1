"""Planned shutdowns: a one-time EventBridge Scheduler schedule that starts a decommission, made,
listed, fired and removed from the command line against a deployed stack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sunset.cli import EXIT_OK, EXIT_USAGE, main
from sunset.local import Sandbox
from sunset.local.sample import SampleService
from tests.conftest import FAST
from tests.integration.test_cli_deployed import _input_file, _register_stack

STACK = ["--stack", "sunset-prod"]


def _paris_in(days: int) -> str:
    moment = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris")) + timedelta(days=days)
    return f"{moment:%Y-%m-%d}T22:00"


def test_a_planned_shutdown_is_made_listed_fired_and_removed(
    sandbox: Sandbox, service: SampleService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed stack and an input
    _register_stack(sandbox, "sunset-prod")
    request = service.request(backup=FAST)
    path = _input_file(tmp_path, request)
    at = _paris_in(days=5)
    # When a shutdown is planned for 22:00 Paris time, five days from now
    code = main(["schedule", "--input", path, "--at", at, "--tz", "Europe/Paris", *STACK])
    # Then one schedule exists, firing once at that local time, with the input as given
    assert code == EXIT_OK
    name = f"sunset-chat-assistant-{at.replace('-', '').replace(':', '')}"
    assert f"Scheduled {name}: decommission chat-assistant at({at}:00) Europe/Paris" in (
        capsys.readouterr().out
    )
    schedule = sandbox.client("scheduler").get_schedule(Name=name)
    assert schedule["ScheduleExpression"] == f"at({at}:00)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    target = schedule["Target"]
    outputs = sandbox.outputs
    assert target["Arn"] == outputs["DecommissionStateMachineArn"]
    assert json.loads(target["Input"]) == request
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
    assert target["DeadLetterConfig"] == {"Arn": outputs["ScheduleDeadLetterQueueArn"]}
    # and its role is the stack's, which Scheduler alone may take, and which may only start
    # this decommission machine (and dead-letter a failed start)
    assert target["RoleArn"] == outputs["SchedulerRoleArn"]
    iam = sandbox.client("iam")
    role = target["RoleArn"].rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "scheduler.amazonaws.com"}]
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    statements = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"][
        "Statement"
    ]
    assert {(s["Action"], s["Resource"]) for s in statements} == {
        ("states:StartExecution", outputs["DecommissionStateMachineArn"]),
        ("sqs:SendMessage", outputs["ScheduleDeadLetterQueueArn"]),
    }
    # When it is listed
    assert main(["schedules", *STACK]) == EXIT_OK
    assert f"{name:<40} chat-assistant" in capsys.readouterr().out
    # and it comes due (the sandbox does what Scheduler does)
    run = sandbox.wait(sandbox.fire_schedule(name))
    # Then the planned decommission ran
    assert run.status == "SUCCEEDED", run.cause
    assert run.output is not None and run.output["service"] == "chat-assistant"
    # When it is removed
    assert main(["unschedule", name, *STACK]) == EXIT_OK
    assert main(["schedules", *STACK]) == EXIT_OK
    assert "No planned shutdowns." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--at", "2020-01-01T22:00", "--tz", "Europe/Paris"], "--at: 2020-01-01T22:00 in"),
        (["--at", "tomorrow", "--tz", "UTC"], "--at: 'tomorrow' is not a date and time"),
        (["--at", "2099-01-01T22:00+01:00", "--tz", "UTC"], "without an offset"),
        (["--at", "2099-01-01T22:00", "--tz", "Mars/Olympus"], "--tz: unknown time zone"),
    ],
    ids=["past", "not-a-time", "offset", "unknown-zone"],
)
def test_a_schedule_that_cannot_fire_as_meant_is_refused(
    sandbox: Sandbox,
    service: SampleService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    expected: str,
) -> None:
    _register_stack(sandbox, "sunset-prod")
    path = _input_file(tmp_path, service.request())
    assert main(["schedule", "--input", path, *arguments, *STACK]) == EXIT_USAGE
    assert expected in capsys.readouterr().err
    assert sandbox.client("scheduler").list_schedules()["Schedules"] == []


def test_a_bad_input_is_refused_before_it_is_scheduled_and_others_schedules_are_kept(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    _register_stack(sandbox, "sunset-prod")
    bad = str(Path(__file__).resolve().parents[2] / "events" / "malformed" / "wrong-type.json")
    scheduler = sandbox.client("scheduler")
    scheduler.create_schedule(
        Name="someone-elses",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": "arn:aws:iam::1:role/r"},
    )
    # When
    scheduled = main(["schedule", "--input", bad, "--at", "2099-01-01T22:00", *STACK])
    removed = main(["unschedule", "someone-elses", *STACK])
    # Then
    assert (scheduled, removed) == (EXIT_USAGE, EXIT_USAGE)
    err = capsys.readouterr().err
    assert "approval.required" in err and "does not start this stack's decommission" in err
    assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["someone-elses"]
