"""A sandbox invocation's environment is its own thread's: the rest of the process never sees it
change (CI once caught botocore iterating os.environ while an invocation removed a variable)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sunset.local.lambda_runtime import FunctionEnvironment, InProcessLambdas
from sunset.local.template import FunctionSource

# The handler below blocks on these, so the test can look at os.environ mid-invocation.
STARTED = threading.Event()
RELEASE = threading.Event()

HANDLER = f"""
import os
import sys

gate = sys.modules[{__name__!r}]


def handler(event, context):
    seen = os.environ["ONLY_IN_FUNCTION"]
    gate.STARTED.set()
    gate.RELEASE.wait(10)
    return {{"seen": seen, "region": os.environ.get("AWS_REGION_FOR_TEST")}}
"""


@pytest.fixture
def lambdas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessLambdas]:
    (tmp_path / "app.py").write_text(HANDLER)
    monkeypatch.setenv("AWS_REGION_FOR_TEST", "eu-west-1")
    monkeypatch.delenv("ONLY_IN_FUNCTION", raising=False)
    source = FunctionSource(
        logical_id="Probe",
        function_name="sunset-Probe",
        code_dir=tmp_path,
        handler="app.handler",
        environment={"ONLY_IN_FUNCTION": "function value"},
    )
    runtime = InProcessLambdas({source.function_name: source})
    runtime.install()
    STARTED.clear()
    RELEASE.clear()
    try:
        yield runtime
    finally:
        RELEASE.set()
        runtime.uninstall()


def test_other_threads_never_see_an_invocation_change_the_environment(
    lambdas: InProcessLambdas,
) -> None:
    # Given an invocation running on another thread, as moto's executions do
    results: list[tuple[str, bool, str]] = []
    arn = "arn:aws:lambda:us-east-1:123456789012:function:sunset-Probe"
    worker = threading.Thread(
        target=lambda: results.append(lambdas.invoke("sunset-Probe", arn, "{}"))
    )
    before = dict(os.environ)
    worker.start()
    assert STARTED.wait(10), "the handler never started"
    # When this thread reads the environment mid-invocation
    during = {name: value for name, value in os.environ.items()}
    # Then it is the process's, without the function's variable
    assert "ONLY_IN_FUNCTION" not in os.environ
    assert during == before
    RELEASE.set()
    worker.join(10)
    # And the handler saw its own variable over the process's
    payload, failed, _ = results[0]
    assert not failed, payload
    assert payload == '{"seen": "function value", "region": "eu-west-1"}'
    assert dict(os.environ) == before


def test_uninstall_gives_the_process_its_own_environment_back() -> None:
    original = os.environ
    runtime = InProcessLambdas({})
    runtime.install()
    try:
        assert os.environ is not original
    finally:
        runtime.uninstall()
    assert os.environ is original


def test_what_a_handler_writes_stays_in_its_own_environment() -> None:
    process = {"SHARED": "process", "PROCESS_ONLY": "p"}
    environ = FunctionEnvironment(process)
    with environ.function({"SHARED": "function"}):
        # Reads see the function's variables over the process's
        assert environ["SHARED"] == "function" and environ["PROCESS_ONLY"] == "p"
        # Writes and deletions, of the function's variables or the process's, stay here
        environ["NEW"] = "n"
        del environ["PROCESS_ONLY"]
        assert environ.setdefault("PROCESS_ONLY", "again") == "again"
        assert environ.pop("SHARED") == "function"
        assert "SHARED" not in environ and environ.get("SHARED") is None
        assert environ.copy() == {"NEW": "n", "PROCESS_ONLY": "again"}
        with pytest.raises(KeyError):
            del environ["SHARED"]
    # and the process never saw any of it
    assert process == {"SHARED": "process", "PROCESS_ONLY": "p"}
    assert dict(environ) == process
    # Outside a function, the process environment is read and written as it is
    environ["LATER"] = "l"
    assert process["LATER"] == "l"
