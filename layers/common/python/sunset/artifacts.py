"""The artifacts bucket: runs/<run_id>/manifest.json, audit.jsonl, report.md, report.html, and
for a dry run plan.json."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from sunset.aws.errors import error_code
from sunset.errors import ManifestError
from sunset.manifest import SCHEMA_VERSION, Action, Manifest


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def decode(body: bytes, where: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"{where} is not UTF-8 text: it was not written by Sunset") from None


def parse_manifest(body: str, where: str) -> Manifest:
    """A manifest read back, refused with the reason unless it is schema v1 and valid."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{where} is not JSON: {exc}") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"{where} has schema version {version!r}; "
            f"this version of Sunset reads version {SCHEMA_VERSION} only"
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(f"{where} does not match schema v1: {exc}") from None


def parse_audit(body: str, where: str) -> list[Action]:
    """audit.jsonl read back: the lines ArtifactStore.save_audit wrote."""
    entries = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
            data.pop("run_id", None)
            entries.append(Action.model_validate(data))
        except ValueError as exc:  # JSONDecodeError and ValidationError are ValueErrors
            raise ManifestError(f"{where} line {number} is not an audit entry: {exc}") from None
    return entries


class ArtifactStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _put(self, key: str, body: str, content_type: str) -> str:
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type
        )
        return key

    def save_manifest(self, manifest: Manifest) -> str:
        """Write the manifest after validating it again, so an invalid one never lands."""
        body = manifest.model_dump_json(indent=2)
        Manifest.model_validate_json(body)
        return self._put(run_prefix(manifest.run_id) + "manifest.json", body, "application/json")

    def manifest_exists(self, run_id: str) -> bool:
        return self.exists(run_prefix(run_id) + "manifest.json")

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise
        return True

    def load_manifest(self, run_id: str) -> Manifest:
        key = run_prefix(run_id) + "manifest.json"
        body = self.read_optional(key)
        if body is None:
            raise ManifestError(f"run {run_id} has no manifest at {self.uri(key)}")
        return parse_manifest(body, self.uri(key))

    def read_optional(self, key: str) -> str | None:
        """The object's text, or None when there is no such object."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "404"}:
                return None
            raise
        return decode(body, self.uri(key))

    def save_audit(self, run_id: str, entries: list[Action]) -> str:
        lines = (
            json.dumps({"run_id": run_id, **entry.model_dump(mode="json")}) for entry in entries
        )
        return self._put(
            run_prefix(run_id) + "audit.jsonl",
            "".join(f"{line}\n" for line in lines),
            "application/x-ndjson",
        )

    def save_report(self, run_id: str, markdown: str, html: str) -> str:
        """Write report.md and report.html; returns the key of report.md."""
        self._put(run_prefix(run_id) + "report.html", html, "text/html; charset=utf-8")
        return self._put(run_prefix(run_id) + "report.md", markdown, "text/markdown; charset=utf-8")

    def save_targets(self, run_id: str, record_json: str) -> str:
        """Write a run with several targets' targets.json; returns its key."""
        return self._put(run_prefix(run_id) + "targets.json", record_json, "application/json")

    def save_plan(self, run_id: str, plan_json: str) -> str:
        """Write a dry run's plan.json; returns its key."""
        return self._put(run_prefix(run_id) + "plan.json", plan_json, "application/json")
