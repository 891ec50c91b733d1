"""`sunset restore` and `sunset runs` against a deployed stack, found by its CloudFormation
outputs. Here the "deployed" stack is the sandbox's, registered in moto's CloudFormation under
a stack name, so the commands take exactly the path they take on AWS."""

from __future__ import annotations

import json

import pytest

from sunset.cli import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, main
from sunset.local import Sandbox
from sunset.local.sample import SampleService
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import FAST, sample_shape


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
