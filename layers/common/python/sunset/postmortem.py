"""Fetching a run's post-mortem for `sunset report`: from the artifacts bucket of a deployed
stack, or from the folder a sandbox run copied its artifacts to.

A run whose report is not stored (one still running: the report is written when a run ends; or
one written before report.html existed) is rendered here from its manifest and audit trail, and
the reader is told so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sunset.artifacts import ArtifactStore, decode, parse_audit, parse_manifest, run_prefix
from sunset.errors import ManifestError, SunsetError
from sunset.report import render
from sunset.request import RUN_ID_PATTERN


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


def check_run_id(run_id: str) -> str:
    """A run id is an execution name: it never holds a path (no '/', no '..')."""
    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        raise ReportNotFound(
            f"{run_id!r} is not a run id (letters, digits, '-' and '_', at most 80)"
        )
    return run_id


def _assemble(run_id: str, read: Callable[[str], str | None], where: str) -> FetchedReport:
    markdown, html = read("report.md"), read("report.html")
    manifest_text = read("manifest.json")
    if manifest_text is None:
        if markdown is not None and html is not None:
            return FetchedReport(run_id, markdown, html)
        raise ReportNotFound(f"there is no run {run_id!r} in {where}")
    manifest = parse_manifest(manifest_text, f"{where}{run_id}/manifest.json")
    if manifest.outcome != "running" and markdown is not None and html is not None:
        return FetchedReport(run_id, markdown, html)
    # audit.jsonl is written when the run ends; the manifest keeps the same records as it goes.
    audit_text = read("audit.jsonl")
    audit = (
        parse_audit(audit_text, f"{where}{run_id}/audit.jsonl")
        if audit_text is not None
        else manifest.actions
    )
    report = render(manifest, audit, datetime.now(UTC))
    if manifest.outcome == "running":
        note = "the run has not ended: this is how it stands now, from its manifest"
    else:
        note = "this run has no stored report.html (an older version of Sunset ran it); it was "
        note += "rendered now from its manifest and audit trail"
    return FetchedReport(run_id, markdown or report.markdown, report.html, note)


def fetch_from_bucket(s3: Any, bucket: str, run_id: str) -> FetchedReport:
    """The report of a run on a deployed stack (runs/<run_id>/ in its artifacts bucket)."""
    store = ArtifactStore(s3, bucket)
    prefix = run_prefix(check_run_id(run_id))
    return _assemble(run_id, lambda name: store.read_optional(prefix + name), store.uri("runs/"))


def read_from_folder(folder: Path, run_id: str) -> FetchedReport:
    """The report of a sandbox run whose artifacts were copied to folder/<run_id>."""
    run_folder = folder / check_run_id(run_id)

    def read(name: str) -> str | None:
        path = run_folder / name
        try:
            return decode(path.read_bytes(), str(path)) if path.is_file() else None
        except OSError as exc:
            raise ManifestError(f"cannot read {path}: {exc.strerror}") from None

    return _assemble(run_id, read, f"{folder}/")
