"""The execution input contract (DESIGN.md): defaults, and every rejection names its field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sunset.errors import InvalidRequest
from sunset.request import Target, lock_name, parse_duration, parse_request, target_run_id

MINIMAL: dict[str, Any] = {
    "service": "chat-assistant",
    "selector": {"tags": {"app": "chat-assistant"}},
    "reason": "Replaced by chat-v2",
}
TARGET: dict[str, Any] = {
    "account": "210987654321",
    "region": "eu-west-1",
    "role_arn": "arn:aws:iam::210987654321:role/sunset-target",
}


def test_minimal_input_gets_the_documented_defaults() -> None:
    # When
    request = parse_request(MINIMAL)
    # Then
    assert request.contacts == []
    assert request.expected_downtime is None and request.downtime is None
    assert request.resumption_plan == "Run recommission with this run id"
    assert (request.notice_seconds, request.dry_run, request.on_failure) == (0, False, "rollback")
    assert request.approval.model_dump() == {"required": False, "timeout_seconds": 86400}
    assert request.backup.model_dump() == {
        "poll_seconds": 30,
        "deadline_seconds": 21600,
        "restore_test": False,
    }
    assert request.validation.model_dump() == {
        "checks": ["endpoints", "routes", "probes", "traffic", "logs"],
        "quiet_period_seconds": 0,
        "grace_seconds": 30,
        "poll_seconds": 30,
        "deadline_seconds": 1800,
        "error_patterns": ["ERROR", "Traceback"],
    }
    assert request.stop_databases is False
    assert request.target is None


def test_a_target_names_its_account_region_and_role() -> None:
    # When
    request = parse_request({**MINIMAL, "target": TARGET})
    # Then
    assert request.target is not None
    assert request.target.model_dump() == TARGET
    assert request.target.name == "210987654321/eu-west-1"
    # Roles in the other partitions are roles too
    arn = "arn:aws-cn:iam::210987654321:role/sunset-target"
    assert parse_request({**MINIMAL, "target": {**TARGET, "role_arn": arn}}).target


def test_targets_list_every_place_once_and_each_gets_the_request_with_its_own() -> None:
    other = {**TARGET, "region": "us-west-2"}
    request = parse_request({**MINIMAL, "targets": [TARGET, other]})
    assert request.targets is not None and len(request.targets) == 2
    second = request.for_target(request.targets[1])
    assert (second.target, second.targets) == (request.targets[1], None)
    assert second.model_dump(exclude={"target", "targets"}) == request.model_dump(
        exclude={"target", "targets"}
    )
    assert target_run_id("retire", request.targets[1]) == "retire--210987654321-us-west-2"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"targets": [TARGET], "target": TARGET}, "give target or targets, not both"),
        ({"targets": [TARGET, TARGET]}, "targets names 210987654321/eu-west-1 more than once"),
        (
            {"targets": [TARGET], "resources": {"sagemaker_endpoints": ["e"]}},
            "resources lists ids, which belong to one account and Region",
        ),
        ({"targets": []}, "targets: List should have at least 1 item"),
        ({"targets": [TARGET] * 21}, "targets: List should have at most 20 items"),
    ],
)
def test_a_bad_targets_list_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_request({**MINIMAL, **change})


HOME = "arn:aws:states:us-east-1:123456789012:execution:sunset-decommission:run-1"


@pytest.mark.parametrize(
    ("account", "region", "lock"),
    [
        # elsewhere: the service's own lock there
        ("210987654321", "eu-west-1", "svc@210987654321/eu-west-1"),
        ("123456789012", "eu-west-1", "svc@123456789012/eu-west-1"),
        ("210987654321", "us-east-1", "svc@210987654321/us-east-1"),
        # Sunset's own account and Region: the resources a run with no target acts on
        ("123456789012", "us-east-1", "svc"),
    ],
)
def test_a_lock_is_the_service_s_in_its_place(account: str, region: str, lock: str) -> None:
    target = Target(account=account, region=region, role_arn=f"arn:aws:iam::{account}:role/r")
    assert lock_name("svc", target, HOME) == lock
    assert lock_name("svc", None, HOME) == "svc"


def test_a_lock_needs_to_know_where_sunset_runs() -> None:
    target = Target.model_validate(TARGET)
    with pytest.raises(ValueError, match="not an ARN that names an account and a Region"):
        lock_name("svc", target, "run-1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"service": None}, "service: Input should be a valid string"),
        ({"service": "a" * 64}, "service: String should match pattern"),
        ({"service": "chat_assistant"}, "service: String should match pattern"),
        ({"service": "x; rm -rf /"}, "service: String should match pattern"),
        ({"reason": ""}, "reason: String should have at least 1 character"),
        ({"selector": {"tags": {"app": 1}}}, "selector.tags.app: Input should be a valid string"),
        ({"selector": {"labels": {}}}, "selector.labels: unknown field"),
        ({"contacts": "ml-oncall@example.com"}, "contacts: Input should be a valid list"),
        ({"notice_seconds": "0"}, "notice_seconds: Input should be a valid integer"),
        ({"notice_seconds": -1}, "notice_seconds: Input should be greater than or equal to 0"),
        ({"notice_seconds": 2_592_001}, "notice_seconds: Input should be less than or equal to"),
        (
            {"notice_seconds": 60, "cutoff": "2030-01-01T09:00:00Z"},
            "give notice_seconds or cutoff, not both",
        ),
        (
            {"cutoff": "2030-01-01T09:00:00"},
            "cutoff: Value error, '2030-01-01T09:00:00' has no offset",
        ),
        ({"cutoff": "next monday"}, "cutoff: Value error, 'next monday' is not an ISO-8601 date"),
        (
            {"timezone": "Mars/Olympus"},
            "timezone: Value error, 'Mars/Olympus' is not an IANA time zone",
        ),
        # a folder of the zone database: ZoneInfo raises IsADirectoryError for it
        ({"timezone": "America"}, "timezone: Value error, 'America' is not an IANA time zone"),
        ({"on_failure": "ignore"}, "on_failure: Input should be 'rollback' or 'halt'"),
        (
            {"approval": {"timeout_seconds": 0}},
            "approval.timeout_seconds: Input should be greater than 0",
        ),
        (
            {"backup": {"deadline_seconds": 0}},
            "backup.deadline_seconds: Input should be greater than 0",
        ),
        (
            {"validation": {"quiet_period_seconds": -5}},
            "validation.quiet_period_seconds: Input should be",
        ),
        (
            {"validation": {"error_patterns": ["ERROR", "[a-"]}},
            "validation.error_patterns: Value error, '[a-' is not a valid regular expression",
        ),
        (
            {"validation": {"checks": ["endpoints", "pings"]}},
            "validation.checks.1: Input should be 'endpoints', 'routes', 'probes', 'traffic' "
            "or 'logs'",
        ),
        ({"validation": {"checks": []}}, "validation.checks: List should have at least 1 item"),
        (
            {"validation": {"checks": ["logs", "logs"]}},
            "validation.checks: Value error, listed more than once: logs",
        ),
        (
            {"validation": {"checks": ["traffic"]}},
            "validation: Value error, checks is only traffic, and quiet_period_seconds is 0",
        ),
        (
            {"validation": {"grace_seconds": 301}},
            "validation.grace_seconds: Input should be less than or equal to 300",
        ),
        (
            {
                "backup": {"poll_seconds": 30, "deadline_seconds": 27_000, "restore_test": True},
                "validation": {"poll_seconds": 10, "deadline_seconds": 3_600},
            },
            "backup and validation deadline_seconds / poll_seconds allow 900 (backup) + 900 "
            "(restore tests) + 360 (validation) = 2160 polls; at most 1600 fit",
        ),
        (
            {"validation": {"poll_seconds": 1, "deadline_seconds": 3_600}},
            "validation: Value error, deadline_seconds / poll_seconds allows 3600 polls",
        ),
        ({"resources": {"lambda_functions": ["x"]}}, "resources.lambda_functions: unknown field"),
        (
            {"resources": {"ebs_volumes": ["vol 1"]}},
            "resources.ebs_volumes.0: String should match pattern",
        ),
        (
            {"backup": {"poll_seconds": 30, "deadline_seconds": 86_400}},
            "backup: Value error, deadline_seconds / poll_seconds allows 2880 polls",
        ),
        (
            {"expected_downtime": "P"},
            "expected_downtime: Value error, 'P' is not an ISO-8601 duration",
        ),
        (
            {"target": {**TARGET, "account": "21098765432"}},
            "target.account: String should match pattern",
        ),
        ({"target": {**TARGET, "region": "Europe"}}, "target.region: String should match pattern"),
        (
            {"target": {**TARGET, "role_arn": "arn:aws:iam::210987654321:user/someone"}},
            "target.role_arn: 'arn:aws:iam::210987654321:user/someone' is not the ARN of a role",
        ),
        (
            # template.yaml lets the functions assume roles at the root only
            {"target": {**TARGET, "role_arn": "arn:aws:iam::210987654321:role/ops/sunset"}},
            "target.role_arn: 'arn:aws:iam::210987654321:role/ops/sunset' is not the ARN of a "
            "role with no path",
        ),
        (
            {"target": {**TARGET, "role_arn": "arn:aws:iam::123456789012:role/sunset-target"}},
            "target: role_arn is in account 123456789012, the target is account 210987654321",
        ),
        (
            # IAM names are ASCII: refused here rather than by AssumeRole
            {"target": {**TARGET, "role_arn": "arn:aws:iam::210987654321:role/sünset"}},
            "target.role_arn: 'arn:aws:iam::210987654321:role/sünset' is not the ARN of a role",
        ),
        ({"target": {"account": "210987654321"}}, "target.region: field required"),
        ({"target": {**TARGET, "profile": "prod"}}, "target.profile: unknown field"),
    ],
)
def test_bad_fields_are_rejected_with_their_path(change: dict[str, Any], message: str) -> None:
    # Given
    raw = {**MINIMAL, **change}
    # When
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    # Then
    text = str(caught.value).replace("Value error, ", "")
    assert text.startswith("invalid request: ")
    assert message.replace("Value error, ", "") in text


def test_several_problems_are_all_reported_at_once() -> None:
    # When
    with pytest.raises(InvalidRequest) as caught:
        parse_request({"selector": {"tags": {"app": "x"}}, "reason": "r", "colour": "red"})
    # Then
    assert "service: field required" in str(caught.value)
    assert "colour: unknown field" in str(caught.value)


def test_explicit_resources_alone_are_enough_to_select() -> None:
    request = parse_request(
        {**MINIMAL, "selector": {"tags": {}}, "resources": {"sagemaker_endpoints": ["llm"]}}
    )
    assert request.resources.sagemaker_endpoints == ["llm"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P14D", timedelta(days=14)),
        ("PT6H", timedelta(hours=6)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT45S", timedelta(seconds=45)),
        ("P", None),
        ("PT", None),
        ("14 days", None),
        ("P1Y", None),  # years and months have no fixed length: not accepted
    ],
)
def test_durations(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected
