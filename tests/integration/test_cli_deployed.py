"""`sunset restore`, `sunset runs` and `sunset report` against a deployed stack, found by its
CloudFormation outputs. Here the "deployed" stack is the sandbox's, registered in moto's
CloudFormation under a stack name, so the commands take exactly the path they take on AWS."""

from __future__ import annotations

import json
import re
import webbrowser
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sunset.cli import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, main
from sunset.local import Sandbox
from sunset.local.sample import SampleService, seed_sample_service
from tests.conftest import FAST
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import sample_shape


def _register_stack(sandbox: Sandbox, name: str) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in sandbox.outputs.items()},
    }
    sandbox.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_restore_and_runs_work_on_a_deployed_stack(
    sandbox: Sandbox, service: SampleService, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack named "sunset-prod" that decommissioned the sample service
    _register_stack(sandbox, "sunset-prod")
    before = service_state(sandbox, sample_shape(service))
    assert sandbox.run("decommission", service.request(backup=FAST), name="retire").status == (
        "SUCCEEDED"
    )
    # When the run is restored, then the runs are listed, from the command line
    restored = main(
        [
            "restore",
            "retire",
            "--stack",
            "sunset-prod",
            "--poll-seconds",
            "1",
            "--deadline-seconds",
            "60",
            "--name",
            "restore-retire",
        ]
    )
    listed = main(["runs", "--stack", "sunset-prod"])
    # Then the service is back and both runs show, with their state
    out = capsys.readouterr().out
    assert (restored, listed) == (EXIT_OK, EXIT_OK)
    assert "retire: RESTORED" in out
    assert service_state(sandbox, sample_shape(service)) == before
    lines = {
        line.split()[0]: line
        for line in out.splitlines()
        if line.startswith(("retire", "restore-"))
    }
    assert "decommission" in lines["retire"] and "SUCCEEDED" in lines["retire"]
    assert (
        "recommission" in lines["restore-retire"] and "restores retire" in lines["restore-retire"]
    )


def test_a_refused_restore_exits_1_with_the_reason(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    _register_stack(sandbox, "sunset-prod")
    code = main(["restore", "never-ran", "--stack", "sunset-prod", "--name", "nope"])
    err = capsys.readouterr().err
    assert code == EXIT_RUN_FAILED
    assert "ManifestError" in err and "run never-ran has no manifest" in err


def test_an_unknown_stack_is_a_usage_error(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["runs", "--stack", "no-such-stack"])
    assert stopped.value.code == EXIT_USAGE
    assert "cannot read stack 'no-such-stack'" in capsys.readouterr().err


def test_report_prints_the_post_mortem_opens_it_and_renders_what_is_not_stored(
    sandbox: Sandbox,
    service: SampleService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a deployed stack with a finished run, and a browser that records what it is shown
    _register_stack(sandbox, "sunset-prod")
    assert sandbox.run("decommission", service.request(backup=FAST), name="retire").status == (
        "SUCCEEDED"
    )
    opened: list[str] = []

    def browser_open(uri: str) -> bool:
        opened.append(uri)
        return True

    monkeypatch.setattr(webbrowser, "open", browser_open)
    # When the report is shown, then opened
    shown = main(["report", "retire", "--stack", "sunset-prod"])
    printed = capsys.readouterr().out
    opened_code = main(
        ["report", "retire", "--stack", "sunset-prod", "--open", "--out", str(tmp_path)]
    )
    # Then the Markdown is printed as stored, and the stored HTML is saved and opened
    bucket = sandbox.outputs["ArtifactsBucketName"]
    s3 = sandbox.client("s3")
    stored = s3.get_object(Bucket=bucket, Key="runs/retire/report.md")["Body"].read().decode()
    assert (shown, opened_code) == (EXIT_OK, EXIT_OK)
    assert printed == stored and "# Sunset report: chat-assistant" in printed
    page = tmp_path / "retire" / "report.html"
    assert opened == [page.resolve().as_uri()]
    html = s3.get_object(Bucket=bucket, Key="runs/retire/report.html")["Body"].read().decode()
    assert page.read_text() == html and '<section id="validation">' in html
    # When report.html is not in the bucket (a run of an earlier version), and no browser is
    s3.delete_object(Bucket=bucket, Key="runs/retire/report.html")
    monkeypatch.setattr(webbrowser, "open", lambda uri: False)
    capsys.readouterr()
    code = main(["report", "retire", "--stack", "sunset-prod", "--open", "--out", str(tmp_path)])
    # Then it is rendered from the manifest and audit trail, and the reader is told
    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert "no stored report.html" in captured.err
    assert "No browser to open it here" in captured.out
    html = page.read_text()
    assert "<h2>Audit trail</h2>" in html and "sagemaker:DeleteEndpoint" in html


def test_report_of_an_unknown_run_exits_1_naming_it(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    _register_stack(sandbox, "sunset-prod")
    code = main(["report", "never-ran", "--stack", "sunset-prod"])
    assert code == EXIT_RUN_FAILED
    assert "there is no run 'never-ran' in s3://" in capsys.readouterr().err


def _input_file(tmp_path: Path, request: dict[str, object]) -> str:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(request))
    return str(path)


def test_start_watch_and_status_follow_a_run_on_a_deployed_stack(
    sandbox: Sandbox,
    service: SampleService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a deployed stack and an input file
    _register_stack(sandbox, "sunset-prod")
    path = _input_file(tmp_path, service.request(backup=FAST))
    # When a run is started, then watched to its end, then asked about
    started = main(["start", "--input", path, "--name", "retire", "--stack", "sunset-prod"])
    start_out = capsys.readouterr().out
    watched = main(["watch", "retire", "--stack", "sunset-prod"])
    watch_out = capsys.readouterr().out
    status = main(["status", "retire", "--stack", "sunset-prod"])
    status_out = capsys.readouterr().out
    # Then the run was started without waiting, followed state by state, and ended well
    assert (started, watched, status) == (EXIT_OK, EXIT_OK, EXIT_OK)
    assert "Started retire" in start_out and "sunset watch retire --stack sunset-prod" in start_out
    for state in ("Prepare", "Back up", "Remove API routes", "Stop endpoints", "Report"):
        assert f"  {state} " in watch_out
    assert "retire: SUCCEEDED. Report: s3://" in watch_out
    assert status_out.startswith("retire: decommission SUCCEEDED\n")
    assert "  ended      " in status_out and "  report     s3://" in status_out


def test_status_shows_a_run_waiting_for_approval_and_watch_its_cancellation(
    sandbox: Sandbox,
    service: SampleService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a run on a deployed stack that waits for a person
    _register_stack(sandbox, "sunset-prod")
    request = service.request(approval={"required": True, "timeout_seconds": 300})
    path = _input_file(tmp_path, request)
    assert main(["start", "--input", path, "--name", "gated", "--stack", "sunset-prod"]) == 0
    sandbox.wait_for_approval_request("gated")
    # When its status is asked, then it is rejected and watched
    assert main(["status", "gated", "--stack", "sunset-prod"]) == EXIT_OK
    waiting = capsys.readouterr().out
    reason = ["--by", "carol", "--reason", "not this week"]
    assert main(["reject", "gated", *reason, "--stack", "sunset-prod"]) == EXIT_OK
    watched = main(["watch", "gated", "--stack", "sunset-prod"])
    # Then the status said where it stood and what to do, and watch ends with the cancellation
    assert "gated: decommission RUNNING" in waiting
    assert "  now in     Ask for approval" in waiting
    assert "waiting for a person: sunset approve gated --by NAME" in waiting
    assert watched == EXIT_RUN_FAILED
    err = capsys.readouterr().err
    assert "gated failed: Cancelled:" in err and "not this week" in err


def test_start_refuses_a_bad_input_before_starting_anything(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    _register_stack(sandbox, "sunset-prod")
    bad = str(Path(__file__).resolve().parents[2] / "events" / "malformed" / "wrong-type.json")
    # When
    code = main(["start", "--input", bad, "--stack", "sunset-prod"])
    # Then nothing was started, and the field is named
    assert code == EXIT_USAGE
    assert "approval.required" in capsys.readouterr().err
    machine = sandbox.outputs["DecommissionStateMachineArn"]
    assert (
        sandbox.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"] == []
    )
    # and a run nobody started is named as unknown
    assert main(["status", "never-ran", "--stack", "sunset-prod"]) == EXIT_RUN_FAILED
    assert "there is no run or restore 'never-ran'" in capsys.readouterr().err


def test_plan_dry_runs_on_a_deployed_stack_and_prints_the_plan(
    sandbox: Sandbox,
    service: SampleService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a deployed stack and an input that says nothing about dry runs
    _register_stack(sandbox, "sunset-prod")
    before = service_state(sandbox, sample_shape(service))
    path = _input_file(tmp_path, service.request(stop_databases=True))
    # When
    code = main(["plan", "--input", path, "--name", "what-if", "--stack", "sunset-prod"])
    # Then the plan is printed, one line per change, and nothing changed
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "Plan for chat-assistant (dry run what-if: nothing was changed)" in out
    table = out[out.index("Resource ") :]
    db = service.db_instance
    assert re.search(
        rf"rds-instance/{db} +snapshot taken and verified first +rds:StopDBInstance {db}\n", table
    )
    for endpoint in service.endpoints:
        assert f"sagemaker:DeleteEndpoint sagemaker-endpoint/{endpoint}" in table
    assert "Notices: ANNOUNCED, STARTED, BACKED_UP, ACCESS_REMOVED, STOPPED, COMPLETED" in out
    assert "Nothing was changed. Report: s3://" in out
    assert service_state(sandbox, sample_shape(service)) == before


def test_plan_of_a_run_with_targets_prints_each_target_s_plan(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed stack, and the sample service in a target account and Region
    _register_stack(sandbox, "sunset-prod")
    account, region = "210987654321", "eu-west-1"
    there = sandbox.session_in(account, region)
    remote = seed_sample_service(there)
    before = service_state(there, sample_shape(remote))
    target = {"account": account, "region": region, "role_arn": f"arn:aws:iam::{account}:role/t"}
    path = _input_file(tmp_path, remote.request(targets=[target], backup=FAST))
    # When
    code = main(["plan", "--input", path, "--name", "far", "--stack", "sunset-prod"])
    # Then the target's run's plan is printed under where it acts, and nothing changed there
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert f"In account {account}, Region {region}:" in out
    assert f"(dry run far--{account}-{region}: nothing was changed)" in out
    for endpoint in remote.endpoints:
        assert f"sagemaker:DeleteEndpoint sagemaker-endpoint/{endpoint}" in out
    assert "Nothing was changed. Report: s3://" in out and out.rstrip().endswith("targets.json")
    assert service_state(there, sample_shape(remote)) == before


def test_plan_of_a_run_that_would_fail_exits_1_and_says_where(
    sandbox: Sandbox,
    service: SampleService,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a second run holds the service (a real run in progress, say)
    _register_stack(sandbox, "sunset-prod")
    sandbox.runs_table().acquire_lock(service.name, "someone-else", datetime.now(UTC), 3_600)
    path = _input_file(tmp_path, service.request())
    # When
    code = main(["plan", "--input", path, "--name", "blocked", "--stack", "sunset-prod"])
    # Then
    assert code == EXIT_RUN_FAILED
    err = capsys.readouterr().err
    assert "the dry run blocked failed, so a real run would fail too: ServiceLocked" in err
    assert "someone-else" in err
