"""The approval gate: a person says yes before anything is changed, or the run is cancelled.

With approval.required, the state machine calls `request_approval` through
`lambda:invoke.waitForTaskToken` once the notice period is over: the task token is recorded in
the runs table (where `sunset approve` and `sunset reject` find it) and sent in the APPROVAL
notice, and the execution waits, for at most approval.timeout_seconds. A rejection or no answer
in time ends in `cancel_run`: CANCELLED, the lock released, nothing touched (the gate comes
before Back up, so not even a snapshot exists).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from sunset import notices
from sunset.context import FailureEvent, RunContext
from sunset.errors import ManifestError, readable_cause
from sunset.journal import Toolkit, running_phase
from sunset.phases.finish import close_run, write_artifacts
from sunset.phases.results import PhaseResult, RunOutcome

REJECTED = "ApprovalRejected"


class ApprovalRequest(BaseModel):
    """What the gate's Task passes: the run, and the token the execution waits on."""

    model_config = ConfigDict(extra="ignore")

    run: RunContext
    task_token: str


def request_approval(event: ApprovalRequest, kit: Toolkit) -> PhaseResult:
    """Record the task token and ask for approval (APPROVAL); the execution then waits."""
    run = event.run
    expires_at = kit.now() + timedelta(seconds=run.request.approval.timeout_seconds)
    with running_phase(kit, run, "Approval") as (manifest, journal):
        kit.runs.await_approval(run.run_id, event.task_token, expires_at)
        journal.record(
            "request approval",
            f"service/{run.service}",
            "ok",
            detail=f"waiting for a person until {expires_at:%Y-%m-%d %H:%M:%S} UTC",
        )
        notice = notices.approval_requested(
            run, manifest.require_inventory(), event.task_token, expires_at
        )
        message_id = journal.notify(kit.notifier, notice)
    return PhaseResult(phase="Approval", summary=f"APPROVAL requested as message {message_id}")


def _why(event: FailureEvent, kit: Toolkit) -> str:
    error = event.error.get("Error", "")
    cause = readable_cause(event.error.get("Cause", ""))
    if error == REJECTED:
        # `sunset reject` recorded who and why before answering; a rejection sent with the AWS
        # CLI has only the task failure's cause.
        record = kit.runs.get_run(event.run.run_id) if event.run else None
        if record and record.get("approval") == "REJECTED":
            cause = f"{record.get('approval_reason')} (by {record.get('approval_by')})"
        return f"the approval was rejected: {cause or 'no reason given'}"
    if error == "States.Timeout":
        timeout = event.run.request.approval.timeout_seconds if event.run else 0
        return f"nobody approved it within {notices.human_duration(timeout)}"
    return f"{error}: {cause}"


def cancel_run(event: FailureEvent, kit: Toolkit) -> RunOutcome:
    """End a run that was not approved: CANCELLED, lock released, artifacts written."""
    if event.run is None:
        raise ManifestError("cancelling a run needs the run context that Prepare returns")
    run, why = event.run, _why(event, kit)
    try:
        with running_phase(kit, run, "Cancel") as (manifest, journal):
            journal.record("cancel run", f"service/{run.service}", "ok", detail=why)
            close_run(kit, manifest, journal, "cancelled")
            journal.notify(kit.notifier, notices.cancelled(run, why))
    finally:
        outcome = write_artifacts(kit, run.run_id)
    return outcome.model_copy(update={"cause": why[:1].upper() + why[1:]})
