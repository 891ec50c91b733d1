"""A run with several targets: one run of its own per target, started and followed by it.

The service is seeded in two moto accounts and Regions; each target's run is a real execution
of the decommission machine, started by the parent's Start target runs step."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls
from sunset.local.sample import SampleService, seed_sample_service
from tests.conftest import FAST, Inbox, artifact, lock_holder, manifest_of
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import sample_shape
from tests.integration.test_targets import ACCOUNT, REGION, TARGET, endpoints_in

OTHER_ACCOUNT = "345678901234"
OTHER_REGION = "us-west-2"
OTHER = {
    "account": OTHER_ACCOUNT,
    "region": OTHER_REGION,
    "role_arn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/sunset-target",
}
FIRST = f"fleet--{ACCOUNT}-{REGION}"
SECOND = f"fleet--{OTHER_ACCOUNT}-{OTHER_REGION}"
# Each target's run, by name: its account and Region.
WHERE = {FIRST: (ACCOUNT, REGION), SECOND: (OTHER_ACCOUNT, OTHER_REGION)}


@pytest.fixture
def places(sandbox: Sandbox) -> dict[str, tuple[boto3.Session, SampleService]]:
    """The sample service in each target: the run's name for it, its session and the service."""
    seeded = {}
    for name, (account, region) in WHERE.items():
        session = sandbox.session_in(account, region)
        seeded[name] = (session, seed_sample_service(session))
    return seeded


def test_each_target_is_shut_down_by_a_run_of_its_own(
    sandbox: Sandbox, places: dict[str, tuple[boto3.Session, SampleService]], inbox: Inbox
) -> None:
    # Given the service in two accounts and Regions, and a run naming both
    _, service = places[FIRST]
    request = service.request(targets=[TARGET, OTHER], backup=FAST)
    # and in the second, a lock long expired, left by a run that did not end well: the run's
    # own run there takes it over, as any run would
    expired = datetime.now(UTC) - timedelta(days=3)
    lock = f"{service.name}@{OTHER_ACCOUNT}/{OTHER_REGION}"
    sandbox.runs_table().acquire_lock(lock, "long-gone", expired, 3_600)
    # When it runs
    run = sandbox.run("decommission", request, name="fleet")
    # Then it succeeded, having started one run per target, each of which succeeded there
    assert run.status == "SUCCEEDED", run.cause
    assert "Discover resources" not in run.states_entered
    for name, (session, seeded) in places.items():
        assert endpoints_in(session) == [], name
        child = manifest_of(sandbox, name)
        assert child["outcome"] == "succeeded"
        assert child["request"]["target"] == (TARGET if name == FIRST else OTHER)
        assert "targets" not in child["request"] or child["request"]["targets"] is None
        account, region = WHERE[name]
        assert lock_holder(sandbox, f"{seeded.name}@{account}/{region}") is None
    # and its record lists each target's run, its status and where its report is
    record = json.loads(artifact(sandbox, "fleet", "targets.json"))
    assert record["succeeded"] is True
    assert [(t["run_id"], t["status"]) for t in record["targets"]] == [
        (FIRST, "SUCCEEDED"),
        (SECOND, "SUCCEEDED"),
    ]
    assert record["targets"][0]["report"].endswith(f"runs/{FIRST}/report.md")
    audit = [json.loads(line) for line in artifact(sandbox, "fleet", "audit.jsonl").splitlines()]
    assert [a["action"] for a in audit] == [
        "assume target role",
        "assume target role",
        "states:StartExecution",
        "states:StartExecution",
        "follow target run",
        "follow target run",
    ]
    assert sandbox.runs_table().get_run("fleet")["status"] == "SUCCEEDED"
    # and each target's owners were told about their own run
    announced = [n for n in inbox.notices() if n.phase == "ANNOUNCED"]
    assert sorted(n.facts["target"]["account"] for n in announced) == [ACCOUNT, OTHER_ACCOUNT]


def test_a_target_whose_run_fails_does_not_stop_the_others(
    sandbox: Sandbox, places: dict[str, tuple[boto3.Session, SampleService]]
) -> None:
    # Given a run naming two targets, and a Validate step that crashes in the second one only
    session, service = places[SECOND]
    before = service_state(session, sample_shape(service))

    def crash(_logical_id: str, event: Any) -> None:
        if event["run"]["request"]["target"]["account"] == OTHER_ACCOUNT:
            raise RuntimeError("injected")

    sandbox.before("ValidateShutdownFunction", crash)
    request = service.request(targets=[TARGET, OTHER], backup=FAST)
    # When it runs
    run = sandbox.run("decommission", request, name="fleet")
    # Then the first target is down, the second rolled back by its own run, and the run failed
    # naming the target that did not succeed
    assert (run.status, run.error) == ("FAILED", "TargetRunsFailed")
    assert f"1 of 2 target runs succeeded; not succeeded: {OTHER_ACCOUNT}/{OTHER_REGION}" in str(
        run.cause
    )
    assert endpoints_in(places[FIRST][0]) == []
    assert service_state(session, sample_shape(service)) == before
    assert manifest_of(sandbox, SECOND)["outcome"] == "rolled_back"
    record = json.loads(artifact(sandbox, "fleet", "targets.json"))
    assert [(t["run_id"], t["status"]) for t in record["targets"]] == [
        (FIRST, "SUCCEEDED"),
        (SECOND, "FAILED"),
    ]
    assert sandbox.runs_table().get_run("fleet")["status"] == "FAILED"


@pytest.mark.parametrize(
    ("refusal", "error", "message"),
    [
        # the second target's role does not trust Sunset
        ("untrusted", "InvalidRequest", "targets[1].role_arn: Sunset cannot assume"),
        # another run holds the service in the second target
        ("locked", "ServiceLocked", f"targets[1]: service 'chat-assistant@{OTHER_ACCOUNT}/"),
    ],
)
def test_what_would_refuse_any_target_s_run_refuses_the_whole_run_first(
    sandbox: Sandbox,
    places: dict[str, tuple[boto3.Session, SampleService]],
    refusal: str,
    error: str,
    message: str,
) -> None:
    _, service = places[FIRST]
    lock = f"{service.name}@{OTHER_ACCOUNT}/{OTHER_REGION}"
    if refusal == "locked":
        sandbox.runs_table().acquire_lock(lock, "someone-else", datetime.now(UTC), 3_600)

    def untrusted(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if refusal == "untrusted" and params.get("RoleArn") == OTHER["role_arn"]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, operation)
        return call(client, operation, params)

    with api_calls(untrusted):
        run = sandbox.run("decommission", service.request(targets=[TARGET, OTHER]), name="fleet")
    # Then nothing was started anywhere, not even in the first target
    assert (run.status, run.error) == ("FAILED", error)
    assert message in str(run.cause)
    for name, (session, seeded) in places.items():
        assert endpoints_in(session) == sorted(seeded.endpoints), name
    assert sandbox.runs_table().get_run("fleet") is None
    assert sandbox.runs_table().get_run(FIRST) is None


def test_a_run_with_targets_stopped_by_hand_is_closed_and_its_target_runs_go_on(
    sandbox: Sandbox, places: dict[str, tuple[boto3.Session, SampleService]], inbox: Inbox
) -> None:
    # Given a run whose target runs wait out their notice period
    _, service = places[FIRST]
    request = service.request(targets=[TARGET, OTHER], notice_seconds=600)
    arn = sandbox.start("decommission", request, name="fleet")
    deadline = time.monotonic() + 30
    while inbox.phases().count("ANNOUNCED") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    # When someone stops it
    sfn = sandbox.client("stepfunctions")
    sfn.stop_execution(executionArn=arn)
    # Then its record is closed, and each target's run goes on, its lock held, to be stopped or
    # restored on its own
    assert sandbox.wait(arn).status == "ABORTED"
    assert sandbox.runs_table().get_run("fleet")["status"] == "FAILED"
    for name, (account, region) in WHERE.items():
        assert lock_holder(sandbox, f"{service.name}@{account}/{region}") == name
        child = sfn.describe_execution(executionArn=arn.replace(":fleet", f":{name}"))
        assert child["status"] == "RUNNING"
        sfn.stop_execution(executionArn=child["executionArn"])
        assert sandbox.wait(child["executionArn"]).status == "ABORTED"
        assert lock_holder(sandbox, f"{service.name}@{account}/{region}") is None


def test_a_retried_start_adopts_the_runs_it_started_and_a_name_taken_is_not_started(
    sandbox: Sandbox, places: dict[str, tuple[boto3.Session, SampleService]]
) -> None:
    # Given the second target's run name already taken by another execution, one that failed
    # with a report of its own (it found nothing to shut down)
    nothing = {"service": "someone-else", "selector": {"tags": {"app": "none"}}, "reason": "x"}
    assert sandbox.run("decommission", nothing, name=SECOND).error == "NothingToDecommission"
    assert "someone-else" in artifact(sandbox, SECOND, "report.md")
    # and the step's second StartExecution throttled once, after the first run started
    lambdas = sandbox.lambdas
    assert lambdas is not None
    starts: list[str] = []

    def throttled(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if lambdas.current == "StartTargetRunsFunction" and operation == "StartExecution":
            starts.append(params["name"])
            if len(starts) == 2:
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                    operation,
                )
        return call(client, operation, params)

    _, service = places[FIRST]
    with api_calls(throttled):
        run = sandbox.run(
            "decommission", service.request(targets=[TARGET, OTHER], backup=FAST), name="fleet"
        )
    # Then the retried step found the first run it had started, and recorded the second as not
    # started, naming why; the first target is down all the same
    assert starts == [FIRST, SECOND, FIRST, SECOND]
    assert (run.status, run.error) == ("FAILED", "TargetRunsFailed")
    assert f"{SECOND}: NOT_STARTED, ExecutionAlreadyExists" in str(run.cause)
    assert endpoints_in(places[FIRST][0]) == []
    assert endpoints_in(places[SECOND][0]) == sorted(places[SECOND][1].endpoints)
    audit = [json.loads(line) for line in artifact(sandbox, "fleet", "audit.jsonl").splitlines()]
    started = [
        (a["resource"].rsplit(":", 1)[-1], a["result"])
        for a in audit
        if a["action"] == "states:StartExecution"
    ]
    assert started == [(FIRST, "ok"), (SECOND, "failed")]
    record = json.loads(artifact(sandbox, "fleet", "targets.json"))
    assert [(t["status"], t["report"] is None) for t in record["targets"]] == [
        ("SUCCEEDED", False),
        ("NOT_STARTED", True),
    ]


def test_target_runs_that_cannot_be_followed_are_recorded_as_last_seen_and_why(
    sandbox: Sandbox, places: dict[str, tuple[boto3.Session, SampleService]]
) -> None:
    # Given a run whose Check target runs is denied DescribeExecution, past its retries
    lambdas = sandbox.lambdas
    assert lambdas is not None

    def denied(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if lambdas.current == "CheckTargetRunsFunction" and operation == "DescribeExecution":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, operation)
        return call(client, operation, params)

    _, service = places[FIRST]
    with api_calls(denied):
        run = sandbox.run(
            "decommission", service.request(targets=[TARGET, OTHER], backup=FAST), name="fleet"
        )
    # Then the run fails saying why it could not follow its target runs, recorded as last seen
    assert (run.status, run.error) == ("FAILED", "TargetRunsFailed")
    assert "the runs could not be followed to their end (ClientError: " in str(run.cause)
    assert "DescribeExecution operation: no)" in str(run.cause)
    record = json.loads(artifact(sandbox, "fleet", "targets.json"))
    assert [t["status"] for t in record["targets"]] == ["RUNNING", "RUNNING"]
    assert sandbox.runs_table().get_run("fleet")["status"] == "FAILED"
    # and the target runs, which never depended on it, end on their own
    for name in WHERE:
        arn = run.execution_arn.replace(":fleet", f":{name}")
        assert sandbox.wait(arn).status == "SUCCEEDED"
