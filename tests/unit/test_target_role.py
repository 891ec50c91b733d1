"""target-role.yaml: the role runs assume in a target account, drawn from template.yaml."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sunset.local import least_privilege
from sunset.local.target_role import render, target_statements
from sunset.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
# IAM's limit on the inline policies of one role, in characters without white space.
ROLE_INLINE_POLICY_LIMIT = 10_240


def test_the_committed_target_role_is_what_template_yaml_says() -> None:
    committed = (ROOT / "target-role.yaml").read_text(encoding="utf-8")
    assert committed == render(ROOT / "template.yaml"), (
        "target-role.yaml is stale: run "
        ".venv/bin/python -m sunset.local.target_role > target-role.yaml"
    )


def test_the_target_role_grants_least_privilege() -> None:
    assert least_privilege.check(load_template(ROOT / "target-role.yaml")) == []


def test_the_target_role_grants_nothing_on_sunsets_own_resources() -> None:
    statements = target_statements(load_template(ROOT / "template.yaml"))
    actions = {action for statement in statements for action in statement["Action"]}
    assert "sagemaker:DeleteEndpoint" in actions
    assert not {a for a in actions if a.split(":")[0] in {"dynamodb", "s3", "sns", "states"}}
    # nor on the stack's own resources (its topic's key): nothing refers to one
    text = json.dumps(statements)
    assert '"Ref"' not in text and "Fn::GetAtt" not in text
    assert "NotificationKey" not in text


def test_the_target_role_may_use_the_services_keys_in_any_region() -> None:
    # Restoring an encrypted snapshot, or re-creating an endpoint whose config names a key,
    # uses the service's KMS keys through EC2, RDS and SageMaker, in the target's Region
    statements = target_statements(load_template(ROOT / "template.yaml"))
    via: set[str] = set()
    for statement in statements:
        if any(action.startswith("kms:") for action in statement["Action"]):
            services = statement["Condition"]["StringLike"]["kms:ViaService"]
            via |= {services} if isinstance(services, str) else set(services)
    assert via == {"ec2.*.amazonaws.com", "rds.*.amazonaws.com", "sagemaker.*.amazonaws.com"}


def test_only_the_stacks_function_roles_are_trusted() -> None:
    template = load_template(ROOT / "template.yaml")
    # Given the functions' roles under the stack's path
    assert template["Globals"]["Function"]["RolePath"] == {"Fn::Sub": "/${AWS::StackName}/"}
    # Then the target role trusts that path in Sunset's account, and nothing wider
    role = load_template(ROOT / "target-role.yaml")["Resources"]["SunsetTargetRole"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${SunsetAccountId}:root"}
    }
    assert trust["Condition"] == {
        "ArnLike": {
            "aws:PrincipalArn": {
                "Fn::Sub": "arn:${AWS::Partition}:iam::${SunsetAccountId}:role/${SunsetStackName}/*"
            }
        }
    }


def test_the_target_role_policy_fits_iam_inline_policy_limit() -> None:
    # Given the policy as IAM would store it, its ${...} substituted by the longest values
    statements = target_statements(load_template(ROOT / "template.yaml"))
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    text = re.sub(r"\$\{AWS::Partition\}", "aws-us-gov", text)
    text = re.sub(r"\$\{AWS::AccountId\}", "123456789012", text)
    text = text.replace('{"Fn::Sub": ', "").replace('"}', '"')
    # Then it fits, with white space left out as IAM counts
    assert len(re.sub(r"\s", "", text)) < ROLE_INLINE_POLICY_LIMIT


def test_a_region_in_a_condition_is_widened_only_where_it_widens_the_grant() -> None:
    # Given a function statement whose condition names the Region under StringNotLike, where
    # * would deny more instead of granting more
    template = load_template(ROOT / "template.yaml")
    statement = {
        "Effect": "Allow",
        "Action": "ec2:CreateSnapshot",
        "Resource": "*",
        "Condition": {"StringNotLike": {"aws:RequestedRegion": {"Fn::Sub": "${AWS::Region}"}}},
    }
    policies = template["Resources"]["BackupFunction"]["Properties"]["Policies"]
    policies.append({"Statement": [statement]})
    # Then the role is not drawn
    with pytest.raises(ValueError, match="StringNotLike condition names"):
        target_statements(template)
