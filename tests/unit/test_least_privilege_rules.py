"""The least-privilege check `make lint` runs on template.yaml: sunset.local.least_privilege."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sunset.local.least_privilege import check, main
from sunset.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def _function(statements: list[dict[str, Any]], unscoped: dict[str, str] | None = None) -> Any:
    resource: dict[str, Any] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Policies": [{"DynamoDBCrudPolicy": {"TableName": "t"}}, {"Statement": statements}]
        },
    }
    if unscoped is not None:
        resource["Metadata"] = {"LeastPrivilege": {"Unscoped": unscoped}}
    return {"Resources": {"Fn": resource}}


def test_the_template_holds() -> None:
    assert check(load_template(ROOT / "template.yaml")) == []
    assert main([str(ROOT / "template.yaml")]) == 0


def test_a_wildcard_action_is_refused_wherever_it_points() -> None:
    template = _function([{"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b/*"}])
    assert check(template) == ["Fn: s3:* is a wildcard action; name each action"]


def test_a_change_on_every_resource_needs_a_scope_a_condition_or_a_reason() -> None:
    statement = {
        "Effect": "Allow",
        "Action": ["ec2:DeleteSnapshot", "ec2:DescribeSnapshots"],
        "Resource": "*",
    }
    # Unscoped, unjustified: refused (the read beside it is fine)
    [problem] = check(_function([statement]))
    assert problem.startswith("Fn: ec2:DeleteSnapshot changes things on Resource '*'")
    # Scoped by a condition: fine
    tagged = {**statement, "Condition": {"StringEquals": {"aws:ResourceTag/sunset:run-id": "x"}}}
    assert check(_function([tagged])) == []
    # Justified next to the policy: fine, unless the reason is blank
    assert check(_function([statement], {"ec2:DeleteSnapshot": "no ARN to scope by"})) == []
    assert len(check(_function([statement], {"ec2:DeleteSnapshot": " "}))) == 1


def test_a_justification_for_what_is_no_longer_unscoped_is_refused() -> None:
    scoped = {"Effect": "Allow", "Action": "rds:StopDBInstance", "Resource": "arn:aws:rds:*:*:db:*"}
    [problem] = check(_function([scoped], {"rds:StopDBInstance": "was unscoped once"}))
    assert "justifies rds:StopDBInstance, which is not granted unscoped" in problem


def test_an_iam_roles_inline_policies_are_read_too(tmp_path: Path) -> None:
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Policies": [
                {
                    "PolicyName": "p",
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"}
                        ]
                    },
                }
            ]
        },
    }
    [problem] = check({"Resources": {"Role": role}})
    assert problem.startswith("Role: states:StartExecution changes things")
    path = tmp_path / "bad.yaml"
    path.write_text(
        "Resources:\n"
        "  Role:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      Policies:\n"
        "        - PolicyName: p\n"
        "          PolicyDocument:\n"
        "            Statement:\n"
        "              - {Effect: Allow, Action: 'sns:*', Resource: '*'}\n"
    )
    assert main([str(path)]) == 1


def test_the_artifacts_bucket_refuses_every_request_without_tls() -> None:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    document = resources["ArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]
    [deny] = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(deny["Resource"]) == 2  # the bucket and every object in it


def test_every_form_a_grant_can_take_is_read() -> None:
    # A statement given alone rather than in a list
    alone = {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}
    single = {
        "Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {"Policies": [{"Statement": alone}]},
        }
    }
    assert check({"Resources": single})[0].startswith("Fn: sns:Publish changes things")
    # NotAction and NotResource grant what they do not name
    negated = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert "grants everything it does not name" in check(_function([negated]))[0]
    # An IAM policy resource, and managed policies
    policy = {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyDocument": {"Statement": [alone]}, "Roles": ["r"]},
    }
    assert check({"Resources": {"P": policy}})[0].startswith("P: sns:Publish changes things")
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
    }
    assert (
        "managed policy arn:aws:iam::aws:policy/AdministratorAccess"
        in check({"Resources": {"R": role}})[0]
    )
    named = {"Type": "AWS::Serverless::Function", "Properties": {"Policies": ["AWSLambdaRole"]}}
    assert "managed policy AWSLambdaRole" in check({"Resources": {"F": named}})[0]
