"""What phases return into the state machine's state: short summaries, never inventories."""

from __future__ import annotations

from pydantic import BaseModel


class PhaseResult(BaseModel):
    phase: str
    summary: str
    counts: dict[str, int] = {}


class RunOutcome(BaseModel):
    run_id: str
    service: str
    status: str
    manifest: str
    audit: str
    report: str
    report_html: str | None = None
    dry_run: bool = False
    plan: str | None = None  # a dry run's plan.json
    counts: dict[str, int] = {}
    error: str | None = None
    cause: str | None = None
