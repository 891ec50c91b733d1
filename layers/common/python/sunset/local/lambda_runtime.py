"""Run Lambda invocations in this process: our real handlers, against the same moto state.

moto's Lambda backend normally starts a Docker container per invocation. The sandbox replaces
`LambdaFunction._invoke_lambda` so that the deployed function's handler is imported from
functions/ and called here, with that function's environment, returning what Lambda would: the
JSON result, or an error payload {errorType, errorMessage, stackTrace} that Step Functions turns
into the error name the ASL catches.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sunset.local.template import FunctionSource

Hook = Callable[[str, dict[str, Any]], None]


class FunctionEnvironment(MutableMapping[str, str]):
    """`os.environ` while the sandbox runs: the process's variables, and on the thread running a
    handler, that function's variables over them.

    Invocations run on moto's execution threads while the test or CLI thread goes on. Writing a
    function's variables into the process environment and taking them out again changed it
    under whoever was iterating it at that moment: botocore iterates it for proxy settings on
    every client it creates, and CI saw a KeyError. Here an invocation only sets a thread-local
    reference, and iteration walks a copy. Threads a handler starts itself see the process
    environment only; our handlers read their settings on entry (`toolkit_from_env`). So do
    subprocesses (they inherit the C-level environment): no handler starts one.
    """

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process
        self._local = threading.local()

    @contextmanager
    def function(self, variables: dict[str, str]) -> Iterator[None]:
        """This thread sees `variables` over the process environment until the block ends."""
        outer = getattr(self._local, "variables", None)
        self._local.variables = dict[str, str | None](variables)
        try:
            yield
        finally:
            self._local.variables = outer

    def _overlay(self) -> dict[str, str | None] | None:
        """This thread's function variables, if it runs a handler; None marks one deleted."""
        variables: dict[str, str | None] | None = getattr(self._local, "variables", None)
        return variables

    def copy(self) -> dict[str, str]:
        """A plain dict, as `os.environ.copy()` returns."""
        merged: dict[str, str | None] = {**self.process, **(self._overlay() or {})}
        return {name: value for name, value in merged.items() if value is not None}

    def __getitem__(self, name: str) -> str:
        variables = self._overlay()
        if variables is None or name not in variables:
            return self.process[name]
        value = variables[name]
        if value is None:
            raise KeyError(name)
        return value

    # On a handler's thread, writes stay in its overlay, as they would stay in its own process.
    def __setitem__(self, name: str, value: str) -> None:
        variables = self._overlay()
        if variables is None:
            self.process[name] = value
        else:
            variables[name] = value

    def __delitem__(self, name: str) -> None:
        variables = self._overlay()
        if variables is None:
            del self.process[name]
            return
        if name not in self:
            raise KeyError(name)
        variables[name] = None

    def __iter__(self) -> Iterator[str]:
        return iter(self.copy())

    def __len__(self) -> int:
        return len(self.copy())

    def items(self) -> Any:
        # Mapping.items() looks each key up again while iterating; a copy cannot lose one.
        return self.copy().items()

    def values(self) -> Any:
        return self.copy().values()


@dataclass
class LambdaContextStandIn:
    """The attributes of the Lambda context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    # Time for this many looks at the clock, then none (Sandbox.run_short_of_time); None: plenty.
    checks_with_time: int | None = None

    def get_remaining_time_in_millis(self) -> int:
        if self.checks_with_time is None:
            return 300_000
        if self.checks_with_time <= 0:
            return 0
        self.checks_with_time -= 1
        return 300_000


class InProcessLambdas:
    def __init__(self, functions: dict[str, FunctionSource]) -> None:
        self.functions = functions
        self._modules: dict[str, ModuleType] = {}
        # One invocation at a time: handlers share module state (cached clients, the logger).
        self._lock = threading.RLock()
        self._environ: FunctionEnvironment | None = None
        self._hooks: list[tuple[str, Hook]] = []
        self._original: Any = None
        self.invocations: list[tuple[str, dict[str, Any]]] = []
        # logical id -> clock checks each invocation has time for (Sandbox.run_short_of_time)
        self.short_of_time: dict[str, int] = {}
        self._running = threading.local()

    @property
    def current(self) -> str | None:
        """The function this thread is running a handler of, if any (for call accounting)."""
        return getattr(self._running, "function", None)

    def before(self, logical_id: str, hook: Hook) -> None:
        """Call `hook(logical_id, event)` just before each invocation of that function."""
        self._hooks.append((logical_id, hook))

    def clear_hooks(self) -> None:
        self._hooks.clear()

    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction

        self._original = LambdaFunction._invoke_lambda
        runtime = self

        def invoke(function: Any, event: str | None = None) -> tuple[str, bool, str]:
            return runtime.invoke(function.function_name, function.function_arn, event)

        LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign,assignment]
        self._environ = FunctionEnvironment(os.environ)
        os.environ = self._environ  # type: ignore[assignment]  # noqa: B003 - a view, not a clear

    def uninstall(self) -> None:
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
            self._original = None
        if self._environ is not None:
            if os.environ is self._environ:
                os.environ = self._environ.process  # type: ignore[assignment]  # noqa: B003
            self._environ = None

    def _module(self, source: FunctionSource) -> ModuleType:
        module_path = source.handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
        if source.function_name not in self._modules:
            spec = importlib.util.spec_from_file_location(
                f"sunset_function_{source.logical_id}", source.code_dir / module_path
            )
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[source.function_name] = module
        return self._modules[source.function_name]

    @contextmanager
    def _environment(self, source: FunctionSource) -> Iterator[None]:
        variables = {
            **source.environment,
            "AWS_LAMBDA_FUNCTION_NAME": source.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        }
        assert self._environ is not None, "install() first"
        with self._environ.function(variables):
            yield

    def invoke(self, function_name: str, arn: str, raw_event: Any) -> tuple[str, bool, str]:
        source = self.functions.get(function_name)
        if source is None:
            return (
                json.dumps(
                    {
                        "errorType": "ResourceNotFoundException",
                        "errorMessage": f"{function_name} is not a sandbox function",
                    }
                ),
                True,
                "",
            )
        event = json.loads(raw_event) if isinstance(raw_event, str | bytes) else (raw_event or {})
        try:
            # Hooks run before the invocation lock, so a hook may itself start and await
            # another execution (that is how the concurrent-run test is made deterministic).
            for logical_id, hook in list(self._hooks):
                if logical_id == source.logical_id:
                    hook(logical_id, event)
            with self._lock, self._environment(source):
                self.invocations.append((source.logical_id, event))
                handler = getattr(self._module(source), source.handler.rsplit(".", 1)[1])
                self._running.function = source.logical_id
                try:
                    context = self._context(function_name, arn)
                    context.checks_with_time = self.short_of_time.get(source.logical_id)
                    result = handler(event, context)
                finally:
                    self._running.function = None
        except Exception as exc:  # noqa: BLE001 - reported the way Lambda reports it
            payload = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return json.dumps(payload), True, ""
        return json.dumps(result), False, ""

    @staticmethod
    def _context(function_name: str, arn: str) -> LambdaContextStandIn:
        return LambdaContextStandIn(
            function_name=function_name,
            memory_limit_in_mb=512,
            invoked_function_arn=arn,
            aws_request_id=str(uuid.uuid4()),
        )
