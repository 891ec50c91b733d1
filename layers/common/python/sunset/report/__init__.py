"""The post-mortem of a run, as report.md and report.html (see report/content.py)."""

from __future__ import annotations

from datetime import datetime

from sunset.manifest import Action, Manifest
from sunset.report.content import build_report
from sunset.report.html import to_html
from sunset.report.markdown import to_markdown


def render_markdown(manifest: Manifest, audit: list[Action], now: datetime) -> str:
    """report.md: for the artifacts bucket, a wiki page or a pull request."""
    return to_markdown(build_report(manifest, audit, now))


def render_html(manifest: Manifest, audit: list[Action], now: datetime) -> str:
    """report.html: one self-contained page, for a browser and for print."""
    return to_html(build_report(manifest, audit, now))
