"""The role a run assumes in a target account, drawn from template.yaml: target-role.yaml.

A run with a `target` (docs/targets.md) makes every call to the service's resources as this
role, in the target's account. So the role needs what the functions' own policies grant on the
service's resources, no more: every Allow statement of a function whose actions are all on the
service's resources (SageMaker, EC2, RDS, API Gateway, ...) is taken, with `${AWS::Region}`
widened to every Region (one role serves each Region of its account), and statements that
grant on the same resources under the same condition are merged. What the functions do in
Sunset's own account (its bucket, table, topic, state machines) stays out.

A test keeps the committed target-role.yaml equal to what this draws from template.yaml, so the
two cannot drift: regenerate with `python -m sunset.local.target_role > target-role.yaml`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from sunset.local.least_privilege import is_read
from sunset.local.template import load_template

# IAM prefixes of services Sunset uses only for its own state, in its own account. KMS is not
# one: restore tests and endpoint re-creation use the service's keys too. A statement on one
# of the stack's own resources (its bucket, table, topic key...) is Sunset's, whatever the
# service.
HOME_PREFIXES = frozenset({"dynamodb", "s3", "sns", "states", "sqs", "scheduler", "sts"})

_HEADER = """\
# Generated from template.yaml by `python -m sunset.local.target_role`: do not edit by hand.
# Deploy it in every account a Sunset run may target (docs/targets.md), in any one Region.
"""


def _names_the_stack(value: Any, logical_ids: set[str]) -> bool:
    """Whether `value` (a statement's Resource) refers to one of the template's own resources:
    a Ref, a GetAtt, or a ${LogicalId...} in a Sub."""
    if isinstance(value, dict):
        if "Ref" in value or "Fn::GetAtt" in value:
            target = value.get("Ref") or value["Fn::GetAtt"]
            name = target[0] if isinstance(target, list) else str(target).split(".")[0]
            return name in logical_ids
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            named = re.findall(r"\$\{([A-Za-z0-9]+)[.}]", value["Fn::Sub"])
            return any(name in logical_ids for name in named)
        return any(_names_the_stack(item, logical_ids) for item in value.values())
    if isinstance(value, list):
        return any(_names_the_stack(item, logical_ids) for item in value)
    return False


def _function_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    own = set(template["Resources"])
    statements: list[dict[str, Any]] = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            if not isinstance(policy, dict):
                continue
            for statement in policy.get("Statement", []):
                if statement.get("Effect") != "Allow":
                    continue
                actions = statement["Action"]
                actions = [actions] if isinstance(actions, str) else list(actions)
                prefixes = {action.split(":", 1)[0] for action in actions}
                if "Resource" not in statement:
                    raise ValueError(
                        f"{logical_id}: a statement with no Resource (NotResource?) cannot be "
                        "sorted into Sunset's own or the service's"
                    )
                if prefixes <= HOME_PREFIXES or _names_the_stack(statement["Resource"], own):
                    continue
                if prefixes & HOME_PREFIXES:
                    raise ValueError(
                        f"{logical_id}: a statement grants {sorted(actions)}, on Sunset's own "
                        "resources and the service's at once: split it in template.yaml"
                    )
                statements.append({**statement, "Action": actions})
    return statements


def _any_region(value: Any) -> Any:
    """`value` with ${AWS::Region} replaced by *, in every Fn::Sub."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"].replace("${AWS::Region}", "*")
            return {"Fn::Sub": text} if "${" in text else text
        return {key: _any_region(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_any_region(item) for item in value]
    return value


def _any_region_condition(condition: dict[str, Any] | None) -> dict[str, Any] | None:
    """A condition with ${AWS::Region} widened to *, which only the *Like operators read as a
    wildcard: under any other, widening would deny instead, so it is refused."""
    if condition is None:
        return None
    for operator, tests in condition.items():
        widens = "Like" in operator and "NotLike" not in operator
        if "${AWS::Region}" in json.dumps(tests) and not widens:
            raise ValueError(
                f"a {operator} condition names ${{AWS::Region}}: the target role serves every "
                "Region, and * widens a grant only under StringLike or ArnLike"
            )
    widened: dict[str, Any] = _any_region(condition)
    return widened


def target_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The Allow statements of the target role, merged by resource and condition."""
    merged: dict[str, dict[str, Any]] = {}
    for statement in _function_statements(template):
        resource = _any_region(statement["Resource"])
        condition = _any_region_condition(statement.get("Condition"))
        key = json.dumps([resource, condition], sort_keys=True)
        entry = merged.setdefault(
            key,
            {"Effect": "Allow", "Action": set(), "Resource": resource}
            | ({"Condition": condition} if condition else {}),
        )
        entry["Action"] |= set(statement["Action"])
    statements = [{**entry, "Action": sorted(entry["Action"])} for entry in merged.values()]
    # Reads on every resource first, then by first action: a stable, readable order.
    return sorted(statements, key=lambda s: (s["Resource"] != "*", s["Action"][0]))


def _justifications(template: dict[str, Any], statements: list[dict[str, Any]]) -> dict[str, str]:
    """The functions' reasons for the changes granted on Resource "*" (least_privilege), for
    the actions the role grants that way too."""
    unscoped = {
        action
        for statement in statements
        if statement["Resource"] == "*" and "Condition" not in statement
        for action in statement["Action"]
        if not is_read(action)
    }
    reasons: dict[str, str] = {}
    for resource in template["Resources"].values():
        justified = (resource.get("Metadata") or {}).get("LeastPrivilege", {}).get("Unscoped", {})
        for action, why in justified.items():
            if action in unscoped:
                reasons.setdefault(action, why)
    return dict(sorted(reasons.items()))


def target_role_template(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template of the target role, as data."""
    statements = target_statements(template)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "The role Sunset assumes in this account to shut a service down here, "
        "and to bring it back (docs/targets.md).",
        "Parameters": {
            "SunsetAccountId": {
                "Type": "String",
                "AllowedPattern": "^\\d{12}$",
                "Description": "The account Sunset is deployed in.",
            },
            "SunsetStackName": {
                "Type": "String",
                "Default": "sunset",
                "Description": "The name of Sunset's stack there: the roles under its path "
                "(its functions') may assume this role.",
            },
            "RoleName": {
                "Type": "String",
                "Default": "sunset-target",
                "Description": "Sunset's TargetRoleName parameter.",
            },
        },
        "Resources": {
            "SunsetTargetRole": {
                "Type": "AWS::IAM::Role",
                # Checked by sunset.local.least_privilege, as template.yaml is.
                "Metadata": {"LeastPrivilege": {"Unscoped": _justifications(template, statements)}},
                "Properties": {
                    "RoleName": {"Ref": "RoleName"},
                    "MaxSessionDuration": 3600,
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {
                                    "AWS": {
                                        "Fn::Sub": "arn:${AWS::Partition}:iam::"
                                        "${SunsetAccountId}:root"
                                    }
                                },
                                "Action": "sts:AssumeRole",
                                "Condition": {
                                    # template.yaml puts its functions' roles, and nothing
                                    # else, under the path /<stack name>/ (RolePath).
                                    "ArnLike": {
                                        "aws:PrincipalArn": {
                                            "Fn::Sub": "arn:${AWS::Partition}:iam::"
                                            "${SunsetAccountId}:role/${SunsetStackName}/*"
                                        }
                                    }
                                },
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": "shut-down-and-bring-back",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": statements,
                            },
                        }
                    ],
                },
            }
        },
        "Outputs": {
            "RoleArn": {
                "Description": "The role_arn of a run's target in this account.",
                "Value": {"Fn::GetAtt": ["SunsetTargetRole", "Arn"]},
            }
        },
    }


def render(template_path: Path) -> str:
    """target-role.yaml's text, drawn from the template at `template_path`."""
    body = yaml.safe_dump(
        target_role_template(load_template(template_path)),
        sort_keys=False,
        width=100,
        default_flow_style=False,
    )
    return _HEADER + body


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path("template.yaml")
    sys.stdout.write(render(path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
