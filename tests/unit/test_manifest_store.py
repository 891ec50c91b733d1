"""The manifest is validated when it is written and when it is read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from sunset.artifacts import ArtifactStore
from sunset.errors import ManifestError
from sunset.manifest import Manifest
from sunset.request import parse_request

BUCKET = "artifacts-test"
REQUEST = parse_request({"service": "svc", "selector": {"tags": {"app": "svc"}}, "reason": "t"})


@pytest.fixture
def store() -> Iterator[ArtifactStore]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield ArtifactStore(s3, BUCKET)


def _put(store: ArtifactStore, run_id: str, body: object) -> None:
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=BUCKET, Key=f"runs/{run_id}/manifest.json", Body=json.dumps(body).encode()
    )


def test_a_manifest_round_trips(store: ArtifactStore) -> None:
    manifest = Manifest(run_id="r1", service="svc", request=REQUEST, started_at=datetime.now(UTC))
    store.save_manifest(manifest)
    assert store.load_manifest("r1") == manifest
    assert store.manifest_exists("r1") and not store.manifest_exists("r2")


def test_an_unknown_schema_version_is_refused_not_guessed(store: ArtifactStore) -> None:
    manifest = Manifest(run_id="r1", service="svc", request=REQUEST, started_at=datetime.now(UTC))
    _put(store, "r1", {**manifest.model_dump(mode="json"), "schema_version": 2})
    with pytest.raises(ManifestError, match="schema version 2; this version of Sunset reads"):
        store.load_manifest("r1")


def test_a_manifest_that_does_not_match_v1_is_refused(store: ArtifactStore) -> None:
    manifest = Manifest(run_id="r1", service="svc", request=REQUEST, started_at=datetime.now(UTC))
    broken = {**manifest.model_dump(mode="json"), "backups": {"snapshots": [{"kind": "tape"}]}}
    _put(store, "r1", broken)
    with pytest.raises(ManifestError, match="does not match schema v1"):
        store.load_manifest("r1")


def test_an_invalid_manifest_is_never_written(store: ArtifactStore) -> None:
    manifest = Manifest(run_id="r1", service="svc", request=REQUEST, started_at=datetime.now(UTC))
    manifest.outcome = "exploded"  # assignment is not validated
    with pytest.raises(ValueError):
        store.save_manifest(manifest)
    assert not store.manifest_exists("r1")


def test_a_missing_manifest_names_the_run(store: ArtifactStore) -> None:
    with pytest.raises(ManifestError, match="run nope has no manifest"):
        store.load_manifest("nope")
