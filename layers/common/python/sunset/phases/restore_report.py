"""How a restore ends: RESTORED or ROLLED_BACK when the service is back, INCIDENT when it is not.

Either way the lock is released, the run's status recorded and report.md rewritten with the
restore in it, so the evidence of a restore sits beside the evidence of the shutdown.
"""

from __future__ import annotations

from sunset import notices
from sunset.artifacts import run_prefix
from sunset.context import RestoreFailureEvent, RestoreStepEvent
from sunset.errors import readable_cause
from sunset.journal import Journal, Toolkit, running_phase
from sunset.manifest import Manifest
from sunset.phases.finish import write_artifacts
from sunset.phases.results import RunOutcome


def _unlock(kit: Toolkit, manifest: Manifest, journal: Journal, holder: str) -> None:
    if kit.runs.release_lock(manifest.lock_name, holder):
        journal.record("release lock", f"service/{manifest.service}", "ok")


def finish_restore(event: RestoreStepEvent, kit: Toolkit) -> RunOutcome:
    """The service is back and verified: tell people, record it, release the lock."""
    run, restore = event.run, event.restore
    report_uri = kit.store.uri(run_prefix(run.run_id) + "report.md")
    rollback = restore.mode == "rollback"
    status = "ROLLED_BACK" if rollback else "RESTORED"
    cause = None
    try:
        with running_phase(kit, run, "Report restore") as (manifest, journal):
            record = manifest.restore(restore.restore_id)
            record.outcome, record.ended_at = "restored", kit.now()
            if rollback:
                manifest.outcome, manifest.ended_at = "rolled_back", kit.now()
            _unlock(kit, manifest, journal, restore.lock_holder)
            kit.runs.finish_run(restore.restore_id, status, kit.now())
            if rollback and manifest.incident is not None:
                incident = manifest.incident
                cause = (
                    f"{incident.failed_step} failed: {incident.error}: {incident.cause}. "
                    f"Rolled back: {len(record.restored)} piece(s) brought back and verified."
                )
                journal.notify(kit.notifier, notices.rolled_back(run, incident, record, report_uri))
            else:
                journal.notify(kit.notifier, notices.restored(run, record, report_uri))
    finally:
        outcome = write_artifacts(kit, run.run_id)
    return outcome.model_copy(update={"status": status, "cause": cause})


def report_restore_failure(event: RestoreFailureEvent, kit: Toolkit) -> RunOutcome:
    """The service is not fully back: INCIDENT with what came back and what did not."""
    run, restore = event.run, event.restore
    error = event.error.get("Error", "Unknown")
    cause = readable_cause(event.error.get("Cause", ""))
    incident = None
    back = False
    try:
        with running_phase(kit, run, "Restore failed") as (manifest, journal):
            record = manifest.restore(restore.restore_id)
            # Verified in full, then only the report or its notice failed: the service IS back,
            # and the records say so; the failure is kept beside it.
            back = event.failed_step == "Report restore" and bool(record.checks)
            back = back and not record.failed_checks()
            record.outcome, record.ended_at = ("restored" if back else "failed"), kit.now()
            record.failure = f"{event.failed_step} failed with {error}: {cause}"
            if restore.mode == "rollback":
                manifest.outcome = "rolled_back" if back else "failed"
                manifest.ended_at = kit.now()
            status = ("ROLLED_BACK" if restore.mode == "rollback" else "RESTORED") if back else None
            try:
                _unlock(kit, manifest, journal, restore.lock_holder)
                kit.runs.finish_run(restore.restore_id, status or "FAILED", kit.now())
            finally:
                incident = manifest.incident
                notice = notices.restore_failed(
                    run, record, event.failed_step, error, cause, incident
                )
                journal.notify(kit.notifier, notice)
    finally:
        outcome = write_artifacts(kit, run.run_id)
    if back:
        return outcome.model_copy(
            update={
                "status": "ROLLED_BACK" if restore.mode == "rollback" else "RESTORED",
                "error": incident.error if incident is not None else error,
                "cause": f"the service is back and verified; only Report restore failed: "
                f"{error}: {cause}",
            }
        )
    if restore.mode == "rollback" and incident is not None:
        # The execution keeps the error that made the shutdown fail; the cause tells both.
        return outcome.model_copy(
            update={
                "status": "FAILED",
                "error": incident.error,
                "cause": f"{incident.failed_step} failed: {incident.error}: {incident.cause}. "
                f"The rollback failed too, at {event.failed_step}: {error}: {cause}",
            }
        )
    return outcome.model_copy(
        update={
            "status": "FAILED",
            "error": error,
            "cause": f"restore failed at {event.failed_step}: {error}: {cause}",
        }
    )
