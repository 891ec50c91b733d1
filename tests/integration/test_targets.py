"""A run with a `target` acts on the service in another account and Region, as the target's
role, and on nothing else: the same service deployed in Sunset's own account stays up, and
Sunset's own state (manifest, audit trail, lock, notices) stays at home."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls
from sunset.local.sample import SampleService, seed_sample_service
from sunset.local.target_role import HOME_PREFIXES
from tests.conftest import FAST, Inbox, artifact, denying, lock_holder, manifest_of
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import sample_shape

# moto's default account is Sunset's own in the sandbox.
HOME_ACCOUNT = "123456789012"
ACCOUNT = "210987654321"
REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sunset-target"
TARGET = {"account": ACCOUNT, "region": REGION, "role_arn": ROLE}
ROLE_AT_HOME = f"arn:aws:iam::{HOME_ACCOUNT}:role/sunset-target"


def lock_in_target(service: SampleService, region: str = REGION) -> str:
    """The lock a run on the service in the target takes: its own, not the home service's."""
    return f"{service.name}@{ACCOUNT}/{region}"


@pytest.fixture
def there(sandbox: Sandbox) -> boto3.Session:
    """A session in the target's account and Region."""
    return sandbox.session_in(ACCOUNT, REGION)


@pytest.fixture
def remote(there: boto3.Session) -> SampleService:
    """The sample service, in the target's account and Region."""
    return seed_sample_service(there)


def endpoints_in(session: Any) -> list[str]:
    listed = session.client("sagemaker").list_endpoints()["Endpoints"]
    return sorted(e["EndpointName"] for e in listed)


def snapshots_of(session: Any, service: SampleService) -> int:
    filters = [{"Name": "volume-id", "Values": service.volumes}]
    return len(session.client("ec2").describe_snapshots(Filters=filters)["Snapshots"])


def account_of(client: Any) -> str:
    """The account moto runs a call of `client` in: the one its credentials belong to."""
    from moto.iam.models import get_account_id_from

    # botocore keeps a client's credentials with its request signer.
    return get_account_id_from(client._request_signer._credentials.access_key)


@pytest.fixture
def places(sandbox: Sandbox) -> Iterator[list[tuple[str, str, str, str]]]:
    """(function, IAM prefix, account, Region) of every call of a handler: where it went."""
    lambdas = sandbox.lambdas
    assert lambdas is not None
    made: list[tuple[str, str, str, str]] = []

    def noted(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if lambdas.current is not None:
            prefix = client.meta.service_model.signing_name
            made.append((lambdas.current, prefix, account_of(client), client.meta.region_name))
        return call(client, operation, params)

    with api_calls(noted):
        yield made


def misplaced(
    places: list[tuple[str, str, str, str]], home: tuple[str, str], target: tuple[str, str]
) -> list[tuple[str, str, str, str]]:
    """The calls that did not go where they belong: Sunset's own state to `home`, the
    service's resources to `target` (each an account and a Region)."""
    return sorted(
        {
            (function, prefix, account, region)
            for function, prefix, account, region in places
            if (account, region) != (home if prefix in HOME_PREFIXES else target)
        }
    )


@contextmanager
def assume_role_denied(sandbox: Sandbox) -> Iterator[None]:
    """Each AssumeRole a handler makes is denied, as IAM denies a role that does not trust
    Sunset's functions (moto checks no trust policy)."""
    lambdas = sandbox.lambdas
    assert lambdas is not None

    def untrusted(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if operation == "AssumeRole" and lambdas.current is not None:
            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDenied",
                        "Message": f"User: arn:aws:sts::{HOME_ACCOUNT}:assumed-role/sunset "
                        f"is not authorized to perform: sts:AssumeRole on resource: {ROLE}",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": "injected"},
                },
                operation,
            )
        return call(client, operation, params)

    with api_calls(untrusted):
        yield


def test_a_target_is_shut_down_there_and_brought_back_while_the_twin_at_home_stays_up(
    sandbox: Sandbox,
    there: boto3.Session,
    remote: SampleService,
    inbox: Inbox,
    places: list[tuple[str, str, str, str]],
) -> None:
    # Given the same service in Sunset's own account and in the target's
    home = seed_sample_service(sandbox.session)
    home_before = service_state(sandbox, sample_shape(home))
    remote_before = service_state(there, sample_shape(remote))
    # When a run names the target
    request = remote.request(target=TARGET, stop_databases=True, backup=FAST)
    run = sandbox.run("decommission", request, name="far-away")
    # Then the service is down there: endpoints deleted, routes gone, databases stopped, and
    # its volumes snapshotted there
    assert run.status == "SUCCEEDED", run.cause
    assert endpoints_in(there) == []
    routes = there.client("apigatewayv2").get_routes(ApiId=remote.http_api_id)["Items"]
    assert routes == []
    rds = there.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier=remote.db_instance)["DBInstances"][0]
    assert db["DBInstanceStatus"] == "stopped"
    assert snapshots_of(there, remote) == len(remote.volumes)
    # and the twin at home is untouched, not even snapshotted
    assert service_state(sandbox, sample_shape(home)) == home_before
    assert snapshots_of(sandbox.session, home) == 0
    # and every call went to the right place: the service's resources to the target's account
    # and Region, Sunset's own state to its own
    assert misplaced(places, (HOME_ACCOUNT, sandbox.region), (ACCOUNT, REGION)) == []
    assert {prefix for _, prefix, account, _ in places if account == ACCOUNT} >= {
        "sagemaker",
        "ec2",
        "rds",
        "apigateway",
    }
    # and the record says where, from Prepare on: the manifest, the audit trail, the notices,
    # the report
    manifest = manifest_of(sandbox, "far-away")
    assert manifest["request"]["target"] == TARGET
    audit = [json.loads(line) for line in artifact(sandbox, "far-away", "audit.jsonl").splitlines()]
    assumed = [a for a in audit if a["action"] == "assume target role"]
    assert [(a["phase"], a["resource"], a["result"]) for a in assumed] == [("Prepare", ROLE, "ok")]
    announced = next(n for n in inbox.notices() if n.phase == "ANNOUNCED")
    assert f"Where: account {ACCOUNT}, Region {REGION}" in announced.body
    assert announced.facts["target"] == TARGET
    assert f"account {ACCOUNT}, Region {REGION}, as `{ROLE}`" in artifact(
        sandbox, "far-away", "report.md"
    )
    locked = next(a for a in audit if a["action"] == "lock service")
    assert locked["detail"] == f"lock held by run far-away (the service in {ACCOUNT}/{REGION})"
    assert lock_holder(sandbox, lock_in_target(remote)) is None

    # When the role is no longer Sunset's to assume, a recommission is refused up front
    with assume_role_denied(sandbox):
        refused = sandbox.run("recommission", {"run_id": "far-away", **FAST}, name="refused")
    assert (refused.status, refused.error) == ("FAILED", "InvalidRequest")
    assert f"run far-away's target.role_arn: Sunset cannot assume {ROLE}" in str(refused.cause)
    assert lock_holder(sandbox, lock_in_target(remote)) is None
    assert endpoints_in(there) == []

    # When the run is recommissioned with the role back
    restore = sandbox.run("recommission", {"run_id": "far-away", **FAST}, name="come-back")
    # Then the service is back there as it was, and the twin at home is still untouched
    assert restore.status == "SUCCEEDED", restore.cause
    assert service_state(there, sample_shape(remote)) == remote_before
    assert service_state(sandbox, sample_shape(home)) == home_before


def test_the_same_service_in_two_places_is_locked_in_each_place_on_its_own(
    sandbox: Sandbox, there: boto3.Session, remote: SampleService
) -> None:
    # Given a run on the service at home, holding its lock while it waits for an approval
    home = seed_sample_service(sandbox.session)
    approval = {"required": True, "timeout_seconds": 300}
    waiting = sandbox.start("decommission", home.request(approval=approval), name="at-home")
    sandbox.wait_for_approval_request("at-home")
    assert lock_holder(sandbox, home.name) == "at-home"
    # When a run names the same service in the target
    run = sandbox.run("decommission", remote.request(target=TARGET, backup=FAST), name="there")
    # Then it does not wait for the run at home: its lock is the service's in the target
    assert run.status == "SUCCEEDED", run.cause
    assert endpoints_in(there) == []
    assert lock_holder(sandbox, home.name) == "at-home"
    # But a target naming Sunset's own account and Region is the service at home: that run is
    # refused, as the service at home is locked
    own = {"account": HOME_ACCOUNT, "region": sandbox.region, "role_arn": ROLE_AT_HOME}
    same = sandbox.run("decommission", home.request(target=own), name="home-again")
    assert (same.status, same.error) == ("FAILED", "ServiceLocked")
    assert "locked by run at-home" in str(same.cause)
    # and the run at home, rejected, gives its lock back, with its service untouched
    sandbox.reject("at-home", by="dana", reason="two places, one run each")
    assert sandbox.wait(waiting).status == "FAILED"
    assert lock_holder(sandbox, home.name) is None
    assert sorted(home.endpoints) == endpoints_in(sandbox.session)


def test_a_failed_run_rolls_back_in_the_target_in_the_same_region(
    sandbox: Sandbox, places: list[tuple[str, str, str, str]]
) -> None:
    # Given a target in another account of Sunset's own Region (the common case: the Region
    # alone does not tell the accounts' calls apart), and a run there whose Validate step
    # crashes once everything is down
    there = sandbox.session_in(ACCOUNT, sandbox.region)
    remote = seed_sample_service(there)
    home = seed_sample_service(sandbox.session)
    home_before = service_state(sandbox, sample_shape(home))
    before = service_state(there, sample_shape(remote))

    def crash(*_args: Any) -> None:
        raise RuntimeError("injected")

    sandbox.before("ValidateShutdownFunction", crash)
    # When it runs
    target = {**TARGET, "region": sandbox.region}
    run = sandbox.run(
        "decommission", remote.request(target=target, backup=FAST), name="far-rollback"
    )
    # Then the rollback puts the service back, in the target
    assert "Rolled back" in run.states_entered, run.cause
    assert service_state(there, sample_shape(remote)) == before
    assert lock_holder(sandbox, lock_in_target(remote, sandbox.region)) is None
    # and nothing happened to the twin at home, every call having gone to its account
    assert service_state(sandbox, sample_shape(home)) == home_before
    assert snapshots_of(sandbox.session, home) == 0
    home_place = (HOME_ACCOUNT, sandbox.region)
    assert misplaced(places, home_place, (ACCOUNT, sandbox.region)) == []


def test_a_role_sunset_cannot_assume_refuses_the_run_before_anything(
    sandbox: Sandbox, there: boto3.Session, remote: SampleService, inbox: Inbox
) -> None:
    # Given a target whose role does not trust Sunset, when a run names it
    with assume_role_denied(sandbox):
        run = sandbox.run("decommission", remote.request(target=TARGET), name="untrusted")
    # Then Prepare refuses the run, naming the role and why, and nothing was done anywhere
    assert (run.status, run.error) == ("FAILED", "InvalidRequest")
    assert f"target.role_arn: Sunset cannot assume {ROLE} (AccessDenied" in str(run.cause)
    assert "docs/targets.md" in str(run.cause)
    assert lock_holder(sandbox, lock_in_target(remote)) is None
    assert endpoints_in(there) == sorted(remote.endpoints)
    assert "ANNOUNCED" not in inbox.phases()


def test_a_throttled_assume_role_is_retried() -> None:
    # Given a target whose first AssumeRole, in Prepare, is throttled (the sandbox runs every
    # function in one process, which assumes the role once per run)
    with Sandbox(retry_pause_scale=0.01) as sandbox:
        there = sandbox.session_in(ACCOUNT, REGION)
        remote = seed_sample_service(there)
        lambdas = sandbox.lambdas
        assert lambdas is not None
        throttled: list[str] = []

        def throttle(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
            if operation == "AssumeRole" and lambdas.current == "PrepareFunction":
                if not throttled:
                    throttled.append(lambdas.current)
                    raise ClientError(
                        {
                            "Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                            "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "x"},
                        },
                        operation,
                    )
            return call(client, operation, params)

        # When a run names the target
        with api_calls(throttle):
            run = sandbox.run(
                "decommission", remote.request(target=TARGET, backup=FAST), name="slowed"
            )
        # Then the step is retried, and the run goes through
        assert throttled == ["PrepareFunction"]
        assert run.status == "SUCCEEDED", run.cause
        assert endpoints_in(there) == []


def test_a_target_run_stopped_by_hand_is_closed_in_the_target(
    sandbox: Sandbox, there: boto3.Session, remote: SampleService, inbox: Inbox
) -> None:
    # Given a run in the target stopped by hand as its restore tests start (the step still
    # runs to its end: on AWS a Lambda invocation in flight is not stopped with its execution)
    execution: list[str] = []

    def stop(_logical_id: str, _event: Any) -> None:
        if execution:
            sandbox.client("stepfunctions").stop_execution(executionArn=execution.pop())

    sandbox.before("StartRestoreTestsFunction", stop)
    request = remote.request(target=TARGET, backup={**FAST, "restore_test": True})
    arn = sandbox.start("decommission", request, name="far-stopped")
    execution.append(arn)
    # When the execution ends outside its own paths, and the abandoned-run rule closes it
    run = sandbox.wait(arn)
    assert run.status == "ABORTED"
    incident = inbox.wait_for("INCIDENT")
    # Then the restore tests' copies it had made in the target are deleted there
    tests = manifest_of(sandbox, "far-stopped")["backups"]["restore_tests"]
    volumes = [t["restored_id"] for t in tests if t["kind"] == "ebs"]
    assert volumes, "the step made no copy: nothing was tested"
    ec2 = there.client("ec2")
    left = ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": volumes}])["Volumes"]
    assert left == []
    assert incident.facts["failed_step"] == "Start restore tests"
    assert lock_holder(sandbox, lock_in_target(remote)) is None


@pytest.mark.parametrize(
    ("code", "times", "told"),
    [
        # the target's role stopped letting Sunset in (its trust changed): INCIDENT still goes
        # out, and says which copies could not be looked for
        ("AccessDenied", None, "not looked for: AccessDenied"),
        # a throttle passes: the step is retried and looks again, nothing is given up
        ("RequestLimitExceeded", 1, None),
    ],
)
def test_the_incident_path_looks_for_copies_in_a_target_that_fails_it(
    sandbox: Sandbox, remote: SampleService, inbox: Inbox, code: str, times: int | None, told: str
) -> None:
    # Given a run with restore tests that fails once its snapshots exist, before any copy is
    # made, and the incident path's calls to the target failing with `code`, `times` times
    lambdas = sandbox.lambdas
    assert lambdas is not None
    failed: list[str] = []

    def crash(*_args: Any) -> None:
        raise RuntimeError("injected")

    def failing(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        in_target = lambdas.current == "IncidentFunction" and account_of(client) == ACCOUNT
        if in_target and (times is None or len(failed) < times):
            failed.append(operation)
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": "injected"},
                    "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "injected"},
                },
                operation,
            )
        return call(client, operation, params)

    sandbox.before("VerifyBackupsFunction", crash)
    request = remote.request(target=TARGET, backup={**FAST, "restore_test": True})
    # When the run fails
    with api_calls(failing):
        run = sandbox.run("decommission", request, name="incident-in-target")
    # Then INCIDENT goes out from the incident path itself, and the lock is given back
    assert failed, "no call to the target failed: nothing was tested"
    assert run.status == "FAILED"
    assert "Run failed, incident not reported" not in run.states_entered
    incident = inbox.wait_for("INCIDENT")
    assert incident.facts["failed_step"] == "Verify backups"
    if told is None:
        assert "not looked for" not in incident.body
    else:
        assert told in incident.body
    assert lock_holder(sandbox, lock_in_target(remote)) is None


def test_the_last_resort_gives_back_the_lock_in_the_target(
    sandbox: Sandbox, remote: SampleService, inbox: Inbox
) -> None:
    # Given a run in the target whose Back up fails and whose INCIDENT cannot be sent
    failing = denying(
        sandbox, {("BackupFunction", "CreateSnapshot"), ("IncidentFunction", "Publish")}
    )
    with api_calls(failing):
        run = sandbox.run("decommission", remote.request(target=TARGET, backup=FAST), name="mute")
    # Then the state machine itself released the lock the run took: the one in the target
    assert run.states_entered[-2:] == [
        "Release lock (last resort)",
        "Run failed, incident not reported",
    ]
    assert lock_holder(sandbox, lock_in_target(remote)) is None
    assert inbox.wait_for("INCIDENT").facts["failed_step"] == "Back up"
