"""Where a stopped execution was, and whether a step of it may still be running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sunset.phases.abandoned import in_flight_until, lock_of_input, state_it_was_in

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _event(id_: int, type_: str, name: str | None = None, seconds: int = 0) -> dict[str, Any]:
    event: dict[str, Any] = {"id": id_, "type": type_, "timestamp": T0 + timedelta(seconds=seconds)}
    if name is not None:
        event["stateEnteredEventDetails"] = {"name": name}
    return event


def test_the_state_is_the_newest_task_wait_or_choice_not_a_fail_or_pass_state() -> None:
    events = [
        _event(1, "TaskStateEntered", "Prepare"),
        _event(2, "TaskStateEntered", "Remove API routes"),
        _event(3, "TaskFailed"),
        _event(4, "PassStateEntered", "Read failure"),
        _event(5, "FailStateEntered", "Run failed, incident not reported"),
    ]
    assert state_it_was_in(events) == "Remove API routes"
    assert state_it_was_in([]) is None


def test_a_step_invoked_and_never_ended_is_waited_for_until_its_timeout() -> None:
    events = [
        _event(1, "TaskStateEntered", "Stop endpoints", seconds=0),
        _event(2, "TaskScheduled", seconds=1),
        _event(3, "TaskStarted", seconds=2),
        _event(4, "ExecutionAborted", seconds=30),
    ]
    assert in_flight_until(events, step_timeout=300) == T0 + timedelta(seconds=1 + 300 + 10)


def test_a_step_that_ended_or_a_wait_is_not_waited_for() -> None:
    ended = [
        _event(1, "TaskScheduled"),
        _event(2, "TaskSucceeded"),
        _event(3, "WaitStateEntered", "Notice period"),
        _event(4, "ExecutionAborted"),
    ]
    assert in_flight_until(ended, step_timeout=300) is None
    assert in_flight_until([_event(1, "WaitStateEntered", "Notice period")], 300) is None


def test_a_run_with_no_manifest_gives_back_the_lock_its_input_would_have_taken() -> None:
    home = "arn:aws:states:us-east-1:123456789012:execution:sunset-decommission:r"
    role = "arn:aws:iam::210987654321:role/sunset-target"
    target = {"account": "210987654321", "region": "eu-west-1", "role_arn": role}
    assert lock_of_input({"service": "svc"}, home) == "svc"
    assert lock_of_input({"service": "svc", "target": target}, home) == (
        "svc@210987654321/eu-west-1"
    )
    # a target Prepare refused before its lock: the service's lock is the only one to try
    refused = {**target, "role_arn": "arn:aws:iam::999999999999:role/sunset-target"}
    assert lock_of_input({"service": "svc", "target": refused}, home) == "svc"
    # no service: Prepare took no lock
    assert lock_of_input({"target": target}, home) is None
    assert lock_of_input(["svc"], home) is None
