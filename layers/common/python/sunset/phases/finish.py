"""The two ways a run ends: a report and COMPLETED, or an incident and INCIDENT.

Both write the same artifacts (manifest, audit.jsonl, report.md, report.html), release the
service's lock and record the run's final status, so that every terminal path leaves the same
evidence behind.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from sunset import notices
from sunset.artifacts import run_prefix
from sunset.context import FailureEvent, RunContext
from sunset.errors import InvalidRequest, ManifestError, readable_cause
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import Action, Incident, Manifest, removals
from sunset.observability import metrics
from sunset.phases.restore_test import delete_leftovers
from sunset.phases.results import RunOutcome
from sunset.plan import build_plan, planned
from sunset.report import render
from sunset.request import DecommissionRequest, parse_request

# The execution output, like every state, must stay under Step Functions' 256 KB; the plan of
# a service of a few hundred resources fits in this, a bigger one is read from plan.json.
PLAN_INLINE_LIMIT = 128 * 1024


def write_artifacts(kit: Toolkit, run_id: str) -> RunOutcome:
    """Write report.md, report.html and audit.jsonl from what is on record (manifest and runs
    table)."""
    manifest = kit.store.load_manifest(run_id)
    audit = kit.runs.audit_entries(run_id)
    report = render(manifest, audit, kit.now())
    kit.store.save_report(run_id, report.markdown, report.html)
    kit.store.save_audit(run_id, audit)
    prefix = run_prefix(run_id)
    counts = manifest.inventory.counts() if manifest.inventory else {}
    if manifest.inventory:
        counts["Protected, untouched"] = len(manifest.inventory.protected)
        counts["NOT handled by Sunset"] = len(manifest.inventory.not_handled)
    plan, plan_uri = None, None
    if manifest.request.dry_run:
        counts["Planned changes"] = len(planned(manifest.actions))
        if manifest.inventory is not None:
            plan = build_plan(manifest)
            body = plan.model_dump_json(indent=2)
            plan_uri = kit.store.uri(kit.store.save_plan(run_id, body))
            if len(body.encode("utf-8")) > PLAN_INLINE_LIMIT:
                plan = None  # too big for the execution output: plan.json has it
    return RunOutcome(
        run_id=run_id,
        service=manifest.service,
        status=manifest.outcome.upper(),
        manifest=kit.store.uri(prefix + "manifest.json"),
        audit=kit.store.uri(prefix + "audit.jsonl"),
        report=kit.store.uri(prefix + "report.md"),
        report_html=kit.store.uri(prefix + "report.html"),
        dry_run=manifest.request.dry_run,
        plan=plan,
        plan_uri=plan_uri,
        counts={label: n for label, n in counts.items() if n},
    )


def close_run(
    kit: Toolkit,
    manifest: Manifest,
    journal: Journal,
    outcome: Literal["succeeded", "failed", "cancelled"],
) -> None:
    """Mark the run ended, release the lock and record the final status."""
    manifest.outcome, manifest.ended_at = outcome, kit.now()
    if kit.runs.release_lock(manifest.lock_name, manifest.run_id):
        journal.record("release lock", f"service/{manifest.service}", "ok")
    kit.runs.finish_run(manifest.run_id, outcome.upper(), manifest.ended_at)


def complete(run: RunContext, kit: Toolkit) -> RunOutcome:
    """Close a successful run: lock released, COMPLETED sent, artifacts written.

    The lock and the artifacts do not depend on the notice: if SNS fails, the run still ends
    with its evidence written and its service unlocked, and the error goes to the incident path.
    """
    report_uri = kit.store.uri(run_prefix(run.run_id) + "report.md")
    try:
        with running_phase(kit, run, "Report") as (manifest, journal):
            close_run(kit, manifest, journal, "succeeded")
            journal.notify(kit.notifier, notices.completed(run, manifest, report_uri))
    finally:
        outcome = write_artifacts(kit, run.run_id)
    # A rehearsal is not a shutdown: dry runs are counted apart, so dashboards stay true.
    dry = "DryRuns" if run.request.dry_run else "Runs"
    metrics.add_metric(name=f"{dry}Succeeded", unit="Count", value=1)
    return outcome


def _state_of_things(audit: list[Action], manifest: Manifest) -> str:
    """What was changed and what is backed up, from the audit trail: it is written the moment a
    change happens, so it holds changes a phase made before dying without saving its manifest."""
    done = [f"- {a.action} {a.resource}: {a.result}" for a in audit if a.is_removal]
    snapshots = [f"- {s.kind} {s.source_id} -> {s.snapshot_id}" for s in manifest.backups.snapshots]
    proof = [notices.proof_lines(manifest)] if manifest.validation else []
    return "\n".join(
        [
            *proof,
            "Changes made before the failure:",
            *(done or ["- none: nothing was removed or stopped"]),
            "Backups on record:",
            *(snapshots or ["- none"]),
        ]
    )


# The errors the abandoned-run path (phases/abandoned.py) reports an execution's end with.
ENDED_OUTSIDE_ERRORS = frozenset({"ExecutionAborted", "ExecutionTimedOut", "ExecutionFailed"})


def _what_next(run: RunContext, failed_step: str, audit: list[Action], error: str) -> str:
    """What the INCIDENT tells people to expect, and how to bring the service back."""
    if not removals(audit):
        return "Nothing had been removed or stopped: the service runs as before."
    if error in ENDED_OUTSIDE_ERRORS:
        how = {
            "ExecutionAborted": "was stopped by hand",
            "ExecutionTimedOut": "timed out",
            "ExecutionFailed": "failed where no step could report it",
        }[error]
        return (
            f"The execution {how}, so nothing was rolled back. To bring back what was "
            f"removed: sunset restore {run.run_id}"
        )
    if failed_step == "Report":
        return (
            "The shutdown itself had completed; only its report or final notice failed, so "
            f"nothing was rolled back. To bring the service back: sunset restore {run.run_id}"
        )
    if run.request.on_failure == "halt":
        return (
            "on_failure is halt: the run stopped where it failed and nothing was rolled back. "
            f"To bring back what was removed: sunset restore {run.run_id}"
        )
    return (
        "The automatic rollback could not start. To bring back what was removed: "
        f"sunset restore {run.run_id}"
    )


class StartFailure(BaseModel):
    """What Report incident answers for a run that failed in Prepare: there is no manifest to
    record it in and no artifact to write, only people to tell."""

    run_id: str
    service: str
    status: Literal["FAILED"] = "FAILED"
    notified: bool
    error: str
    cause: str


def _report_start_failure(event: FailureEvent, kit: Toolkit) -> StartFailure:
    """INCIDENT for a run that never started: Prepare failed for a reason other than its input
    (refused input ends the run quietly, as the caller sees the refusal at once). A scheduled
    shutdown that could not start must not fail unseen."""
    if event.run_id is None:
        raise ManifestError("the incident path needs the run context that Prepare returns")
    error = event.error.get("Error", "Unknown")
    cause = readable_cause(event.error.get("Cause", ""))
    try:
        request: DecommissionRequest | None = parse_request(event.input)
    except InvalidRequest:
        request = None
    raw_service = event.input.get("service") if isinstance(event.input, dict) else None
    service = request.service if request else str(raw_service or "unknown")
    notify = request is None or not request.dry_run  # a dry run tells nobody anything
    if notify:
        notice = notices.incident(
            event.run_id,
            service,
            event.failed_step,
            error,
            cause,
            "The run never started: no lock is held, and nothing was announced, backed up or "
            "changed.",
            list(request.contacts) if request else [],
            "Nothing had been removed or stopped: the service runs as before. Start the run "
            "again once the cause is fixed.",
        )
        kit.notifier.send(notice)
    metrics.add_metric(name="RunsFailed", unit="Count", value=1)
    return StartFailure(
        run_id=event.run_id, service=service, notified=notify, error=error, cause=cause
    )


def report_incident(event: FailureEvent, kit: Toolkit) -> RunOutcome | StartFailure:
    """Record the failure, release the lock, tell people (INCIDENT), write the artifacts."""
    if event.run is None:
        return _report_start_failure(event, kit)
    run = event.run
    error = event.error.get("Error", "Unknown")
    cause = readable_cause(event.error.get("Cause", ""))
    try:
        with running_phase(kit, run, "Incident") as (manifest, journal):
            manifest.incident = Incident(
                failed_step=event.failed_step, error=error, cause=cause, at=kit.now()
            )
            leftovers = delete_leftovers(kit.aws, journal, manifest)
            try:
                close_run(kit, manifest, journal, "failed")
            finally:
                state = _state_of_things(kit.runs.audit_entries(run.run_id), manifest)
                if leftovers:
                    state += "\nRestore-test copies still to delete by hand: " + ", ".join(
                        leftovers
                    )
                notice = notices.incident(
                    run.run_id,
                    run.service,
                    event.failed_step,
                    error,
                    cause,
                    state,
                    list(run.request.contacts),
                    _what_next(run, event.failed_step, kit.runs.audit_entries(run.run_id), error),
                )
                journal.notify(kit.notifier, notice)
    finally:
        outcome = write_artifacts(kit, run.run_id)
    dry = "DryRuns" if run.request.dry_run else "Runs"
    metrics.add_metric(name=f"{dry}Failed", unit="Count", value=1)
    return outcome.model_copy(update={"cause": f"{event.failed_step} failed: {error}: {cause}"})
