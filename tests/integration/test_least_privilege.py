"""Every AWS call each function makes in the sandbox is allowed by its policy in template.yaml.

moto does not enforce IAM, so a missing permission would only show on a real account, as a run
that fails on its first call. This test records every call the real handlers make during runs
that go down the main paths (a full run with restore tests and stopped databases, its
recommission, a rolled-back run, a halted run's incident, a failing restore), and checks each
against the function's policies.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls, handler_calls
from sunset.local.sample import SampleService, seed_sample_service
from sunset.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
# What SAM's policy templates grant (the parts Sunset's functions rely on).
POLICY_TEMPLATES = {
    "DynamoDBCrudPolicy": [
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem",
    ],
    "SNSPublishMessagePolicy": ["sns:Publish"],
}
# The functions of a run with several targets: the target run test below sees them at work.
TARGET_RUNS = {"StartTargetRunsFunction", "CheckTargetRunsFunction", "ReportTargetRunsFunction"}
# The role a run's target names (target-role.yaml's default RoleName), in a given account.
TARGET_ROLE = "arn:aws:iam::{}:role/sunset-target"
# IAM prefixes that differ from the SDK's signing name.
PREFIX = {"monitoring": "cloudwatch", "tagging": "tag"}
# S3 operations authorised by another action's name.
S3_ACTIONS = {"HeadObject": "s3:GetObject", "ListObjectsV2": "s3:ListBucket"}


def _allowed(
    resource: dict[str, Any], resources: dict[str, Any] | None = None, logical_id: str = ""
) -> list[str]:
    """The actions `resource`'s policies allow; `resources`, the template's, to read the
    managed policies it refers to (`- !Ref AssumeTargetRolePolicy`) and the AWS::IAM::Policy
    resources attached to its role (`<logical_id>Role`, the role SAM makes a function)."""
    actions: list[str] = []
    attached = [
        resource["Properties"]
        for resource in (resources or {}).values()
        if resource["Type"] == "AWS::IAM::Policy"
        and {"Ref": f"{logical_id}Role"} in resource["Properties"]["Roles"]
    ]
    for policy in [*resource["Properties"].get("Policies", []), *attached]:
        if isinstance(policy, str):
            continue
        if set(policy) == {"Ref"} and resources is not None:
            policy = resources[policy["Ref"]]["Properties"]["PolicyDocument"]
        elif "PolicyDocument" in policy:  # an IAM role's inline policy
            policy = policy["PolicyDocument"]
        for name, value in policy.items():
            if name in POLICY_TEMPLATES:
                actions += POLICY_TEMPLATES[name]
            elif name == "Statement":
                for statement in value:
                    if statement.get("Effect") == "Allow":
                        granted = statement["Action"]
                        actions += [granted] if isinstance(granted, str) else granted
    return actions


def _denied(calls: set[tuple[str, str]], allowed: Callable[[str], list[str]]) -> list[str]:
    """`function: action` for each call that what `allowed(function)` grants does not allow."""
    return sorted(
        f"{function}: {action}"
        for function, action in calls
        if not any(fnmatch.fnmatchcase(action, granted) for granted in allowed(function))
    )


def _action(service_model: Any, operation: str) -> str:
    signing = service_model.signing_name
    if signing == "apigateway":  # API Gateway authorises management calls by HTTP verb
        verb = service_model.operation_model(operation).http["method"]
        return f"apigateway:{verb}"
    if signing == "s3" and operation in S3_ACTIONS:
        return S3_ACTIONS[operation]
    return f"{PREFIX.get(signing, signing)}:{operation}"


@pytest.fixture
def calls(sandbox: Sandbox) -> Iterator[set[tuple[str, str]]]:
    """(function logical id, IAM action) for every call made inside a handler."""
    recorded: set[tuple[str, str]] = set()

    def record(function: str, service: Any, operation: str) -> None:
        recorded.add((function, _action(service, operation)))

    with handler_calls(sandbox, record):
        yield recorded


def test_every_call_is_allowed_by_the_functions_own_policy(
    sandbox: Sandbox, service: SampleService, calls: set[tuple[str, str]]
) -> None:
    # Given the main paths: everything on; a recommission that must re-create an endpoint
    # config and model; a rollback; a halted run's incident; a restore that fails; a run whose
    # approval is rejected
    lambdas = sandbox.lambdas
    assert lambdas is not None
    fast = {"poll_seconds": 1, "deadline_seconds": 60}
    full = service.request(
        stop_databases=True,
        backup={**fast, "restore_test": True},
        validation={"quiet_period_seconds": 1},
    )
    assert sandbox.run("decommission", full, name="everything").status == "SUCCEEDED"
    sagemaker = sandbox.client("sagemaker")
    sagemaker.delete_endpoint_config(EndpointConfigName=service.endpoint_configs[0])
    sagemaker.delete_model(ModelName=service.models[0])
    restore = {"run_id": "everything", **fast}
    assert sandbox.run("recommission", restore, name="restore").status == "SUCCEEDED"

    def crash(*_args: Any) -> None:
        raise RuntimeError("injected")

    sandbox.before("ValidateShutdownFunction", crash)
    rollback = service.request(stop_databases=True, backup=fast)
    assert "Rolled back" in sandbox.run("decommission", rollback, name="rollback").states_entered
    lambdas.clear_hooks()
    sandbox.before(
        "CutAccessFunction",
        lambda *_: sandbox.client("apigatewayv2").create_route(
            ApiId=service.http_api_id, RouteKey="GET /late"
        ),
    )
    halted = service.request(on_failure="halt", backup={**fast, "restore_test": True})
    assert sandbox.run("decommission", halted, name="incident").status == "FAILED"
    lambdas.clear_hooks()
    sandbox.before("VerifyRestoreFunction", crash)
    failing = {"run_id": "rollback", **fast}
    assert sandbox.run("recommission", failing, name="restore-fails").status == "FAILED"
    lambdas.clear_hooks()
    gated = service.request(approval={"required": True, "timeout_seconds": 60})
    arn = sandbox.start("decommission", gated, name="not-approved")
    sandbox.wait_for_approval_request("not-approved")
    sandbox.reject("not-approved", by="auditor", reason="least-privilege check")
    assert sandbox.wait(arn).error == "Cancelled"
    # When each recorded call is checked against the template
    resources = load_template(ROOT / "template.yaml")["Resources"]
    denied = _denied(calls, lambda function: _allowed(resources[function], resources, function))
    # Then nothing would be denied on AWS, and the check saw every function at work
    assert denied == [], "\n".join(denied)
    functions = {function for function, _ in calls}
    expected = {
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions == expected - TARGET_RUNS


def test_a_target_run_needs_only_assume_role_at_home_and_target_role_yaml_there(
    sandbox: Sandbox,
) -> None:
    # Given the sample service in a target account and Region, and every call of a handler,
    # by where it went
    account, region = "210987654321", "eu-west-1"
    there = sandbox.session_in(account, region)
    service = seed_sample_service(there)
    lambdas = sandbox.lambdas
    assert lambdas is not None
    at_home: set[tuple[str, str]] = set()
    in_target: set[tuple[str, str]] = set()

    def record(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if lambdas.current is not None:
            made = (lambdas.current, _action(client.meta.service_model, operation))
            (in_target if client.meta.region_name == region else at_home).add(made)
        return call(client, operation, params)

    # When a run there goes down its main paths: everything on, then its recommission; the run
    # names it in a targets list, so that the run for it is started and followed as a target run
    fast = {"poll_seconds": 1, "deadline_seconds": 60}
    target = {"account": account, "region": region, "role_arn": TARGET_ROLE.format(account)}
    full = service.request(
        targets=[target],
        stop_databases=True,
        backup={**fast, "restore_test": True},
        validation={"quiet_period_seconds": 1},
    )
    with api_calls(record):
        assert sandbox.run("decommission", full, name="far").status == "SUCCEEDED"
        restore = {"run_id": f"far--{account}-{region}", **fast}
        assert sandbox.run("recommission", restore, name="far-back").status == "SUCCEEDED"
    # Then at home each function needed only its own policy, AssumeRole included: on AWS each
    # function that calls the target assumes the role in its own execution environment (the
    # sandbox runs them all in one process, which assumes it once per run)
    assert ("PrepareFunction", "sts:AssumeRole") in at_home
    at_home |= {(function, "sts:AssumeRole") for function, _ in in_target}
    resources = load_template(ROOT / "template.yaml")["Resources"]
    denied = _denied(at_home, lambda function: _allowed(resources[function], resources, function))
    assert denied == [], "\n".join(denied)
    assert {function for function, _ in at_home} >= TARGET_RUNS
    # and in the target, the role target-role.yaml creates allowed every call
    role = load_template(ROOT / "target-role.yaml")["Resources"]["SunsetTargetRole"]
    denied = _denied(in_target, lambda _function: _allowed(role))
    assert denied == [], "\n".join(denied)
    assert {action.split(":")[0] for _, action in in_target} >= {"sagemaker", "ec2", "rds"}
