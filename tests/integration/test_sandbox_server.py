"""`sunset sandbox serve`: the sandbox as a local AWS endpoint, driven by the real AWS CLI (from
.venv-awscli, which `make test` installs) in another process, as a person would drive it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AWS = Path(os.environ.get("SUNSET_AWS_CLI", ROOT / ".venv-awscli" / "bin" / "aws"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    """A `sunset sandbox serve` process, up and answering; stopped with SIGTERM after."""
    if not AWS.exists():
        why = f"the AWS CLI is not installed at {AWS}: `make test` installs it"
        if os.environ.get("SUNSET_REQUIRE_AWS_CLI"):
            pytest.fail(why)
        pytest.skip(why)
    port = _free_port()
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "sunset.cli", "sandbox", "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 120
        while "Serving the sandbox" not in (tmp_path / "serve.log").read_text():
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the sandbox did not come up in 120 s"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert "Stopped." in (tmp_path / "serve.log").read_text()


def _aws(endpoint: str, *arguments: str) -> dict[str, object]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    done = subprocess.run(
        [str(AWS), "--endpoint-url", endpoint, "--output", "json", *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout)) if done.stdout.strip() else {}


def test_the_aws_cli_decommissions_the_demo_service_through_the_served_sandbox(
    endpoint: str,
) -> None:
    # Given the served sandbox's decommission machine, found as a person would find it
    machines = _aws(endpoint, "stepfunctions", "list-state-machines")["stateMachines"]
    assert isinstance(machines, list)
    arn = next(m["stateMachineArn"] for m in machines if "Decommission" in m["name"])
    # When the AWS CLI starts a decommission of the sample service with a ready-made input
    started = _aws(
        endpoint,
        "stepfunctions",
        "start-execution",
        "--state-machine-arn",
        arn,
        "--name",
        "from-the-cli",
        "--input",
        "file://events/decommission-minimal.json",
    )
    execution = str(started["executionArn"])
    deadline = time.monotonic() + 180
    while (
        status := _aws(
            endpoint, "stepfunctions", "describe-execution", "--execution-arn", execution
        )
    )["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the run did not end in 180 s"
        time.sleep(1)
    # Then it ran to the end, and its report is in the bucket
    assert status["status"] == "SUCCEEDED", status
    output = json.loads(str(status["output"]))
    assert (output["run_id"], output["service"]) == ("from-the-cli", "chat-assistant")
    bucket = output["report"].split("/")[2]
    listing = _aws(
        endpoint, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "runs/from-the-cli/"
    )
    keys = {item["Key"] for item in listing["Contents"]}  # type: ignore[attr-defined]
    assert {"runs/from-the-cli/report.md", "runs/from-the-cli/report.html"} <= keys
