"""What phases return into the state machine's state: short summaries, never inventories."""

from __future__ import annotations

from pydantic import BaseModel

from sunset.plan import Plan


class PhaseResult(BaseModel):
    phase: str
    summary: str
    counts: dict[str, int] = {}
    # The step paused before its time ran out and the ASL runs it again (sunset.journal.OutOfTime).
    more: bool = False


class RunOutcome(BaseModel):
    run_id: str
    service: str
    status: str
    manifest: str
    audit: str
    report: str
    report_html: str | None = None
    dry_run: bool = False
    # A dry run's plan, in the output as long as it leaves room in Step Functions' 256 KB
    # payload (PLAN_INLINE_LIMIT), and always in plan.json.
    plan: Plan | None = None
    plan_uri: str | None = None
    counts: dict[str, int] = {}
    error: str | None = None
    cause: str | None = None
