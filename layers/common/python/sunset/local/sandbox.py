"""The sandbox: Sunset on a laptop. moto plays AWS, moto's ASL interpreter runs our real state
machine, and our real handlers run in this process.

    from sunset.local import Sandbox
    with Sandbox() as sb:
        run = sb.run("decommission", {...})
        run.status, run.output, run.error, run.cause, run.events
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import botocore.loaders
import botocore.session

from sunset.aws import pacing
from sunset.aws.clients import forget_assumed_roles, session_as
from sunset.executions import ExecutionError, Executions, Run
from sunset.local.autoscaling import PoliciesGoWithTheirTarget
from sunset.local.endpoints import EndpointControl
from sunset.local.execution_events import ExecutionStatusEvents
from sunset.local.http_deployments import HttpDeployments
from sunset.local.interpreter import ParsedDefinitions, RetryPauses
from sunset.local.invoke_urls import ENDPOINT_VARIABLE, InvokeUrls
from sunset.local.lambda_runtime import Hook, InProcessLambdas
from sunset.local.runtime import InvokeEndpointFromTable
from sunset.local.snapshots import SnapshotControl
from sunset.local.template import DeployedStack, StackDeployer, load_template

_SANDBOX_ENV = {
    # Fake credentials: nothing here may ever reach a real AWS account.
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_SESSION_TOKEN": "sandbox",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


@cache
def _service_models() -> Any:
    """botocore's loader, shared by every sandbox of the process: it caches the parsed service
    models, which each new session would otherwise read and parse again (seconds per test)."""
    return botocore.loaders.create_loader()


def _botocore_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _service_models())
    return session


class SandboxError(ExecutionError):
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


class Sandbox(Executions):
    """moto with Step Functions execution on, template.yaml deployed, handlers in-process.

    `invoke_urls` serves the API Gateway invoke URLs from moto's state at its `base_url`, which
    the sandbox puts in SUNSET_EXECUTE_API_ENDPOINT while it runs.

    `execution_events.failures` lists each Execution Status Change event whose rule target
    failed (tests check it is empty).

    `retry_pause_scale` shortens the state machine's pauses between retries (0.01: a 2 s pause
    lasts 20 ms) for tests that inject many faults; attempts and states are unchanged.

    `api_quotas` makes the handlers pace their API Gateway calls as on AWS (sunset.aws.pacing).
    Off by default: moto has no quotas, and the runs of a test session follow each other
    within seconds, so each would wait out CreateDeployment's 5 s for nothing.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        root: Path | None = None,
        stack_name: str = "sunset",
        parameters: dict[str, str] | None = None,
        retry_pause_scale: float = 1.0,
        api_quotas: bool = False,
    ) -> None:
        self.region = region
        self.api_quotas = api_quotas
        self._paced_before = pacing.ENFORCED
        self.root = root or find_root()
        self.stack_name = stack_name
        self.parameters = {"LogLevel": "WARNING", **(parameters or {})}
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self.lambdas: InProcessLambdas | None = None
        self._clients: dict[str, Any] = {}
        self.snapshots = SnapshotControl()
        self.endpoints = EndpointControl()
        self._http_deployments = HttpDeployments()
        self._autoscaling = PoliciesGoWithTheirTarget()
        self.invoke_urls = InvokeUrls()
        self._invoke_endpoint = InvokeEndpointFromTable()
        self._parsed_definitions = ParsedDefinitions()
        self._retry_pauses = RetryPauses(retry_pause_scale)
        self.execution_events = ExecutionStatusEvents(self.client)
        self.stack: DeployedStack | None = None
        self.session: boto3.Session | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Sandbox:
        from moto import mock_aws

        env = {**_SANDBOX_ENV, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        self._saved_env = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        self._paced_before, pacing.ENFORCED = pacing.ENFORCED, self.api_quotas
        # moto logs every failed state at ERROR; a failed run is reported through Run instead.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        forget_assumed_roles()
        try:
            self._parsed_definitions.install()
            self._retry_pauses.install()
            self.session = boto3.Session(
                botocore_session=_botocore_session(), region_name=self.region
            )
            self._clients.clear()
            template = load_template(self.root / "template.yaml")
            self.stack = StackDeployer(
                template, self.root, self.session, self.stack_name, self.region, self.parameters
            ).deploy()
            self.lambdas = InProcessLambdas(self.stack.functions)
            self.lambdas.install()
            self.snapshots.install()
            self.endpoints.install()
            self._http_deployments.install()
            self._autoscaling.install()
            self.invoke_urls.install()
            self._invoke_endpoint.install()
            self.execution_events.install()
            self._saved_env.setdefault(ENDPOINT_VARIABLE, os.environ.get(ENDPOINT_VARIABLE))
            os.environ[ENDPOINT_VARIABLE] = str(self.invoke_urls.base_url)
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
        self.execution_events.uninstall()
        self._invoke_endpoint.uninstall()
        self.invoke_urls.uninstall()
        self._parsed_definitions.uninstall()
        self._retry_pauses.uninstall()
        self._autoscaling.uninstall()
        self._http_deployments.uninstall()
        self.endpoints.uninstall()
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
        pacing.ENFORCED = self._paced_before

    # ------------------------------------------------------------------ use
    @property
    def outputs(self) -> dict[str, str]:
        if self.stack is None:
            raise SandboxError("the sandbox is not running: use it as `with Sandbox() as sb:`")
        return self.stack.outputs

    def client(self, service: str) -> Any:
        """A boto3 client on the sandbox, one per service for the sandbox's life."""
        if self.session is None:
            raise SandboxError("the sandbox is not running: use it as `with Sandbox() as sb:`")
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def session_in(
        self, account: str, region: str | None = None, role: str = "sunset-target"
    ) -> boto3.Session:
        """A session that acts in another account (and Region) of the sandbox, to seed or
        inspect a run's target. moto makes each call signed with an assumed role's credentials
        in the role's account; it checks no trust policy."""
        if len(account) != 12 or not account.isdigit():
            raise SandboxError(f"{account!r} is not an AWS account id (12 digits)")
        credentials = self.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="sandbox"
        )["Credentials"]
        return session_as(credentials, region or self.region, _botocore_session())

    def wait(
        self,
        execution_arn: str,
        *,
        timeout: float = 300.0,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> Run:
        """As Executions.wait; without `on_event`, it first watches the execution in moto's
        memory. Polling DescribeExecution every 20 ms costs ~10 ms of serialization per call,
        under the GIL the execution's thread needs: about a third of a run's time."""
        if on_event is None:
            self._until_settled(execution_arn, timeout)
        return super().wait(execution_arn, timeout=timeout, on_event=on_event)

    def _until_settled(self, execution_arn: str, timeout: float) -> None:
        from moto.stepfunctions.responses import get_backend

        account, region = execution_arn.split(":")[4], execution_arn.split(":")[3]
        backend = get_backend(account, region)
        deadline = time.monotonic() + timeout
        while getattr(backend.describe_execution(execution_arn), "status", None) == "RUNNING":
            if time.monotonic() > deadline:
                raise SandboxError(f"{execution_arn} still running after {timeout:.0f} s")
            time.sleep(self.poll_interval)

    def serve(self, port: int, host: str = "127.0.0.1") -> Any:
        """Answer the AWS API over HTTP on host:port, from this sandbox's state, so that the AWS
        CLI or any SDK (`--endpoint-url http://127.0.0.1:PORT`) can drive it. moto's server runs
        in a thread of this process and shares the mocked backends, so its executions run the
        real handlers in-process like every other sandbox run. Returns the server; stop() it."""
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        return server

    def fire_schedule(self, name: str) -> str:
        """Do what EventBridge Scheduler does when schedule `name` comes due: start its target
        state machine with its input. moto stores schedules but never runs them. Returns the
        execution's ARN (its name, the run id, is generated, as Scheduler's are)."""
        schedule = self.client("scheduler").get_schedule(Name=name)
        target = schedule["Target"]
        if ":stateMachine:" not in target["Arn"]:
            raise SandboxError(f"schedule {name} targets {target['Arn']}, not a state machine")
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=target["Arn"], name=str(uuid.uuid4()), input=target.get("Input", "{}")
        )
        return str(response["executionArn"])

    def _function_runtime(self, function_logical_id: str) -> InProcessLambdas:
        """The in-process Lambda runtime, once `function_logical_id` is known to be deployed."""
        assert self.lambdas is not None
        if function_logical_id not in {f.logical_id for f in self.lambdas.functions.values()}:
            raise SandboxError(f"no function {function_logical_id!r} in template.yaml")
        return self.lambdas

    def before(self, function_logical_id: str, hook: Hook) -> None:
        """Run `hook(logical_id, event)` right before each invocation of a function.

        This is how tests make the world change at an exact point of a run (a volume that
        vanishes after discovery, say) without replacing any of Sunset's own code.
        """
        self._function_runtime(function_logical_id).before(function_logical_id, hook)

    def run_short_of_time(self, function_logical_id: str, checks: int) -> None:
        """Give each invocation of a function time for `checks` looks at its clock
        (`context.get_remaining_time_in_millis()`); after them it has none left.

        How tests make a step that resumes pause and go on, as one would at large N on AWS. Such
        a step always starts its first unit of work without looking (sunset.journal.TimeBudget),
        so with `checks=0` each invocation does exactly one unit.
        """
        if checks < 0:
            raise SandboxError(f"checks must be 0 or more, not {checks}")
        self._function_runtime(function_logical_id).short_of_time[function_logical_id] = checks
