"""Fetching a run's post-mortem for `sunset report`: from the artifacts bucket of a deployed
stack, or from the folder a sandbox run copied its artifacts to.

A run written before report.html existed still has its manifest and audit trail; the report is
then rendered from them, here, and the reader is told so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code
from sunset.errors import SunsetError
from sunset.manifest import Action, Manifest
from sunset.report import render_html, render_markdown


class ReportNotFound(SunsetError):
    """No run of that id is on record where we looked."""


@dataclass(frozen=True)
class FetchedReport:
    run_id: str
    markdown: str
    html: str
    note: str | None = None

    def save_html(self, folder: Path) -> Path:
        """Write report.html into folder (created if needed); returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        page = folder / "report.html"
        if not page.exists() or page.read_text(encoding="utf-8") != self.html:
            page.write_text(self.html, encoding="utf-8")
        return page


def _assemble(
    run_id: str, read: Callable[[str], str | None], where: str, now: datetime
) -> FetchedReport:
    markdown, html = read("report.md"), read("report.html")
    if markdown is not None and html is not None:
        return FetchedReport(run_id, markdown, html)
    manifest_text = read("manifest.json")
    if manifest_text is None:
        raise ReportNotFound(f"there is no run {run_id!r} in {where}")
    manifest = Manifest.model_validate_json(manifest_text)
    audit = [
        Action.model_validate({k: v for k, v in json.loads(line).items() if k != "run_id"})
        for line in (read("audit.jsonl") or "").splitlines()
        if line.strip()
    ]
    return FetchedReport(
        run_id,
        markdown if markdown is not None else render_markdown(manifest, audit, now),
        render_html(manifest, audit, now),
        note="this run has no stored report.html (an older version wrote it); it was rendered "
        "now from the run's manifest and audit trail",
    )


def fetch_from_bucket(s3: Any, bucket: str, run_id: str) -> FetchedReport:
    """The report of a run on a deployed stack (runs/<run_id>/ in its artifacts bucket)."""

    def read(name: str) -> str | None:
        try:
            body = s3.get_object(Bucket=bucket, Key=f"runs/{run_id}/{name}")["Body"].read()
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "404"}:
                return None
            raise
        return str(body.decode("utf-8"))

    return _assemble(run_id, read, f"s3://{bucket}/runs/", datetime.now(UTC))


def read_from_folder(folder: Path) -> FetchedReport:
    """The report of a sandbox run whose artifacts were copied to folder (out/<run_id>)."""

    def read(name: str) -> str | None:
        path = folder / name
        return path.read_text(encoding="utf-8") if path.is_file() else None

    return _assemble(folder.name, read, str(folder.parent), datetime.now(UTC))
