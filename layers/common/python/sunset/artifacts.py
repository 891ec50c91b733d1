"""The artifacts bucket: runs/<run_id>/manifest.json, audit.jsonl, report.md, report.html."""

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
        try:
            self._s3.head_object(Bucket=self.bucket, Key=run_prefix(run_id) + "manifest.json")
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise
        return True

    def load_manifest(self, run_id: str) -> Manifest:
        key = run_prefix(run_id) + "manifest.json"
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "404"}:
                raise ManifestError(f"run {run_id} has no manifest at {self.uri(key)}") from None
            raise
        data = json.loads(body)
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise ManifestError(
                f"{self.uri(key)} has schema version {version!r}; "
                f"this version of Sunset reads version {SCHEMA_VERSION} only"
            )
        try:
            return Manifest.model_validate(data)
        except ValidationError as exc:
            raise ManifestError(f"{self.uri(key)} does not match schema v1: {exc}") from None

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

    def read_text(self, key: str) -> str:
        return str(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8"))
