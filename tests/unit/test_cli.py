"""The `sunset` command: exit codes and what a person sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sunset.cli import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, main

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_demo_decommissions_the_sample_service_saves_the_report_and_can_restore_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When
    code = main(["demo", "--restore", "--out", str(tmp_path)])
    # Then
    out = capsys.readouterr().out
    assert code == EXIT_OK
    for state in (
        "Prepare",
        "Discover resources",
        "Back up",
        "Remove API routes",
        "Stop endpoints",
    ):
        assert f"  {state} " in out
    assert "12 resource(s) in scope, 1 protected" in out
    assert "shutdown completed" in out
    reports = list(tmp_path.glob("*/report.md"))
    assert len(reports) == 1 and "# Sunset report: chat-assistant" in reports[0].read_text()
    # and with --restore, the same sandbox brings the service back and lists both runs
    for state in ("Begin restore", "Restart compute", "Restore API routes", "Verify restore"):
        assert f"  {state} " in out
    assert "SUCCEEDED: the service is back, verified" in out
    assert "service restored" in out
    assert "recommission  chat-assistant" in out and "RESTORED" in out
    assert "## Restores" in reports[0].read_text()
    # and `sunset report --from` shows what the demo copied out
    run_id = reports[0].parent.name
    assert main(["report", run_id, "--from", str(tmp_path)]) == EXIT_OK
    assert capsys.readouterr().out == reports[0].read_text()
    assert (reports[0].parent / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_bad_input_file_fails_with_one_line_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When
    code = main(
        ["run", "--input", str(EVENTS / "malformed" / "unknown-field.json"), "--out", str(tmp_path)]
    )
    # Then
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_RUN_FAILED
    assert len(err) == 1
    assert "InvalidRequest" in err[0] and "shutdown_now: unknown field" in err[0]


def test_unreadable_input_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--input", "/nonexistent.json"])
    assert stopped.value.code == EXIT_USAGE
    assert capsys.readouterr().err.startswith("sunset: cannot read /nonexistent.json")


def test_a_sandbox_run_that_asks_for_approval_is_answered_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an input that needs approval
    request = {
        "service": "chat-assistant",
        "selector": {"tags": {"app": "chat-assistant"}},
        "reason": "cost freeze",
        "approval": {"required": True, "timeout_seconds": 120},
    }
    path = tmp_path / "input.json"
    path.write_text(json.dumps(request))
    # When the person rejects it
    argv = ["run", "--input", str(path), "--name", "gated", "--out", str(tmp_path)]
    code = main([*argv, "--reject", "alice", "not this week"])
    # Then the run is cancelled, with who and why
    out, err = capsys.readouterr()
    assert code == EXIT_RUN_FAILED
    assert "answered the approval request: run gated rejected by alice" in out
    assert "shutdown CANCELLED, nothing changed" in out
    assert "The approval was rejected: not this week (by alice)" in err
