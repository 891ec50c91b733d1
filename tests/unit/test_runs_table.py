"""The per-service lock and the audit trail, against moto's DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from sunset.errors import InvalidRequest, ServiceLocked
from sunset.manifest import Action
from sunset.phases.prepare import lock_lifetime
from sunset.request import parse_request
from sunset.runs import AuditOnce, RunsTable

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def runs() -> Iterator[RunsTable]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="runs",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield RunsTable(dynamodb, "runs")


def test_one_run_holds_a_service_at_a_time(runs: RunsTable) -> None:
    # Given
    runs.acquire_lock("svc", "run-a", NOW, ttl_seconds=3600)
    # Then another run is refused, naming the holder
    with pytest.raises(ServiceLocked, match="locked by run run-a"):
        runs.acquire_lock("svc", "run-b", NOW, ttl_seconds=3600)
    # and another service is free
    runs.acquire_lock("other", "run-b", NOW, ttl_seconds=3600)


def test_the_holder_may_take_its_lock_again(runs: RunsTable) -> None:
    runs.acquire_lock("svc", "run-a", NOW, ttl_seconds=3600)
    runs.acquire_lock("svc", "run-a", NOW + timedelta(minutes=5), ttl_seconds=3600)
    assert runs.lock_holder("svc") == "run-a"


def test_an_expired_lock_can_be_taken_over_and_the_stale_run_then_stops(
    runs: RunsTable,
) -> None:
    runs.acquire_lock("svc", "run-a", NOW, ttl_seconds=60)
    runs.require_lock("svc", "run-a")
    # Asked at a time, an expired lock has no holder: a new run may take it over
    assert runs.lock_holder("svc", NOW + timedelta(seconds=59)) == "run-a"
    assert runs.lock_holder("svc", NOW + timedelta(seconds=61)) is None
    runs.acquire_lock("svc", "run-b", NOW + timedelta(seconds=61), ttl_seconds=60)
    assert runs.lock_holder("svc") == "run-b"
    # The stale run is refused at its next change, and cannot release the newer run's lock
    with pytest.raises(ServiceLocked, match=r"run-a no longer holds the lock .*\(held by run-b\)"):
        runs.require_lock("svc", "run-a")
    assert runs.release_lock("svc", "run-a") is False
    runs.release_lock("svc", "run-b")
    with pytest.raises(ServiceLocked, match=r"\(released\)"):
        runs.require_lock("svc", "run-b")


def test_a_run_never_releases_another_runs_lock(runs: RunsTable) -> None:
    runs.acquire_lock("svc", "run-a", NOW, ttl_seconds=3600)
    assert runs.release_lock("svc", "run-b") is False
    assert runs.lock_holder("svc") == "run-a"
    assert runs.release_lock("svc", "run-a") is True
    assert runs.lock_holder("svc") is None


def test_audit_entries_come_back_in_order(runs: RunsTable) -> None:
    for minute in (3, 1, 2):
        runs.append_audit(
            "run-a",
            Action(
                at=NOW + timedelta(minutes=minute),
                phase="Back up",
                action=f"a{minute}",
                resource="vol-1",
                result="ok",
                request_id="req",
            ),
        )
    runs.append_audit("run-b", Action(at=NOW, phase="x", action="other", resource="r", result="ok"))
    assert [e.action for e in runs.audit_entries("run-a")] == ["a1", "a2", "a3"]


def test_a_restore_cannot_take_over_the_record_of_a_run_with_its_name(
    runs: RunsTable,
) -> None:
    # Given a decommission run "dup"
    now = NOW
    runs.put_run("dup", "svc", "SUCCEEDED", now)
    # When a recommission with the same execution name records itself
    with pytest.raises(InvalidRequest, match="already the id of a run of another kind"):
        runs.put_run("dup", "svc", "RUNNING", now, restores="other")
    # Then the decommission's record is untouched, and a retried restore may re-put its own
    record = runs.get_run("dup")
    assert record is not None and record["status"] == "SUCCEEDED"
    runs.put_run("r1", "svc", "RUNNING", now, restores="dup")
    runs.put_run("r1", "svc", "RUNNING", now, restores="dup")


def test_a_lock_outlives_every_wait_its_run_may_spend() -> None:
    # Given a run with a day's notice, an approval, week-long snapshots tested by restoring
    started = datetime(2026, 11, 26, tzinfo=UTC)
    request = parse_request(
        {
            "service": "svc",
            "selector": {"tags": {"app": "svc"}},
            "reason": "r",
            "notice_seconds": 86_400,
            "approval": {"required": True, "timeout_seconds": 3_600},
            "backup": {"poll_seconds": 3_600, "deadline_seconds": 604_800, "restore_test": True},
            "validation": {"quiet_period_seconds": 600},
        }
    )
    cutoff = started + timedelta(days=1)
    # When
    lifetime = lock_lifetime(request, started, cutoff, margin_seconds=7_200)
    # Then no wait can outlast it: another run could otherwise take the service over mid-run
    waits = 86_400 + 3_600 + 2 * (604_800 + 3_600) + (1_800 + 30) + 30 + 600
    assert lifetime == waits + 7_200
    # while a dry run, which waits for nothing, holds it for the margin alone
    rehearsal = request.model_copy(update={"dry_run": True})
    assert lock_lifetime(rehearsal, started, cutoff, margin_seconds=7_200) == 7_200


def test_a_retried_step_writes_each_audit_entry_once(runs: RunsTable) -> None:
    # Given an entry an earlier attempt wrote
    AuditOnce(runs, "r", lambda: NOW).record("Targets", "follow", "arn:1", "ok", "eu-west-1")
    # When the retried attempt records it again, and one for another place of the same resource
    again = AuditOnce(runs, "r", lambda: NOW + timedelta(seconds=1))
    again.record("Targets", "follow", "arn:1", "ok", "eu-west-1")
    again.record("Targets", "follow", "arn:1", "ok", "us-west-2")
    # Then each is on record once, and the trail it carries is the table's
    details = [entry.detail for entry in runs.audit_entries("r")]
    assert details == ["eu-west-1", "us-west-2"]
    assert again.entries == runs.audit_entries("r")
