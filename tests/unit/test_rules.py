"""Domain rules: tags, snapshot names, the no-backup-no-change rule, notices."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from sunset import notices
from sunset.context import RunContext
from sunset.manifest import EndpointCapture, Inventory, Manifest, SnapshotRecord
from sunset.phases.backup import snapshot_identifier
from sunset.request import parse_request
from sunset.safety import NotRecoverable, missing_backup, require_recoverable
from sunset.tags import backup_tags, is_protected, matches_selector

RDS_SNAPSHOT_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")
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


def test_nothing_may_change_without_a_recorded_backup() -> None:
    # Given a manifest with no backups
    manifest = _manifest()
    # Then every destructive kind is refused
    for kind, resource in [
        ("sagemaker-endpoint", "llm"),
        ("http-api", "a1"),
        ("rest-api", "r1"),
        ("ebs-volume", "vol-1"),
        ("rds-instance", "db"),
        ("rds-cluster", "cl"),
    ]:
        with pytest.raises(NotRecoverable, match=f"{kind} {resource} has no backup"):
            require_recoverable(manifest, kind, resource)
    # When the backups are recorded
    manifest.backups.endpoints["llm"] = EndpointCapture(endpoint={}, endpoint_config={}, models=[])
    manifest.backups.snapshots.append(
        SnapshotRecord(
            kind="ebs",
            snapshot_id="snap-1",
            source_id="vol-1",
            status="pending",
            created_at=datetime.now(UTC),
        )
    )
    # Then those resources may change, the others still may not
    assert missing_backup(manifest, "sagemaker-endpoint", "llm") is None
    assert missing_backup(manifest, "ebs-volume", "vol-1") is None
    assert missing_backup(manifest, "ebs-volume", "vol-2") is not None


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
    incident = notices.incident("r1", "s" * 63, "Remove API routes", "E", "cause", "state", [])
    assert incident.severity == "critical"
    assert len(incident.subject) < 100 and incident.subject.endswith("...")
    assert "Expected downtime: permanent" in notice.body
