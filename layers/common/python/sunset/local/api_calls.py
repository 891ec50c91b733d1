"""A hand on every boto3 call in the process: how tests inject faults and how the benchmark
counts calls, under the handlers' real code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import botocore.client

if TYPE_CHECKING:
    from sunset.local.sandbox import Sandbox

# Makes one boto3 call: (client, operation name, params) -> response.
ApiCall = Callable[[Any, str, Any], Any]


@contextmanager
def api_calls(intercept: Callable[[ApiCall, Any, str, Any], Any]) -> Iterator[None]:
    """Every boto3 call made in this process meanwhile (the tests', the handlers') goes through
    `intercept(call, client, operation, params)`, which makes it with `call`, or not. Under
    the SDK's own retries: what it raises reaches the caller as AWS's answer would."""
    original: ApiCall = botocore.client.BaseClient._make_api_call

    def intercepted(client: Any, operation: str, params: Any) -> Any:
        return intercept(original, client, operation, params)

    botocore.client.BaseClient._make_api_call = intercepted
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = original


@contextmanager
def handler_calls(sandbox: Sandbox, note: Callable[[str, Any, str], None]) -> Iterator[None]:
    """Every AWS call a Lambda handler makes meanwhile is passed to `note(function logical id,
    the client's botocore service model, operation)`, then made as usual. Calls made outside
    the handlers (a test's own) are left out."""
    lambdas = sandbox.lambdas
    assert lambdas is not None, "the sandbox is not running"

    def noted(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if lambdas.current is not None:
            note(lambdas.current, client.meta.service_model, operation)
        return call(client, operation, params)

    with api_calls(noted):
        yield
