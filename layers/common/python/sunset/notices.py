"""What people receive: one SNS message per phase, all templates in this one module.

Each notice has a subject a person can triage from a phone, a plain-text body, and the message
attributes `phase`, `service`, `run_id` and `severity` that subscription filter policies use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from sunset.aws import sns
from sunset.context import RunContext
from sunset.manifest import Incident, Inventory, Manifest, RestoreRecord

Phase = Literal[
    "ANNOUNCED",
    "APPROVAL",
    "STARTED",
    "BACKED_UP",
    "ACCESS_REMOVED",
    "STOPPED",
    "COMPLETED",
    "INCIDENT",
    "ROLLED_BACK",
    "CANCELLED",
    "RESTORED",
]
Severity = Literal["info", "warning", "critical"]
SEVERITY: dict[str, Severity] = {
    "INCIDENT": "critical",
    "ROLLED_BACK": "warning",
    "CANCELLED": "warning",
    "APPROVAL": "warning",
}
_SUBJECT_LIMIT = 99  # SNS wants subjects of less than 100 characters


class Notice(BaseModel):
    model_config = ConfigDict(frozen=True)

    phase: Phase
    service: str
    run_id: str
    subject: str
    body: str

    @property
    def severity(self) -> Severity:
        return SEVERITY.get(self.phase, "info")

    def attributes(self) -> dict[str, str]:
        return {
            "phase": self.phase,
            "service": self.service,
            "run_id": self.run_id,
            "severity": self.severity,
        }


class Notifier:
    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._sns = sns_client
        self.topic_arn = topic_arn

    def send(self, notice: Notice) -> dict[str, Any]:
        return sns.publish(
            self._sns, self.topic_arn, notice.subject, notice.body, notice.attributes()
        )


def _notice(
    phase: Phase, run_id: str, service: str, headline: str, sections: Iterable[str]
) -> Notice:
    subject = f"[Sunset] {service}: {headline}"
    if len(subject) > _SUBJECT_LIMIT:
        subject = subject[: _SUBJECT_LIMIT - 3] + "..."
    body = "\n\n".join(part.rstrip() for part in sections if part) + "\n"
    return Notice(phase=phase, service=service, run_id=run_id, subject=subject, body=body)


def _footer(run: RunContext) -> str:
    contacts = ", ".join(run.request.contacts) or "(no contacts given)"
    return f"Run: {run.run_id}\nQuestions: {contacts}"


def _downtime(run: RunContext) -> str:
    downtime = run.request.downtime
    if downtime is None:
        return "Expected downtime: permanent (no planned return)"
    length = human_duration(downtime.total_seconds())
    return f"Expected downtime: {run.request.expected_downtime} ({length})"


def human_duration(seconds: float) -> str:
    """'2 d 3 h', '45 min', '30 s'."""
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join(p for p in parts if p) or f"{int(seconds)} s"


def inventory_lines(inventory: Inventory) -> str:
    lines = [f"- {label}: {count}" for label, count in inventory.counts().items() if count]
    if inventory.protected:
        protected = ", ".join(f"{p.kind} {p.resource_id}" for p in inventory.protected)
        lines.append(f"- Protected, left untouched: {protected}")
    for item in inventory.not_handled:
        lines.append(f"- NOT handled by Sunset: {item.kind} {item.resource_id} ({item.reason})")
    return "What is affected:\n" + "\n".join(lines)


def when(run: RunContext) -> str:
    """When the shutdown starts, in UTC and in the service's time zone, and how far off."""
    cutoff = run.cutoff or run.started_at
    text = cutoff.strftime("%Y-%m-%d %H:%M:%S UTC")
    if run.request.timezone != "UTC":
        local = cutoff.astimezone(ZoneInfo(run.request.timezone))
        text += f" ({local:%Y-%m-%d %H:%M:%S %Z}, {run.request.timezone})"
    notice = (cutoff - run.started_at).total_seconds()
    text += f", in {human_duration(notice)}" if notice >= 1 else ", now"
    if run.request.approval.required:
        text += ", once a person approves it (Sunset will ask then)"
    return text


def announced(run: RunContext, inventory: Inventory) -> Notice:
    impact = ""
    if inventory.impact is not None:
        impact = (
            f"Recent traffic ({inventory.impact.window_days} days): "
            f"{inventory.impact.total_invocations:,.0f} model invocations, "
            f"{inventory.impact.total_api_requests:,.0f} API requests."
        )
    return _notice(
        "ANNOUNCED",
        run.run_id,
        run.service,
        "scheduled shutdown",
        [
            f"The AI service {run.service!r} is being shut down by Sunset.",
            f"When: {when(run)}\nWhy: {run.request.reason}\n{_downtime(run)}",
            f"How it comes back: {run.request.resumption_plan}",
            inventory_lines(inventory),
            impact,
            "Before anything is removed, every volume and database is snapshotted and every "
            "endpoint and API configuration is captured in the run's manifest.",
            _footer(run),
        ],
    )


def approval_requested(
    run: RunContext, inventory: Inventory, task_token: str, expires_at: datetime
) -> Notice:
    """What the person who supervises the shutdown needs in order to say yes or no."""
    return _notice(
        "APPROVAL",
        run.run_id,
        run.service,
        "APPROVAL NEEDED before shutdown",
        [
            f"Sunset is ready to shut down {run.service!r} and waits for a person to approve. "
            "Nothing has been changed yet.",
            f"Why: {run.request.reason}\n{_downtime(run)}\n"
            f"How it comes back: {run.request.resumption_plan}",
            inventory_lines(inventory),
            f"Answer before {expires_at:%Y-%m-%d %H:%M:%S UTC}; without an answer the run is "
            "cancelled and nothing is touched.",
            "To approve:  sunset approve "
            f"{run.run_id} --by YOUR-NAME [--stack STACK]\n"
            f'To reject:   sunset reject {run.run_id} --reason "..." --by YOUR-NAME '
            "[--stack STACK]\n"
            "Or with the AWS CLI and the task token below: aws stepfunctions send-task-success "
            '--task-token TOKEN --task-output \'{"approved_by": "YOUR-NAME"}\' (to reject: '
            "send-task-failure --task-token TOKEN --error ApprovalRejected --cause REASON)",
            f"Task token:\n{task_token}",
            _footer(run),
        ],
    )


def cancelled(run: RunContext, why: str) -> Notice:
    return _notice(
        "CANCELLED",
        run.run_id,
        run.service,
        "shutdown CANCELLED, nothing changed",
        [
            f"The shutdown of {run.service!r} was cancelled before anything was changed: {why}.",
            f"{run.service!r} runs as before. To shut it down later, start a new run.",
            _footer(run),
        ],
    )


def started(run: RunContext) -> Notice:
    return _notice(
        "STARTED",
        run.run_id,
        run.service,
        "shutdown started",
        [f"Sunset has started shutting down {run.service!r}: backups first.", _footer(run)],
    )


def backed_up(run: RunContext, manifest: Manifest) -> Notice:
    backups = manifest.backups
    snapshots = "\n".join(
        f"- {s.kind} {s.source_id} -> {s.snapshot_id} ({s.status})" for s in backups.snapshots
    )
    checks = sum(len(v.checks) for v in backups.verifications.values())
    captured = (
        f"Configuration captured: {len(backups.endpoints)} endpoint(s), "
        f"{len(backups.http_apis)} HTTP API(s), {len(backups.rest_apis)} REST API(s).\n"
        f"Verified: {len(backups.verifications)} backup(s) against their sources "
        f"({checks} comparisons, all recorded in the manifest)."
    )
    passed = [t for t in backups.restore_tests if t.result == "passed"]
    if passed:
        captured += f"\nRestore tests passed: {len(passed)} (the copies were deleted)."
    return _notice(
        "BACKED_UP",
        run.run_id,
        run.service,
        "backups verified",
        [
            f"Snapshots:\n{snapshots}" if snapshots else "Snapshots: none needed.",
            captured,
            _footer(run),
        ],
    )


def access_removed(run: RunContext, removed: list[str]) -> Notice:
    listing = "\n".join(f"- {item}" for item in removed) or "- nothing to remove"
    return _notice(
        "ACCESS_REMOVED",
        run.run_id,
        run.service,
        "API access removed",
        [f"Clients can no longer reach {run.service!r} through its APIs:\n{listing}", _footer(run)],
    )


@dataclass
class StopOutcome:
    """What the Stop phase stopped, and what it left running and why."""

    stopped: list[str] = field(default_factory=list)
    left_running: list[str] = field(default_factory=list)


def stopped(run: RunContext, outcome: StopOutcome) -> Notice:
    listing = "\n".join(f"- {item}" for item in outcome.stopped) or "- nothing was running"
    left = "\n".join(f"- {item}" for item in outcome.left_running)
    return _notice(
        "STOPPED",
        run.run_id,
        run.service,
        "compute stopped" if not left else "compute stopped, some left RUNNING",
        [
            f"Stopped (configuration kept for a restore):\n{listing}",
            f"NOT stopped, still running:\n{left}" if left else "",
            _footer(run),
        ],
    )


def proof_lines(manifest: Manifest) -> str:
    """What the Validate phase found, in a few lines: the verdict, what is still alive, what
    could not be checked."""
    validation = manifest.validation
    if validation is None or validation.settled_at is None:
        return "Validation: the service was not proven down (the checks did not run to the end)."
    if not validation.evidence:
        return "Validation: no check could give an answer, so the service is NOT proven down: " + (
            "; ".join(f"{name}: {why}" for name, why in validation.skipped.items())
        )
    failures = validation.failures()
    verdicts = ", ".join(f"{name} {verdict}" for name, verdict in validation.verdicts().items())
    lines = [
        f"Validation: {verdicts}. {len(validation.evidence)} answer(s), "
        + (f"{len(failures)} show the service still ALIVE:" if failures else "the service is down.")
    ]
    lines += [f"- {item.check}: {item.subject}: {item.answer}" for item in failures[:20]]
    if len(failures) > 20:
        lines.append(f"- and {len(failures) - 20} more, in the report")
    lines += [f"Not checked: {name}: {why}" for name, why in validation.skipped.items()]
    return "\n".join(lines)


def completed(run: RunContext, manifest: Manifest, report_uri: str) -> Notice:
    return _notice(
        "COMPLETED",
        run.run_id,
        run.service,
        "shutdown completed",
        [
            f"{run.service!r} is shut down. "
            f"{len(manifest.actions)} change(s) were made and recorded.",
            proof_lines(manifest),
            f"Report: {report_uri}",
            f"How it comes back: {run.request.resumption_plan}",
            _footer(run),
        ],
    )


def incident(
    run_id: str,
    service: str,
    failed_step: str,
    error: str,
    cause: str,
    state_of_things: str,
    contacts: list[str],
    what_next: str,
) -> Notice:
    return _notice(
        "INCIDENT",
        run_id,
        service,
        f"shutdown FAILED at {failed_step}",
        [
            f"The Sunset run {run_id} for {service!r} failed in step {failed_step!r}.",
            f"Error: {error}\nCause: {cause}",
            state_of_things,
            what_next,
            f"Run: {run_id}\nQuestions: {', '.join(contacts) or '(no contacts given)'}",
        ],
    )


def _restored_lines(record: RestoreRecord) -> str:
    lines = "\n".join(f"- {item}" for item in record.restored)
    return f"Brought back:\n{lines}" if lines else "Nothing needed bringing back."


def _checks_line(record: RestoreRecord) -> str:
    return (
        f"Checked against the capture: {len(record.checks)} comparison(s), all as before "
        "(endpoints, variants, autoscaling, routes and their targets, methods, stages)."
    )


def restored(run: RunContext, record: RestoreRecord, report_uri: str) -> Notice:
    return _notice(
        "RESTORED",
        run.run_id,
        run.service,
        "service restored",
        [
            f"{run.service!r} is back, restored by {record.restore_id} from the manifest of "
            f"run {run.run_id}.",
            _restored_lines(record),
            _checks_line(record),
            f"Report: {report_uri}",
            _footer(run),
        ],
    )


def rolled_back(
    run: RunContext, incident: Incident, record: RestoreRecord, report_uri: str
) -> Notice:
    return _notice(
        "ROLLED_BACK",
        run.run_id,
        run.service,
        f"shutdown failed at {incident.failed_step}, rolled back",
        [
            f"The shutdown of {run.service!r} failed in step {incident.failed_step!r} and was "
            "rolled back automatically (on_failure=rollback): the service is running as before.",
            f"Error: {incident.error}\nCause: {incident.cause}",
            _restored_lines(record),
            _checks_line(record),
            "The snapshots taken by this run are kept. Fix the cause, then start a new run.",
            f"Report: {report_uri}",
            _footer(run),
        ],
    )


def restore_failed(
    run: RunContext,
    record: RestoreRecord,
    failed_step: str,
    error: str,
    cause: str,
    incident: Incident | None,
) -> Notice:
    failed = record.failed_checks()
    missing = "\n".join(f"- {check.describe()}" for check in failed)
    what = "rollback" if record.mode == "rollback" else "restore"
    headline = f"{what} FAILED at {failed_step}"
    if incident is not None and record.mode == "rollback":
        headline = f"shutdown failed at {incident.failed_step}, rollback FAILED"
    verified = bool(record.checks) and not failed
    state = (
        "the service is back and was verified; only the final report or notice failed."
        if verified
        else "the service is NOT fully back."
    )
    return _notice(
        "INCIDENT",
        run.run_id,
        run.service,
        headline,
        [
            f"The {what} of {run.service!r} ({record.restore_id}) failed in step {failed_step!r}; "
            + state,
            f"Why the shutdown failed: {incident.failed_step}: {incident.error}: {incident.cause}"
            if incident is not None and record.mode == "rollback"
            else "",
            f"Error: {error}\nCause: {cause}",
            _restored_lines(record),
            f"Still not as before:\n{missing}" if missing else "",
            "A restore only adds what is missing, so it is safe to run again once the cause is "
            f"fixed: sunset restore {run.run_id}",
            _footer(run),
        ],
    )
