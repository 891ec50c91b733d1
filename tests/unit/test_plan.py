"""Dry runs: the Journal plans instead of changing, the rule asks for a planned snapshot, and the
plan reads each change back under its resource."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sunset.journal import Journal
from sunset.manifest import (
    CAPTURED,
    Action,
    Check,
    Incident,
    Inventory,
    Manifest,
    PhaseRecord,
    Verification,
)
from sunset.notices import Notice
from sunset.plan import PlannedChange, build_plan, changes_made, plan_table, planned
from sunset.request import parse_request
from sunset.safety import gate
from tests.unit.test_rules import INVENTORY

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class _Audit:
    """The runs table's audit trail, kept in memory."""

    def __init__(self) -> None:
        self.entries: list[Action] = []

    def append_audit(self, run_id: str, entry: Action) -> None:
        self.entries.append(entry)


def _manifest(dry_run: bool) -> Manifest:
    request = parse_request(
        {
            "service": "svc",
            "selector": {"tags": {"app": "svc"}},
            "reason": "test",
            "dry_run": dry_run,
        }
    )
    manifest = Manifest(run_id="r1", service="svc", request=request, started_at=T0)
    manifest.inventory = Inventory.model_validate(INVENTORY)
    return manifest


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a dry run made a call that changes AWS")


def test_in_a_dry_run_the_journal_plans_each_change_and_makes_none() -> None:
    # Given
    manifest, audit = _manifest(dry_run=True), _Audit()
    journal = Journal(manifest, audit, "Stop endpoints", lambda: T0)

    class Notifier:
        topic_arn = "arn:aws:sns:us-east-1:123456789012:sunset"
        send = staticmethod(_refuse)

    notice = Notice(phase="STOPPED", service="svc", run_id="r1", subject="s", body="b")
    # When
    response = journal.change("sagemaker:DeleteEndpoint", "sagemaker-endpoint/llm", _refuse, "llm")
    message_id = journal.notify(Notifier(), notice)
    # Then nothing was called, and both are on record, in the manifest and the audit trail
    assert (response, message_id) == (None, "")
    expected = [
        ("sagemaker:DeleteEndpoint", "sagemaker-endpoint/llm"),
        ("notify STOPPED", "arn:aws:sns:us-east-1:123456789012:sunset"),
    ]
    assert planned(manifest.actions) == expected
    assert planned(audit.entries) == expected
    assert {a.detail for a in manifest.actions} == {"dry run: not done"}
    # and a planned change never counts as made
    assert changes_made(manifest.actions) == []


def test_a_real_run_journal_still_makes_the_call() -> None:
    manifest, audit = _manifest(dry_run=False), _Audit()
    journal = Journal(manifest, audit, "Stop endpoints", lambda: T0)
    response = journal.change("sagemaker:DeleteEndpoint", "sagemaker-endpoint/llm", dict, a=1)
    assert response == {"a": 1}
    assert changes_made(manifest.actions) == [
        ("sagemaker:DeleteEndpoint", "sagemaker-endpoint/llm")
    ]


def _captures_verified(manifest: Manifest) -> None:
    for kind, resource_id in (
        ("sagemaker-endpoint", "llm"),
        ("http-api", "a1"),
        ("rest-api", "r1"),
    ):
        manifest.backups.record_verification(
            Verification(
                kind=kind,
                resource_id=resource_id,
                backup=CAPTURED,
                checks=[Check.compare("api", "x", "x")],
                at=T0,
            )
        )


def _plan_snapshot(manifest: Manifest, action: str, source: str) -> None:
    manifest.actions.append(
        Action(at=T0, phase="Back up", action=action, resource=source, result="planned")
    )


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_rule_asks_a_dry_run_for_a_planned_snapshot_and_a_real_run_for_a_verified_one(
    dry_run: bool,
) -> None:
    # Given every configuration is verified, and snapshots are planned for two of three sources
    manifest = _manifest(dry_run)
    _captures_verified(manifest)
    _plan_snapshot(manifest, "ec2:CreateSnapshot", "vol-1")
    _plan_snapshot(manifest, "rds:CreateDBSnapshot", "db")
    # When
    reasons = gate(manifest)
    # Then a dry run misses only the unplanned snapshot; a real run trusts no planned one
    if dry_run:
        assert reasons == ["rds-cluster cl has no snapshot in the plan"]
    else:
        assert reasons == [
            "ebs-volume vol-1 has no verified backup in the manifest",
            "rds-instance db has no verified backup in the manifest",
            "rds-cluster cl has no verified backup in the manifest",
        ]


def test_the_plan_puts_each_change_under_its_resource_with_the_backup_first() -> None:
    # Given the entries a dry run leaves
    manifest = _manifest(dry_run=True)
    _captures_verified(manifest)
    entries = [
        ("Announce", "notify ANNOUNCED", "arn:topic", "planned", None),
        ("Announce", "wait notice period", "service/svc", "planned", "3 d, until then"),
        ("Back up", "ec2:CreateSnapshot", "vol-1", "planned", None),
        ("Back up", "rds:CreateDBSnapshot", "db", "planned", None),
        ("Back up", "rds:CreateDBClusterSnapshot", "cl", "planned", None),
        (
            "Remove API routes",
            "apigatewayv2:DeleteStage",
            "http-api/a1/stage/$default",
            "planned",
            None,
        ),
        (
            "Remove API routes",
            "apigatewayv2:DeleteRoute",
            "http-api/a1/route/GET /",
            "planned",
            None,
        ),
        ("Remove API routes", "skip API", "rest-api/r1", "skipped", "tagged sunset:protect=true"),
        (
            "Stop endpoints",
            "application-autoscaling:DeregisterScalableTarget",
            "endpoint/llm/variant/v",
            "planned",
            None,
        ),
        ("Stop endpoints", "sagemaker:DeleteEndpoint", "sagemaker-endpoint/llm", "planned", None),
        ("Stop endpoints", "rds:StopDBInstance", "db", "planned", None),
        ("Stop endpoints", "skip database", "rds-cluster/cl", "skipped", "already stopped"),
        ("Stop endpoints", "ec2:DeleteVolume", "vol-unknown", "planned", None),
    ]
    for phase, action, resource, result, detail in entries:
        manifest.actions.append(
            Action(
                at=T0,
                phase=phase,
                action=action,
                resource=resource,
                result=result,
                detail=detail,
            )
        )
    # When
    plan = build_plan(manifest)
    # Then
    rows = {row.label: row for row in plan.resources}
    assert [c.action for c in rows["sagemaker-endpoint/llm"].changes] == [
        "application-autoscaling:DeregisterScalableTarget",
        "sagemaker:DeleteEndpoint",
    ]
    assert rows["sagemaker-endpoint/llm"].backup == "configuration captured and verified now"
    assert [c.resource for c in rows["http-api/a1"].changes] == [
        "http-api/a1/stage/$default",
        "http-api/a1/route/GET /",
    ]
    assert rows["rest-api/r1"].left_alone == "tagged sunset:protect=true"
    assert [c.action for c in rows["rds-instance/db"].backup_changes] == ["rds:CreateDBSnapshot"]
    assert [c.action for c in rows["rds-instance/db"].changes] == ["rds:StopDBInstance"]
    assert rows["rds-cluster/cl"].left_alone == "already stopped"
    assert rows["ebs-volume/vol-1"].changes == []
    assert (plan.notices, plan.waits) == (["ANNOUNCED"], ["notice period: 3 d, until then"])
    # and the table gives a line per change, the resource named once
    table = plan_table(plan)
    assert "sagemaker-endpoint/llm" in table.splitlines()[4]
    assert table.splitlines()[5].strip() == "sagemaker:DeleteEndpoint sagemaker-endpoint/llm"
    assert "left alone: tagged sunset:protect=true" in table
    assert "ebs-volume/vol-1" in table and "kept as it is" in table
    assert "  - notice period: 3 d, until then" in table
    # and a change no resource claims is shown apart, never dropped
    assert plan.other_changes == [PlannedChange(action="ec2:DeleteVolume", resource="vol-unknown")]
    assert "Other planned changes:\n  - ec2:DeleteVolume vol-unknown" in table
    assert ("ec2:DeleteVolume", "vol-unknown") in plan.changes()


def test_a_retried_phase_plans_each_change_once() -> None:
    manifest, audit = _manifest(dry_run=True), _Audit()
    for _attempt in range(2):
        journal = Journal(manifest, audit, "Stop endpoints", lambda: T0)
        journal.change("sagemaker:DeleteEndpoint", "sagemaker-endpoint/llm", _refuse)
    assert planned(manifest.actions) == [("sagemaker:DeleteEndpoint", "sagemaker-endpoint/llm")]


def test_a_failed_dry_run_says_what_it_never_got_to_plan() -> None:
    # Given a dry run that failed in Remove API routes, after Back up and its checks
    manifest = _manifest(dry_run=True)
    _captures_verified(manifest)
    _plan_snapshot(manifest, "ec2:CreateSnapshot", "vol-1")
    for name in ("Prepare", "Back up", "Verify backups", "Checkpoint"):
        manifest.phases.append(PhaseRecord(name=name, started_at=T0, status="succeeded"))
    manifest.phases.append(PhaseRecord(name="Remove API routes", started_at=T0, status="failed"))
    manifest.incident = Incident(failed_step="Remove API routes", error="E", cause="c", at=T0)
    # When
    plan = build_plan(manifest)
    # Then
    rows = {row.label: row for row in plan.resources}
    assert plan.failed_step == "Remove API routes"
    assert rows["sagemaker-endpoint/llm"].then() == [
        "not planned further: the dry run failed in Remove API routes before Stop endpoints "
        "was done"
    ]
    assert rows["http-api/a1"].not_reached is not None
    # databases are kept unless stop_databases, so nothing was left unplanned for them
    assert rows["rds-instance/db"].then() == ["kept as it is"]
    assert rows["ebs-volume/vol-1"].backup == "snapshot taken and verified first"
    assert "The dry run FAILED in Remove API routes" in plan_table(plan)
