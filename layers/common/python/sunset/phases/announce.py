"""Announce: tell stakeholders what is about to happen, before anything changes."""

from __future__ import annotations

from sunset import notices
from sunset.context import RunContext
from sunset.journal import Journal, Toolkit, running_phase
from sunset.phases.results import PhaseResult


def _plan_the_waits(run: RunContext, journal: Journal, topic_arn: str) -> None:
    """A dry run skips the notice period and the approval (the state machine goes straight on
    to Back up): they go into the plan instead, as a real run would meet them."""
    service = f"service/{run.service}"
    cutoff = run.cutoff or run.started_at
    notice = (cutoff - run.started_at).total_seconds()
    if notice >= 1:
        journal.record(
            "wait notice period",
            service,
            "planned",
            detail=f"{notices.human_duration(notice)}, until {cutoff:%Y-%m-%d %H:%M:%S UTC}",
        )
    if run.request.approval.required:
        timeout = notices.human_duration(run.request.approval.timeout_seconds)
        journal.record("notify APPROVAL", topic_arn, "planned", detail="dry run: not sent")
        journal.record(
            "wait approval",
            service,
            "planned",
            detail=f"up to {timeout} for a person to approve; a no or no answer cancels the run",
        )


def announce(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Publish the ANNOUNCED notice: what, when, why, how long, how it comes back, whom to call."""
    with running_phase(kit, run, "Announce") as (manifest, journal):
        message_id = journal.notify(
            kit.notifier, notices.announced(run, manifest.require_inventory())
        )
        if journal.dry_run:
            _plan_the_waits(run, journal, kit.notifier.topic_arn)
            return PhaseResult(phase="Announce", summary="dry run: ANNOUNCED planned, not sent")
    return PhaseResult(phase="Announce", summary=f"ANNOUNCED sent as message {message_id}")
