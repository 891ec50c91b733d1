"""Domain rules: tags, snapshot names, the no-backup-no-change rule, notices."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from sunset import notices
from sunset.context import RunContext
from sunset.manifest import (
    CAPTURED,
    Check,
    Inventory,
    Manifest,
    RestoreRecord,
    RestoreTest,
    Verification,
)
from sunset.phases.backup import snapshot_identifier
from sunset.request import parse_request
from sunset.safety import NotRecoverable, gate, missing_backup, require_recoverable
from sunset.tags import backup_tags, is_protected, matches_selector

RDS_SNAPSHOT_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")
INVENTORY = {
    "endpoints": [
        {
            "name": "llm",
            "arn": "arn:e",
            "status": "InService",
            "endpoint_config_name": "c",
            "variant_names": ["v"],
            "model_names": ["m"],
        }
    ],
    "http_apis": [{"api_id": "a1", "name": "h", "route_keys": ["GET /"]}],
    "rest_apis": [{"api_id": "r1", "name": "r", "stage_names": ["prod"], "methods": ["GET /"]}],
    "volumes": [
        {
            "volume_id": "vol-1",
            "size_gib": 1,
            "volume_type": "gp3",
            "availability_zone": "us-east-1a",
            "encrypted": False,
            "state": "in-use",
        }
    ],
    "db_instances": [
        {
            "identifier": "db",
            "arn": "arn:db",
            "engine": "postgres",
            "status": "available",
            "allocated_storage_gib": 20,
            "encrypted": True,
        }
    ],
    "db_clusters": [
        {
            "identifier": "cl",
            "arn": "arn:cl",
            "engine": "aurora-postgresql",
            "status": "available",
            "encrypted": True,
            "members": [],
        }
    ],
    "log_groups": [{"name": "/aws/x", "arn": "arn:lg"}],
}
REQUEST = parse_request({"service": "svc", "selector": {"tags": {"app": "svc"}}, "reason": "test"})


def _manifest() -> Manifest:
    return Manifest(run_id="r1", service="svc", request=REQUEST, started_at=datetime.now(UTC))


@pytest.mark.parametrize(
    ("tags", "selector", "expected"),
    [
        ({"app": "svc", "team": "x"}, {"app": "svc"}, True),
        ({"app": "svc"}, {"app": "svc", "team": "x"}, False),
        ({"app": "other"}, {"app": "svc"}, False),
        ({"app": "svc"}, {}, False),  # an empty selector matches nothing, never everything
    ],
)
def test_selector_needs_every_tag(
    tags: dict[str, str], selector: dict[str, str], expected: bool
) -> None:
    assert matches_selector(tags, selector) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" true ", True),
        ("false", False),
        ("yes", False),
        ("", False),
    ],
)
def test_protect_tag(value: str, expected: bool) -> None:
    assert is_protected({"sunset:protect": value}) is expected


def test_backup_tags_trace_a_copy_to_its_run() -> None:
    assert backup_tags("r1", "svc", "vol-1") == {
        "sunset:run-id": "r1",
        "sunset:service": "svc",
        "sunset:source": "vol-1",
    }


@pytest.mark.parametrize(
    ("run_id", "source"),
    [
        ("run-20261125T120000", "chat-assistant-history"),
        ("Weird__Run..Name--x", "db-1"),
        ("9" * 80, "a" * 63),
        ("-", "-db-"),
    ],
)
def test_snapshot_identifiers_are_valid_rds_names(run_id: str, source: str) -> None:
    assert RDS_SNAPSHOT_ID.match(snapshot_identifier(run_id, source))


def test_snapshot_identifiers_never_collide_across_runs_and_are_stable_within_one() -> None:
    # Runs whose ids differ only in characters the slug drops still get distinct names
    assert snapshot_identifier("run_1", "db") != snapshot_identifier("run-1", "db")
    assert snapshot_identifier("run-1", "db") == snapshot_identifier("run-1", "db")


def _verification(kind: str, resource: str, backup: str, ok: bool = True) -> Verification:
    checks = [
        Check(name="status", expected="completed", actual="completed" if ok else "pending", ok=ok)
    ]
    return Verification(
        kind=kind,
        resource_id=resource,
        backup=backup,
        checks=checks,
        at=datetime.now(UTC),
    )


def test_nothing_may_change_without_a_verified_backup() -> None:
    # Given a manifest whose inventory has one resource of each kind, and no backups
    manifest = _manifest()
    manifest.inventory = Inventory.model_validate(INVENTORY)
    resources = manifest.inventory.backed_up_resources()
    assert len(resources) == 6
    # Then every destructive kind is refused, and the gate lists all six
    for kind, resource in resources:
        with pytest.raises(NotRecoverable, match=f"{kind} {resource} has no verified backup"):
            require_recoverable(manifest, kind, resource)
    assert len(gate(manifest)) == 6
    # When a snapshot is recorded but its verification failed
    manifest.backups.record_verification(_verification("ebs-volume", "vol-1", "snap-1", ok=False))
    assert "snap-1 failed verification (status)" in (
        missing_backup(manifest, "ebs-volume", "vol-1") or ""
    )
    # When every backup is verified
    for kind, resource in resources:
        backup = (
            CAPTURED if kind in {"sagemaker-endpoint", "http-api", "rest-api"} else f"b-{resource}"
        )
        manifest.backups.record_verification(_verification(kind, resource, backup))
    # Then the gate opens, and log groups never needed a backup
    assert gate(manifest) == []
    assert missing_backup(manifest, "log-group", "/aws/x") is None


def test_a_requested_restore_test_must_pass_before_the_gate_opens() -> None:
    # Given a verified snapshot in a run that asked for restore tests
    request = parse_request(
        {
            "service": "svc",
            "selector": {"tags": {"app": "svc"}},
            "reason": "t",
            "backup": {"restore_test": True},
        }
    )
    manifest = Manifest(run_id="r1", service="svc", request=request, started_at=datetime.now(UTC))
    manifest.backups.record_verification(_verification("ebs-volume", "vol-1", "snap-1"))
    # Then the volume may not be touched until its restore test passed
    assert "no passed restore test" in (missing_backup(manifest, "ebs-volume", "vol-1") or "")
    manifest.backups.restore_tests.append(
        RestoreTest(
            kind="ebs",
            snapshot_id="snap-1",
            source_id="vol-1",
            restored_id="vol-2",
            status="available",
            started_at=datetime.now(UTC),
            result="passed",
        )
    )
    assert missing_backup(manifest, "ebs-volume", "vol-1") is None


def test_notice_subjects_fit_sns_limits_and_severity_follows_the_phase() -> None:
    run = RunContext(
        run_id="r" * 80, service="s" * 63, started_at=datetime.now(UTC), request=REQUEST
    )
    notice = notices.announced(run, Inventory())
    assert len(notice.subject) <= 100
    assert notice.attributes() == {
        "phase": "ANNOUNCED",
        "service": "s" * 63,
        "run_id": "r" * 80,
        "severity": "info",
    }
    incident = notices.incident(
        "r1", "s" * 63, "Remove API routes", "E", "cause", "state", [], "what next"
    )
    assert incident.severity == "critical"
    assert len(incident.subject) < 100 and incident.subject.endswith("...")
    assert "Expected downtime: permanent" in notice.body


def _restore_record(checks: list[Check]) -> RestoreRecord:
    return RestoreRecord(
        restore_id="restore-1",
        mode="recommission",
        started_at=datetime.now(UTC),
        restored=["route GET /health of HTTP API a1"],
        checks=checks,
    )


def test_a_restore_failure_notice_says_whether_the_service_is_back() -> None:
    run = RunContext(run_id="r1", service="svc", started_at=datetime.now(UTC), request=REQUEST)
    ok = Check(name="routes", expected=1, actual=1, ok=True)
    wrong = Check(name="routes", expected=1, actual=2, ok=False)
    # A restore verified in full whose report failed: the service is back, and said so
    paperwork = notices.restore_failed(
        run, _restore_record([ok]), "Report restore", "E", "sns down", None
    )
    assert "the service is back and was verified" in paperwork.body
    # A restore that did not pass verification: not back, with the difference named
    broken = notices.restore_failed(
        run, _restore_record([ok, wrong]), "Verify restore", "RestoreIncomplete", "c", None
    )
    assert "NOT fully back" in broken.body and "routes: expected 1, found 2" in broken.body
    assert broken.severity == "critical" and "restore FAILED at Verify restore" in broken.subject
