"""The `sunset` command: exit codes and what a person sees."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sunset.cli import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, main
from sunset.manifest import Action, Manifest
from sunset.request import parse_request

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


def test_the_sample_dry_run_input_prints_its_plan_and_the_copied_manifest_changed_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the ready-to-paste rehearsal runs in the sandbox
    code = main(
        [
            "run",
            "--input",
            str(EVENTS / "decommission-dry-run.json"),
            "--name",
            "rehearsal",
            "--out",
            str(tmp_path),
        ]
    )
    # Then the plan is printed, and the manifest shows only planned changes
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "Plan for chat-assistant (dry run rehearsal: nothing was changed)" in out
    assert "rds:StopDBCluster chat-assistant-vectors" in out
    manifest = Manifest.model_validate_json((tmp_path / "rehearsal" / "manifest.json").read_text())
    changes = [a for a in manifest.actions if a.is_aws_change]
    assert changes and {a.result for a in changes} == {"planned"}
    assert f"Plan:     {tmp_path / 'rehearsal' / 'plan.json'}" in out
    assert (tmp_path / "rehearsal" / "plan.json").exists()


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


def _folder_run(tmp_path: Path, run_id: str, **files: bytes) -> None:
    folder = tmp_path / run_id
    folder.mkdir()
    for name, body in files.items():
        (folder / name.replace("_", ".")).write_bytes(body)


def _running_manifest(run_id: str) -> bytes:
    started = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    request = parse_request(json.loads((EVENTS / "decommission-minimal.json").read_text()))
    manifest = Manifest(
        run_id=run_id,
        service=request.service,
        request=request,
        started_at=started,
        actions=[
            Action(
                at=started,
                phase="Remove API routes",
                action="apigatewayv2:DeleteRoute",
                resource="http-api/a1/route/r1",
                result="ok",
            )
        ],
    )
    return manifest.model_dump_json().encode()


def test_report_of_a_run_in_progress_shows_how_it_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run that has not ended: a manifest, no audit.jsonl, no report yet
    _folder_run(tmp_path, "r1", manifest_json=_running_manifest("r1"))
    # When
    code = main(["report", "r1", "--from", str(tmp_path)])
    # Then the report is drawn from the manifest's own records, and says so
    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert "the run has not ended" in captured.err
    assert "apigatewayv2:DeleteRoute" in captured.out
    assert "sunset restore r1 --stack STACK" in captured.out


@pytest.mark.parametrize(
    ("run_id", "files", "expected"),
    [
        ("../etc", {}, "'../etc' is not a run id"),
        ("nope", {}, "there is no run 'nope' in"),
        ("latin1", {"manifest_json": "caf\xe9".encode("latin-1")}, "is not UTF-8 text"),
        ("broken", {"manifest_json": b"{not json"}, "manifest.json is not JSON"),
        ("badaudit", {"audit_jsonl": b"[1]\n"}, "audit.jsonl line 1 is not an audit entry"),
    ],
    ids=["path", "missing", "not-utf8", "not-json", "bad-audit"],
)
def test_report_refuses_what_it_cannot_read_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    run_id: str,
    files: dict[str, bytes],
    expected: str,
) -> None:
    # Given artifacts that are missing or not Sunset's
    if files:
        if "manifest_json" not in files:
            files = {"manifest_json": _running_manifest(run_id), **files}
        _folder_run(tmp_path, run_id, **files)
    # When
    code = main(["report", run_id, "--from", str(tmp_path)])
    # Then
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_RUN_FAILED
    assert len(err) == 1 and expected in err[0]


def test_schema_prints_both_inputs_and_writes_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When
    printed = main(["schema"])
    schemas = json.loads(capsys.readouterr().out)
    written = main(["schema", "--write", str(tmp_path)])
    # Then
    assert (printed, written) == (EXIT_OK, EXIT_OK)
    assert set(schemas) == {"decommission-input", "recommission-input"}
    assert schemas["decommission-input"]["required"] == ["service", "selector", "reason"]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["decommission-input.schema.json", "recommission-input.schema.json"]
    assert json.loads((tmp_path / files[0]).read_text()) == schemas["decommission-input"]


def test_plan_names_a_wrong_dry_run_instead_of_overwriting_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A plan sets dry_run itself, but only once the input as written is valid
    bad = str(EVENTS / "malformed" / "dry-run-not-a-boolean.json")
    assert main(["plan", "--input", bad]) == EXIT_USAGE
    assert "dry_run: Input should be a valid boolean" in capsys.readouterr().err
    # and --empty means nothing for a deployed stack, so it is refused there
    sample = str(EVENTS / "decommission-minimal.json")
    assert main(["plan", "--input", sample, "--empty"]) == EXIT_USAGE
    assert "--empty goes with --sandbox" in capsys.readouterr().err
