"""Planned shutdowns: one-time EventBridge Scheduler schedules that start a decommission.

`sunset schedule` creates one; it fires once, at a local time in a named time zone, and starts
the stack's decommission state machine with the input it was given, through the stack's
SchedulerRole (states:StartExecution on that machine only). A start that fails after its
retries lands in the stack's dead-letter queue. A recurring schedule is a template parameter
(PlannedSchedule), not this module's business.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code
from sunset.errors import InvalidRequest
from sunset.request import parse_request

PREFIX = "sunset-"
# Scheduler names: letters, digits, '.', '-', '_', at most 64.
_NAME = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
# A start that fails (throttled, the machine busy) is tried again for an hour, then dead-lettered.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}


@dataclass(frozen=True)
class PlannedShutdown:
    name: str
    expression: str
    timezone: str
    state: str
    service: str
    target: str


def parse_local_time(at: str, timezone: str, now: datetime) -> datetime:
    """`at` (2026-12-01T22:00, no offset) read in `timezone`; refused unless it is an instant in
    the future."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory
        raise InvalidRequest(f"--tz: unknown time zone {timezone!r} (e.g. Europe/Paris)") from None
    try:
        naive = datetime.fromisoformat(at)
    except ValueError:
        raise InvalidRequest(f"--at: {at!r} is not a date and time like 2026-12-01T22:00") from None
    if naive.tzinfo is not None:
        raise InvalidRequest(
            f"--at: give the local time without an offset; the zone is --tz ({at})"
        )
    moment = naive.replace(tzinfo=zone)
    if moment <= now:
        raise InvalidRequest(f"--at: {at} in {timezone} is in the past")
    return moment


def create(
    scheduler: Any,
    outputs: dict[str, str],
    execution_input: object,
    at: str,
    timezone: str,
    *,
    now: datetime,
    name: str | None = None,
) -> PlannedShutdown:
    """Create a one-time schedule that starts a decommission with `execution_input` at `at`.

    The input is validated first, as Prepare would: a schedule must not fire, hours later, only
    to be refused.
    """
    request = parse_request(execution_input)
    moment = parse_local_time(at, timezone, now)
    name = name or f"{PREFIX}{request.service}-{moment:%Y%m%dT%H%M}"
    if not _NAME.match(name):
        raise InvalidRequest(f"--name: {name!r}: letters, digits, '.', '-' and '_', at most 64")
    expression = f"at({moment:%Y-%m-%dT%H:%M:%S})"
    try:
        scheduler.create_schedule(
            Name=name,
            Description=f"Sunset: decommission {request.service}: {request.reason}"[:512],
            ScheduleExpression=expression,
            ScheduleExpressionTimezone=timezone,
            FlexibleTimeWindow={"Mode": "OFF"},
            State="ENABLED",
            # Once it has fired, it is gone: the run itself is the record from then on.
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": outputs["DecommissionStateMachineArn"],
                "RoleArn": outputs["SchedulerRoleArn"],
                "Input": json.dumps(execution_input),
                "RetryPolicy": RETRY_POLICY,
                "DeadLetterConfig": {"Arn": outputs["ScheduleDeadLetterQueueArn"]},
            },
        )
    except ClientError as exc:
        if error_code(exc) == "ConflictException":
            raise InvalidRequest(f"a schedule named {name!r} exists already") from None
        raise
    return PlannedShutdown(
        name,
        expression,
        timezone,
        "ENABLED",
        request.service,
        outputs["DecommissionStateMachineArn"],
    )


def _describe(schedule: dict[str, Any]) -> PlannedShutdown:
    target = schedule.get("Target", {})
    try:
        service = str(json.loads(target.get("Input") or "{}").get("service", "?"))
    except (ValueError, AttributeError):
        service = "?"
    return PlannedShutdown(
        name=schedule["Name"],
        expression=schedule.get("ScheduleExpression", ""),
        timezone=schedule.get("ScheduleExpressionTimezone", "UTC"),
        state=schedule.get("State", ""),
        service=service,
        target=target.get("Arn", ""),
    )


def list_planned(scheduler: Any, outputs: dict[str, str]) -> list[PlannedShutdown]:
    """Every schedule that starts this stack's decommission machine."""
    machine = outputs["DecommissionStateMachineArn"]
    planned = []
    for page in scheduler.get_paginator("list_schedules").paginate():
        for item in page["Schedules"]:
            if item.get("Target", {}).get("Arn") != machine:
                continue
            schedule = scheduler.get_schedule(Name=item["Name"], GroupName=item["GroupName"])
            planned.append(_describe(schedule))
    return sorted(planned, key=lambda p: p.name)


def delete(scheduler: Any, outputs: dict[str, str], name: str) -> None:
    """Delete a schedule of this stack; any other schedule is refused, not touched."""
    try:
        schedule = scheduler.get_schedule(Name=name)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise InvalidRequest(f"there is no schedule {name!r}") from None
        raise
    if schedule.get("Target", {}).get("Arn") != outputs["DecommissionStateMachineArn"]:
        raise InvalidRequest(f"schedule {name!r} does not start this stack's decommission")
    scheduler.delete_schedule(Name=name)
