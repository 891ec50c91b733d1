"""The sandbox: Sunset on a laptop. moto plays AWS, moto's ASL interpreter runs our real state
machine, and our real handlers run in this process.

    from sunset.local import Sandbox
    with Sandbox() as sb:
        run = sb.run("decommission", {...})
        run.status, run.output, run.error, run.cause, run.events
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from sunset.local.http_deployments import HttpDeployments
from sunset.local.lambda_runtime import Hook, InProcessLambdas
from sunset.local.snapshots import SnapshotControl
from sunset.local.template import DeployedStack, StackDeployer, load_template

MACHINES = {
    "decommission": "DecommissionStateMachineArn",
    "recommission": "RecommissionStateMachineArn",
}
_SANDBOX_ENV = {
    # Fake credentials: nothing here may ever reach a real AWS account.
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_SESSION_TOKEN": "sandbox",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


class SandboxError(Exception):
    """The sandbox could not start or a run could not be followed."""


def find_root() -> Path:
    """The checkout that holds template.yaml (SUNSET_ROOT, else above this package)."""
    explicit = os.environ.get("SUNSET_ROOT")
    candidates = [Path(explicit)] if explicit else list(Path(__file__).resolve().parents)
    for candidate in candidates:
        if (candidate / "template.yaml").is_file() and (candidate / "functions").is_dir():
            return candidate
    raise SandboxError(
        "cannot find template.yaml: run from a Sunset checkout (pip install -e .) "
        "or set SUNSET_ROOT to it"
    )


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
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.events
            if "stateEnteredEventDetails" in e
        ]


class Sandbox:
    """moto with Step Functions execution on, template.yaml deployed, handlers in-process."""

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        root: Path | None = None,
        stack_name: str = "sunset",
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.region = region
        self.root = root or find_root()
        self.stack_name = stack_name
        self.parameters = {"LogLevel": "WARNING", **(parameters or {})}
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self.lambdas: InProcessLambdas | None = None
        self.snapshots = SnapshotControl()
        self._http_deployments = HttpDeployments()
        self.stack: DeployedStack | None = None
        self.session: boto3.Session | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Sandbox:
        from moto import mock_aws

        env = {**_SANDBOX_ENV, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        self._saved_env = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        # moto logs every failed state at ERROR; a failed run is reported through Run instead.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        # Powertools' tracer logs every handler exception with its traceback; in the sandbox
        # the error already reaches the run's cause and the INCIDENT notice.
        logging.getLogger("aws_lambda_powertools.tracing").setLevel(logging.CRITICAL)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        try:
            self.session = boto3.Session(region_name=self.region)
            template = load_template(self.root / "template.yaml")
            self.stack = StackDeployer(
                template, self.root, self.session, self.stack_name, self.region, self.parameters
            ).deploy()
            self.lambdas = InProcessLambdas(self.stack.functions)
            self.lambdas.install()
            self.snapshots.install()
            self._http_deployments.install()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http_deployments.uninstall()
        self.snapshots.uninstall()
        if self.lambdas is not None:
            self.lambdas.uninstall()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    # ------------------------------------------------------------------ use
    @property
    def outputs(self) -> dict[str, str]:
        if self.stack is None:
            raise SandboxError("the sandbox is not running: use it as `with Sandbox() as sb:`")
        return self.stack.outputs

    def client(self, service: str) -> Any:
        if self.session is None:
            raise SandboxError("the sandbox is not running: use it as `with Sandbox() as sb:`")
        return self.session.client(service)

    def before(self, function_logical_id: str, hook: Hook) -> None:
        """Run `hook(logical_id, event)` right before each invocation of a function.

        This is how tests make the world change at an exact point of a run (a volume that
        vanishes after discovery, say) without replacing any of Sunset's own code.
        """
        assert self.lambdas is not None
        if function_logical_id not in {f.logical_id for f in self.lambdas.functions.values()}:
            raise SandboxError(f"no function {function_logical_id!r} in template.yaml")
        self.lambdas.before(function_logical_id, hook)

    def start(self, machine: str, execution_input: Any, *, name: str | None = None) -> str:
        """Start an execution and return its ARN without waiting."""
        if machine not in MACHINES:
            raise SandboxError(f"unknown state machine {machine!r}; known: {', '.join(MACHINES)}")
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
                raise SandboxError(f"{execution_arn} still running after {timeout:.0f} s")
            time.sleep(0.02)
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

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events
