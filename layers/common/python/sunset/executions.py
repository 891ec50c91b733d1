"""Start a Sunset state machine and follow its execution: the same code for the sandbox and for
a deployed stack, since both answer the Step Functions API.

    stack = AwsStack.from_cloudformation("sunset")      # a stack deployed with sam deploy
    run = stack.run("recommission", {"run_id": "run-2026..."}, on_event=print)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sunset.aws.errors import error_code

if TYPE_CHECKING:
    from sunset.runs import RunsTable

# Which stack output holds each machine's ARN.
MACHINES = {
    "decommission": "DecommissionStateMachineArn",
    "recommission": "RecommissionStateMachineArn",
}


class ExecutionError(Exception):
    """A run could not be started or followed (unknown machine, stack or execution)."""


@dataclass(frozen=True)
class RunStatus:
    """Where an execution stands now, for `sunset status`."""

    run_id: str
    machine: str
    execution_arn: str
    status: str
    started_at: Any
    stopped_at: Any | None
    current_state: str | None
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    waiting_for_approval: bool


@dataclass
class Run:
    """One finished execution, as the Step Functions API reports it."""

    run_id: str
    execution_arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    events: list[dict[str, Any]] = field(repr=False)

    @property
    def states_entered(self) -> list[str]:
        """Names of the states the execution entered, in order."""
        return states_entered(self.events)


def states_entered(events: list[dict[str, Any]]) -> list[str]:
    """Names of the states an execution history shows entered, in order."""
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


class Executions:
    """start/wait/run over whatever provides `client(service)` and the stack `outputs`."""

    poll_interval = 0.02

    @property
    def outputs(self) -> dict[str, str]:
        raise NotImplementedError

    def client(self, service: str) -> Any:
        raise NotImplementedError

    def start(self, machine: str, execution_input: Any, *, name: str | None = None) -> str:
        """Start an execution and return its ARN without waiting."""
        if machine not in MACHINES:
            raise ExecutionError(f"unknown state machine {machine!r}; known: {', '.join(MACHINES)}")
        run_id = name or f"run-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        body = execution_input if isinstance(execution_input, str) else json.dumps(execution_input)
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=self.outputs[MACHINES[machine]], name=run_id, input=body
        )
        return str(response["executionArn"])

    def wait(
        self,
        execution_arn: str,
        *,
        timeout: float = 300.0,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> Run:
        """Wait for an execution to end; `on_event` sees each history event as it appears."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            description = sfn.describe_execution(executionArn=execution_arn)
            if on_event is not None:
                events = self._history(execution_arn)
                for event in events[seen:]:
                    on_event(event)
                seen = len(events)
            if description["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise ExecutionError(f"{execution_arn} still running after {timeout:.0f} s")
            time.sleep(self.poll_interval)
        output = description.get("output")
        return Run(
            run_id=description["name"],
            execution_arn=execution_arn,
            status=description["status"],
            output=json.loads(output) if output else None,
            error=description.get("error"),
            cause=description.get("cause"),
            events=self._history(execution_arn),
        )

    def run(
        self,
        machine: str,
        execution_input: Any,
        *,
        name: str | None = None,
        timeout: float = 300.0,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> Run:
        """Start the deployed state machine and wait for the execution to end."""
        arn = self.start(machine, execution_input, name=name)
        return self.wait(arn, timeout=timeout, on_event=on_event)

    def find(self, run_id: str) -> tuple[str, str]:
        """The machine and the execution ARN of a run or restore, by its id (execution name)."""
        sfn = self.client("stepfunctions")
        for machine, output in MACHINES.items():
            # An execution's ARN is its machine's, with "execution" for "stateMachine" and its
            # name appended (the documented format).
            arn = self.outputs[output].replace(":stateMachine:", ":execution:") + f":{run_id}"
            try:
                sfn.describe_execution(executionArn=arn)
            except ClientError as exc:
                if error_code(exc) == "ExecutionDoesNotExist":
                    continue
                raise
            return machine, arn
        raise ExecutionError(f"there is no run or restore {run_id!r} on this stack")

    def status(self, run_id: str) -> RunStatus:
        """Where the run stands: its status, the state it is in, and whether a person must
        answer its approval request."""
        machine, arn = self.find(run_id)
        description = self.client("stepfunctions").describe_execution(executionArn=arn)
        current = None
        if description["status"] == "RUNNING":
            entered = states_entered(self._history(arn))
            current = entered[-1] if entered else None
        record = self.runs_table().get_run(run_id) or {}
        output = description.get("output")
        return RunStatus(
            run_id=run_id,
            machine=machine,
            execution_arn=arn,
            status=description["status"],
            started_at=description["startDate"],
            stopped_at=description.get("stopDate"),
            current_state=current,
            output=json.loads(output) if output else None,
            error=description.get("error"),
            cause=description.get("cause"),
            waiting_for_approval=description["status"] == "RUNNING"
            and record.get("approval") == "PENDING",
        )

    def runs_table(self) -> RunsTable:
        """The stack's runs table: runs, locks, audit trails and pending approvals."""
        from sunset.runs import RunsTable

        return RunsTable(self.client("dynamodb"), self.outputs["RunsTableName"])

    def approve(self, run_id: str, *, by: str, comment: str | None = None) -> str:
        """Answer a run's approval request with yes: the run goes on to Back up."""
        return self._decide(run_id, approve=True, by=by, reason=comment)

    def reject(self, run_id: str, *, by: str, reason: str) -> str:
        """Answer a run's approval request with no: the run is cancelled, nothing touched."""
        return self._decide(run_id, approve=False, by=by, reason=reason)

    def _decide(self, run_id: str, *, approve: bool, by: str, reason: str | None) -> str:
        from datetime import UTC, datetime

        from sunset.approvals import decide

        sfn = self.client("stepfunctions")
        now = datetime.now(UTC)
        return decide(
            sfn, self.runs_table(), run_id, approve=approve, by=by, reason=reason, now=now
        )

    def wait_for_approval_request(self, run_id: str, *, timeout: float = 60.0) -> None:
        """Wait until the run has asked for approval (its task token is on record)."""
        deadline = time.monotonic() + timeout
        while (self.runs_table().get_run(run_id) or {}).get("approval") != "PENDING":
            if time.monotonic() > deadline:
                raise ExecutionError(f"run {run_id} did not ask for approval within {timeout} s")
            time.sleep(self.poll_interval * 5)

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events


class AwsStack(Executions):
    """A Sunset stack deployed with `sam deploy`, found by its CloudFormation outputs."""

    poll_interval = 2.0

    def __init__(self, session: boto3.Session, outputs: dict[str, str]) -> None:
        self.session = session
        self._outputs = outputs

    @classmethod
    def from_cloudformation(cls, stack_name: str, region: str | None = None) -> AwsStack:
        session = boto3.Session(region_name=region)
        try:
            stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)
        except (ClientError, BotoCoreError) as exc:
            raise ExecutionError(f"cannot read stack {stack_name!r}: {exc}") from None
        outputs = {
            output["OutputKey"]: output["OutputValue"]
            for output in stacks["Stacks"][0].get("Outputs", [])
        }
        missing = sorted({*MACHINES.values(), "RunsTableName"} - set(outputs))
        if missing:
            raise ExecutionError(
                f"stack {stack_name!r} is not a Sunset stack of this version: "
                f"it has no output {', '.join(missing)}"
            )
        return cls(session, outputs)

    @property
    def outputs(self) -> dict[str, str]:
        return self._outputs

    def client(self, service: str) -> Any:
        return self.session.client(service)
