"""The post-mortem of a run, as report.md and report.html (see report/content.py)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sunset.manifest import Action, Manifest
from sunset.report.content import build_report
from sunset.report.html import to_html
from sunset.report.markdown import to_markdown


class RenderedReport(NamedTuple):
    markdown: str  # report.md: for the artifacts bucket, a wiki page or a pull request
    html: str  # report.html: one self-contained page, for a browser and for print


def render(manifest: Manifest, audit: list[Action], now: datetime) -> RenderedReport:
    """The report of a run, decided once and drawn twice."""
    report = build_report(manifest, audit, now)
    return RenderedReport(to_markdown(report), to_html(report))
