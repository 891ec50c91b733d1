"""Nothing secret is logged: no credentials, no task token, at the most verbose settings."""

from __future__ import annotations

import pytest

from sunset.local import Sandbox
from sunset.local import sandbox as sandbox_module
from sunset.local.sample import seed_sample_service
from tests.conftest import FAST, Inbox

SECRET_KEY = "secret-key-7f3a9c1e5b"
SESSION_TOKEN = "session-token-2d8e6a4f0c"


def test_a_run_logs_no_credentials_and_no_task_token(
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given recognisable credentials, the functions at DEBUG, and Powertools asked (by the
    # environment variable an operator would set while debugging) to log every event
    monkeypatch.setitem(sandbox_module._SANDBOX_ENV, "AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setitem(sandbox_module._SANDBOX_ENV, "AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    with Sandbox(parameters={"LogLevel": "DEBUG"}) as sandbox:
        service = seed_sample_service(sandbox.session)
        inbox = Inbox(sandbox)
        request = service.request(backup=FAST, approval={"required": True, "timeout_seconds": 300})
        # When a run asks for approval, is approved and completes
        arn = sandbox.start("decommission", request, name="quiet")
        sandbox.wait_for_approval_request("quiet")
        sandbox.approve("quiet", by="alice")
        assert sandbox.wait(arn).status == "SUCCEEDED"
        token = inbox.wait_for("APPROVAL").document["facts"]["task_token"]
    # Then the functions did log, and none of it carries a secret
    # Wherever the lines went: the process's output, or the log records themselves with every
    # field Powertools adds (under xdist the records are where they are).
    captured = capfd.readouterr()
    records = [f"{record.getMessage()} {vars(record)}" for record in caplog.records]
    logs = "\n".join([captured.out, captured.err, *records])
    assert "step done" in logs and "ANNOUNCED sent as message" in logs
    assert len(token) > 20
    for secret in (token, SECRET_KEY, SESSION_TOKEN):
        assert secret not in logs
