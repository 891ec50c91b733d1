"""Least privilege, checked in the template: no wildcard action, no unscoped change.

Every Allow statement of every policy in template.yaml (a function's or state machine's
`Policies`, an IAM role's inline policies) is read, and two things are refused:

- an action with a wildcard (`s3:*`, `ec2:Delete*`): a policy names each action it needs;
- an action that changes something (anything but a read: Describe, List, Get, ...) granted on
  `Resource: "*"` without a Condition: a change is scoped by an ARN pattern, or by a condition
  such as `aws:ResourceTag/...` or `iam:PassedToService`.

A few AWS actions have no resource-level permissions at all (CloudWatch Logs' log-delivery
calls, for one). Such an action is allowed unscoped only when the resource justifies it in its
own metadata, next to the policy, where a reviewer sees it:

    Metadata:
      LeastPrivilege:
        Unscoped:
          logs:CreateLogDelivery: "log delivery has no resource-level permissions"

A justification for an action that is not granted unscoped any more is refused too, so the list
cannot go stale. `make lint` runs this: `python -m sunset.local.least_privilege template.yaml`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sunset.local.template import load_template

IAM_POLICY_TYPES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"})
# Verbs that only read. API Gateway's management API authorises by HTTP verb: GET reads.
READ_VERBS = ("Describe", "List", "Get", "Head", "BatchGet", "Query", "Scan", "Search", "Lookup")
READ_ACTIONS = frozenset({"apigateway:GET", "logs:FilterLogEvents"})


def is_read(action: str) -> bool:
    operation = action.split(":", 1)[-1]
    return action in READ_ACTIONS or operation.startswith(READ_VERBS)


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every statement under a resource's policies, whatever form the policies take."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Statement":
                yield from (s for s in _listed(value) if isinstance(s, dict))
            else:
                yield from _statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from _statements(value)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check(template: dict[str, Any]) -> list[str]:
    """Every breach of the two rules in the template, one readable line each."""
    problems: list[str] = []
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        # A function's or state machine's `Policies`, an IAM role's inline policies, or an IAM
        # policy resource's document.
        policies = properties.get("Policies")
        if resource.get("Type") in IAM_POLICY_TYPES:
            policies = properties.get("PolicyDocument")
        for managed in [
            *_listed(properties.get("ManagedPolicyArns") or []),
            *(p for p in _listed(policies or []) if isinstance(p, str)),
        ]:
            problems.append(
                f"{name}: managed policy {managed} grants what this check cannot see; "
                "write the statements out"
            )
        if policies is None:
            continue
        justified: dict[str, str] = (
            (resource.get("Metadata") or {}).get("LeastPrivilege", {}).get("Unscoped", {})
        )
        unscoped: set[str] = set()
        for statement in _statements(policies):
            if statement.get("Effect") != "Allow":
                continue
            negated = sorted({"NotAction", "NotResource"} & set(statement))
            if negated:
                problems.append(
                    f"{name}: an Allow with {' and '.join(negated)} grants everything it does "
                    "not name; name what is allowed"
                )
                continue
            everywhere = "*" in _listed(statement.get("Resource"))
            for action in _listed(statement.get("Action")):
                if "*" in str(action):
                    problems.append(f"{name}: {action} is a wildcard action; name each action")
                elif everywhere and not is_read(action) and "Condition" not in statement:
                    unscoped.add(action)
        for action in sorted(unscoped):
            if not str(justified.get(action, "")).strip():
                problems.append(
                    f"{name}: {action} changes things on Resource '*' with no Condition; scope "
                    "it by ARN or condition, or justify it under Metadata.LeastPrivilege.Unscoped"
                )
        for action in sorted(set(justified) - unscoped):
            problems.append(
                f"{name}: Metadata.LeastPrivilege.Unscoped justifies {action}, which is not "
                "granted unscoped: remove the justification"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    paths = (argv if argv is not None else sys.argv[1:]) or ["template.yaml"]
    failed = False
    for path in paths:
        problems = check(load_template(Path(path)))
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        failed = failed or bool(problems)
        if not problems:
            print(f"{path}: least privilege holds (no wildcard action, no unscoped change)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
