"""The sandbox deploys template.yaml faithfully, and refuses what it cannot deploy."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from sunset import notices
from sunset.local.template import StackDeployer, TemplateError, load_template

ROOT = Path(__file__).resolve().parents[2]


def _deployer(template: dict, parameters: dict[str, str] | None = None) -> StackDeployer:
    return StackDeployer(
        template, ROOT, boto3.Session(region_name="us-east-1"), "t", "us-east-1", parameters
    )


@mock_aws
def test_unknown_resource_types_are_an_error_not_a_silent_skip() -> None:
    template = {"Resources": {"Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}}}}
    with pytest.raises(TemplateError, match="Alarm has type AWS::CloudWatch::Alarm"):
        _deployer(template).deploy()


def test_unknown_parameters_are_refused() -> None:
    with pytest.raises(TemplateError, match="unknown template parameters: Colour"):
        _deployer(load_template(ROOT / "template.yaml"), {"Colour": "red"})


@mock_aws
def test_functions_get_globals_and_resolved_environment() -> None:
    # When
    stack = _deployer(load_template(ROOT / "template.yaml")).deploy()
    # Then every function runs code from functions/ with the template's environment
    sources = {f.logical_id: f for f in stack.functions.values()}
    assert {f.code_dir for f in sources.values()} == set((ROOT / "functions").iterdir())
    prepare = sources["PrepareFunction"]
    assert prepare.code_dir == ROOT / "functions" / "prepare"
    assert prepare.environment["ARTIFACTS_BUCKET"] == stack.outputs["ArtifactsBucketName"]
    assert prepare.environment["NOTIFICATION_TOPIC_ARN"] == stack.outputs["NotificationTopicArn"]
    assert prepare.environment["POWERTOOLS_SERVICE_NAME"] == "sunset"
    # and the state machine has no placeholder left
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = sfn.describe_state_machine(
        stateMachineArn=stack.outputs["DecommissionStateMachineArn"]
    )["definition"]
    assert "${" not in definition
    # and the bucket is encrypted, versioned and private, as in the template
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = stack.outputs["ArtifactsBucketName"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


@mock_aws
def test_a_resource_whose_condition_is_false_is_left_out_as_cloudformation_does() -> None:
    # Given a resource the sandbox cannot deploy, behind a condition on a parameter
    template = {
        "Parameters": {"Email": {"Type": "String", "Default": ""}},
        "Conditions": {"HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Email"}, ""]}]}},
        "Resources": {
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Condition": "HasEmail", "Properties": {}}
        },
        "Outputs": {"AlarmName": {"Condition": "HasEmail", "Value": {"Ref": "Alarm"}}},
    }
    # Then it is left out when the condition is false, and deployed (here: refused) when true
    assert _deployer(template).deploy().outputs == {}
    with pytest.raises(TemplateError, match="Alarm has type AWS::CloudWatch::Alarm"):
        _deployer(template, {"Email": "a@example.com"}).deploy()


@mock_aws
def test_conditions_read_in_the_short_yaml_form(tmp_path: Path) -> None:
    # Given conditions written with the short tags, !Condition inside !And among them
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters:\n"
        "  Email: {Type: String, Default: ''}\n"
        "Conditions:\n"
        "  HasEmail: !Not [!Equals [!Ref Email, '']]\n"
        "  Both: !And [!Condition HasEmail, !Condition HasEmail]\n"
        "Resources:\n"
        "  Alarm: {Type: AWS::CloudWatch::Alarm, Condition: Both, Properties: {}}\n"
    )
    template = load_template(path)
    # Then they evaluate as the long form does
    assert _deployer(template).deploy().outputs == {}
    with pytest.raises(TemplateError, match="Alarm has type AWS::CloudWatch::Alarm"):
        _deployer(template, {"Email": "a@example.com"}).deploy()


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        ({}, {}),
        (
            {"NotifyEmail": "people@example.com", "ApproverEmail": "boss@example.com"},
            {"people@example.com": "people", "boss@example.com": "approvers"},
        ),
        ({"ApproverEmail": "boss@example.com"}, {"boss@example.com": "approvers"}),
    ],
    ids=["none", "both", "approver-only"],
)
@mock_aws
def test_email_subscriptions_are_made_only_when_their_address_is_given(
    addresses: dict[str, str], expected: dict[str, str]
) -> None:
    # When the stack is deployed with these addresses
    stack = _deployer(load_template(ROOT / "template.yaml"), addresses).deploy()
    # Then each address is subscribed by email with its audience's filter policy, and no other
    sns = boto3.client("sns", region_name="us-east-1")
    topic = stack.outputs["NotificationTopicArn"]
    policies = {}
    for subscription in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
        assert subscription["Protocol"] == "email"
        attributes = sns.get_subscription_attributes(
            SubscriptionArn=subscription["SubscriptionArn"]
        )["Attributes"]
        assert attributes["FilterPolicyScope"] == "MessageAttributes"
        policies[subscription["Endpoint"]] = json.loads(attributes["FilterPolicy"])
    assert policies == {
        address: notices.FILTER_POLICIES[audience] for address, audience in expected.items()
    }
    # and without PlannedSchedule, no recurring shutdown is planned
    assert boto3.client("scheduler", region_name="us-east-1").list_schedules()["Schedules"] == []


@mock_aws
def test_a_recurring_planned_shutdown_is_made_only_when_asked() -> None:
    # When the stack is deployed with a planned schedule (the other tests deploy it without,
    # and find none)
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    request = {"service": "dev-bot", "selector": {"tags": {"app": "dev-bot"}}, "reason": "nights"}
    parameters = {
        "PlannedSchedule": "cron(0 22 ? * FRI *)",
        "PlannedScheduleTimezone": "Europe/Paris",
        "PlannedScheduleInput": json.dumps(request),
    }
    stack = _deployer(load_template(ROOT / "template.yaml"), parameters).deploy()
    # Then the schedule starts the decommission, at that time in that zone, with the input,
    # no flexible window, retries and a dead-letter queue, through the stack's role
    (summary,) = scheduler.list_schedules()["Schedules"]
    schedule = scheduler.get_schedule(Name=summary["Name"])
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        "cron(0 22 ? * FRI *)",
        "Europe/Paris",
    )
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == stack.outputs["DecommissionStateMachineArn"]
    assert target["RoleArn"] == stack.outputs["SchedulerRoleArn"]
    assert json.loads(target["Input"]) == request
    assert target["DeadLetterConfig"]["Arn"] == stack.outputs["ScheduleDeadLetterQueueArn"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3


@mock_aws
def test_a_functions_eventbridge_event_becomes_the_rule_sam_would_make() -> None:
    # When
    stack = _deployer(load_template(ROOT / "template.yaml")).deploy()
    # Then AbandonedRunFunction's event is a rule named as SAM names it, on the default bus,
    # matching the end of our executions only, with its retry policy and dead-letter queue
    events = boto3.client("events", region_name="us-east-1")
    rule = events.describe_rule(Name="t-AbandonedRunFunctionExecutionEnded")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["status"] == ["ABORTED", "TIMED_OUT", "FAILED"]
    assert pattern["detail"]["stateMachineArn"] == [
        stack.outputs["DecommissionStateMachineArn"],
        stack.outputs["RecommissionStateMachineArn"],
    ]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"].endswith(":function:t-AbandonedRunFunction")
    assert target["DeadLetterConfig"]["Arn"].endswith(":t-AbandonedRunDeadLetterQueue")
