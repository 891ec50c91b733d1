"""Step Functions: starting and following the executions a run starts (its target runs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code

# How an execution can end (DescribeExecution's status once it is no longer RUNNING).
ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class ExecutionStatus:
    status: str
    error: str | None = None
    cause: str | None = None


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of the execution `name` of a state machine: what StartExecution gives it."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def start_execution(
    sfn: Any, state_machine_arn: str, name: str, execution_input: dict[str, Any]
) -> None:
    """Start the execution `name` with this input, or find it started already, as a retried
    step finds the one it started: AWS (and moto) answer a start with the same name and input
    as a success while that execution runs, and with ExecutionAlreadyExists once it has ended.
    An execution of that name with another input is someone else's: its ExecutionAlreadyExists
    is raised."""
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
        )
    except ClientError as exc:
        if error_code(exc) != "ExecutionAlreadyExists":
            raise
        arn = execution_arn(state_machine_arn, name)
        found = sfn.describe_execution(executionArn=arn).get("input")
        if json.loads(found or "null") != execution_input:
            raise


def describe_execution(sfn: Any, arn: str) -> ExecutionStatus:
    described = sfn.describe_execution(executionArn=arn)
    return ExecutionStatus(described["status"], described.get("error"), described.get("cause"))
