"""What people receive: one SNS message per phase, all templates in this one module.

Each notice has a subject a person can triage from a phone, a plain-text body, a JSON document
for machines (`Notice.document`, schema `sunset.notice/1`) whose `facts` each template builds
next to the text they mirror, and the message attributes `phase`, `service`, `run_id` and
`severity` that subscription filter policies use (`FILTER_POLICIES`). See docs/notices.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from sunset.aws import sns
from sunset.context import RunContext
from sunset.manifest import Incident, Inventory, Manifest, RestoreRecord, removals

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
_SMS_LIMIT = 160  # one SMS segment
# Facts never shortened to fit SNS's cap: identifiers and commands that are useless in part.
_KEEP_WHOLE = frozenset(
    {"task_token", "approve_command", "reject_command", "restore_command", "report", "restore_id"}
)
SCHEMA = "sunset.notice/1"
# A body longer than this is cut (a person does not read 20,000 characters on a phone; the
# report has everything), which also keeps the six copies of it in one message under SNS's cap.
TEXT_LIMIT = 20_000

# Who subscribes to what, by message attribute (FilterPolicyScope MessageAttributes). template.yaml
# subscribes the NotifyEmail and ApproverEmail parameters with the first two, and a unit test
# keeps the two in step; a chat-ops queue subscribes with no policy and gets everything.
FILTER_POLICIES: dict[str, dict[str, list[str]]] = {
    "people": {
        "phase": ["ANNOUNCED", "COMPLETED", "INCIDENT", "CANCELLED", "ROLLED_BACK", "RESTORED"]
    },
    "approvers": {"phase": ["APPROVAL"]},
    "on-call": {"severity": ["critical"]},
}

# The protocols that receive the JSON document; every other one (email, email-json, SMS,
# mobile push, Firehose) gets the "default" text.
_MACHINE_PROTOCOLS = ("sqs", "lambda", "http", "https")
# When the whole message is still too large for SNS, each step publishes less: a shorter text,
# then fact strings and lists cut short, and last no facts at all (the report has everything).
# (text characters, fact string characters, list items); None keeps the facts whole, 0 drops them.
_SHRINK_STEPS: tuple[tuple[int, int | None, int | None], ...] = (
    (TEXT_LIMIT, None, None),
    (10_000, 2_000, 200),
    (4_000, 500, 20),
    (1_000, 0, 0),
)


class Notice(BaseModel):
    """One phase's message: the text people read and the facts machines read, the same news."""

    model_config = ConfigDict(frozen=True)

    phase: Phase
    service: str
    run_id: str
    subject: str
    body: str
    contacts: list[str] = Field(default_factory=list)
    facts: dict[str, Any] = Field(
        default_factory=dict, description="JSON-serialisable; datetimes as ISO-8601 strings"
    )
    truncated: bool = Field(default=False, description="the body was cut at TEXT_LIMIT")

    @property
    def severity(self) -> Severity:
        return SEVERITY.get(self.phase, "info")

    def attributes(self) -> dict[str, str]:
        """The SNS message attributes that subscription filter policies match on."""
        return {
            "phase": self.phase,
            "service": self.service,
            "run_id": self.run_id,
            "severity": self.severity,
        }

    def document(self) -> dict[str, Any]:
        """The notice for machines (schema sunset.notice/1): the text, and the facts behind it."""
        return self._document(TEXT_LIMIT, None, None)

    def _document(
        self, text_chars: int, fact_chars: int | None, items: int | None
    ) -> dict[str, Any]:
        text, cut = _cut_text(self.body, text_chars, self.run_id)
        facts = self.facts
        if fact_chars == 0:
            facts = {}
        elif fact_chars is not None and items is not None:
            facts = _clip(self.facts, fact_chars, items)
        return {
            "schema": SCHEMA,
            "phase": self.phase,
            "severity": self.severity,
            "service": self.service,
            "run_id": self.run_id,
            "subject": self.subject,
            "text": text,
            "contacts": list(self.contacts),
            "facts": facts,
            # True when anything above was cut to fit: the run's report has the rest.
            "truncated": self.truncated or cut or facts != self.facts,
        }

    def sms_text(self) -> str:
        """What a phone gets: the subject and the run. SNS refuses an SMS over 1,600
        characters, and a pager line should fit on one screen; the email and the report have
        the rest."""
        return f"{self.subject} (run {self.run_id})"[:_SMS_LIMIT]

    def structured_message(self, limit_bytes: int) -> str:
        """The Message for SNS's MessageStructure=json: text for people (email, SMS), the JSON
        document for machines (SQS, Lambda, HTTP/S), the whole under `limit_bytes` of UTF-8."""
        message = ""
        for text_chars, fact_chars, items in _SHRINK_STEPS:
            document = self._document(text_chars, fact_chars, items)
            # ensure_ascii=False: an accented letter costs 2 bytes instead of 6 (\u00e9), six
            # times over, and SNS takes UTF-8.
            doc = json.dumps(document, ensure_ascii=False)
            per_protocol = {
                "default": document["text"],
                "email": document["text"],
                "sms": self.sms_text(),
            }
            per_protocol |= dict.fromkeys(_MACHINE_PROTOCOLS, doc)
            message = json.dumps(per_protocol, ensure_ascii=False)
            if len(message.encode("utf-8")) <= limit_bytes:
                return message
        # The last step keeps 1,000 characters of text and no facts: only contacts of
        # pathological length could still be too large, SNS would refuse the message, and the
        # run's incident path would say so.
        return message


def _cut_text(text: str, limit: int, run_id: str) -> tuple[str, bool]:
    """`text` if it fits in `limit` characters, else its start and a line saying where the rest
    is."""
    if len(text) <= limit:
        return text, False
    note = (
        f"\n\n[Cut here: this notice was longer than {limit:,} characters. The run's report "
        f"(runs/{run_id}/report.md in the artifacts bucket) has everything.]\n"
    )
    return text[: max(limit - len(note), 0)] + note, True


def _clip(value: Any, chars: int, items: int) -> Any:
    """`value` with every string cut to `chars` characters and every list to `items` items,
    except the facts a machine acts on as they are (a task token cut short answers nothing)."""
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + " [cut]"
    if isinstance(value, list):
        return [_clip(item, chars, items) for item in value[:items]]
    if isinstance(value, dict):
        return {
            key: item if key in _KEEP_WHOLE else _clip(item, chars, items)
            for key, item in value.items()
        }
    return value


class Notifier:
    """Publishes notices to the run's topic."""

    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._sns = sns_client
        self.topic_arn = topic_arn

    def send(self, notice: Notice) -> dict[str, Any]:
        """Publish one notice: text for people, JSON for machines, attributes for filters."""
        attributes = notice.attributes()
        # SNS counts the message attributes in its cap too.
        budget = sns.MESSAGE_LIMIT_BYTES - sns.attributes_size(attributes)
        return sns.publish(
            self._sns,
            self.topic_arn,
            notice.subject,
            notice.structured_message(budget),
            attributes,
            structure="json",
        )


def _notice(
    phase: Phase,
    run_id: str,
    service: str,
    headline: str,
    sections: Iterable[str],
    *,
    contacts: Iterable[str],
    facts: dict[str, Any],
) -> Notice:
    subject = f"[Sunset] {service}: {headline}"
    if len(subject) > _SUBJECT_LIMIT:
        subject = subject[: _SUBJECT_LIMIT - 3] + "..."
    body, cut = _cut_text(
        "\n\n".join(part.rstrip() for part in sections if part) + "\n", TEXT_LIMIT, run_id
    )
    return Notice(
        phase=phase,
        service=service,
        run_id=run_id,
        subject=subject,
        body=body,
        contacts=list(contacts),
        facts=facts,
        truncated=cut,
    )


def iso(moment: datetime) -> str:
    """An instant as machines read it: ISO-8601 in UTC, '2026-12-01T09:00:00Z'."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _footer(run: RunContext) -> str:
    contacts = ", ".join(run.request.contacts) or "(no contacts given)"
    target = run.request.target
    where = f"\nWhere: account {target.account}, Region {target.region}" if target else ""
    return f"Run: {run.run_id}{where}\nQuestions: {contacts}"


def _downtime(run: RunContext) -> str:
    downtime = run.request.downtime
    if downtime is None:
        return "Expected downtime: permanent (no planned return)"
    length = human_duration(downtime.total_seconds())
    return f"Expected downtime: {run.request.expected_downtime} ({length})"


def _downtime_facts(run: RunContext) -> dict[str, Any]:
    downtime = run.request.downtime
    return {
        "reason": run.request.reason,
        "expected_downtime": run.request.expected_downtime,
        # null: permanent, no planned return
        "downtime_seconds": int(downtime.total_seconds()) if downtime is not None else None,
        "resumption_plan": run.request.resumption_plan,
    }


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
    """What is affected, for people: a line per kind of resource, protected ones named."""
    lines = [f"- {label}: {count}" for label, count in inventory.counts().items() if count]
    if inventory.protected:
        protected = ", ".join(f"{p.kind} {p.resource_id}" for p in inventory.protected)
        lines.append(f"- Protected, left untouched: {protected}")
    for item in inventory.not_handled:
        lines.append(f"- NOT handled by Sunset: {item.kind} {item.resource_id} ({item.reason})")
    return "What is affected:\n" + "\n".join(lines)


def inventory_facts(inventory: Inventory) -> dict[str, Any]:
    """What is affected, for machines: counts keyed as the request's `resources` are."""
    return {
        "counts": {
            "sagemaker_endpoints": len(inventory.endpoints),
            "http_apis": len(inventory.http_apis),
            "rest_apis": len(inventory.rest_apis),
            "ebs_volumes": len(inventory.volumes),
            "rds_instances": len(inventory.db_instances),
            "rds_clusters": len(inventory.db_clusters),
            "log_groups": len(inventory.log_groups),
        },
        "protected": [{"kind": p.kind, "resource_id": p.resource_id} for p in inventory.protected],
        "not_handled": [
            {"kind": item.kind, "resource_id": item.resource_id, "reason": item.reason}
            for item in inventory.not_handled
        ],
    }


def _cutoff(run: RunContext) -> datetime:
    return run.cutoff or run.started_at


def when(run: RunContext) -> str:
    """When the shutdown starts, in UTC and in the service's time zone, and how far off."""
    cutoff = _cutoff(run)
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
    """ANNOUNCED: what goes, when, why, for how long and how it comes back."""
    impact = ""
    impact_facts = None
    if inventory.impact is not None:
        impact = (
            f"Recent traffic ({inventory.impact.window_days} days): "
            f"{inventory.impact.total_invocations:,.0f} model invocations, "
            f"{inventory.impact.total_api_requests:,.0f} API requests."
        )
        impact_facts = {
            "window_days": inventory.impact.window_days,
            "model_invocations": inventory.impact.total_invocations,
            "api_requests": inventory.impact.total_api_requests,
        }
    cutoff = _cutoff(run)
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
        contacts=run.request.contacts,
        facts={
            "cutoff": iso(cutoff),
            "timezone": run.request.timezone,
            "cutoff_local": cutoff.astimezone(ZoneInfo(run.request.timezone)).isoformat(),
            "notice_seconds": max(int((cutoff - run.started_at).total_seconds()), 0),
            **_downtime_facts(run),
            "approval_required": run.request.approval.required,
            "inventory": inventory_facts(inventory),
            "impact": impact_facts,
            # Where the service lives when not in Sunset's own account and Region.
            "target": run.request.target.model_dump() if run.request.target else None,
        },
    )


def approval_requested(
    run: RunContext, inventory: Inventory, task_token: str, expires_at: datetime
) -> Notice:
    """What the person who supervises the shutdown needs in order to say yes or no."""
    approve = f"sunset approve {run.run_id} --by YOUR-NAME"
    reject = f'sunset reject {run.run_id} --reason "..." --by YOUR-NAME'
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
            f"To approve:  {approve} [--stack STACK]\n"
            f"To reject:   {reject} [--stack STACK]\n"
            "Or with the AWS CLI and the task token below: aws stepfunctions send-task-success "
            '--task-token TOKEN --task-output \'{"approved_by": "YOUR-NAME"}\' (to reject: '
            "send-task-failure --task-token TOKEN --error ApprovalRejected --cause REASON)",
            f"Task token:\n{task_token}",
            _footer(run),
        ],
        contacts=run.request.contacts,
        facts={
            "expires_at": iso(expires_at),
            "task_token": task_token,
            "approve_command": approve,
            "reject_command": reject,
            **_downtime_facts(run),
            "inventory": inventory_facts(inventory),
        },
    )


def cancelled(run: RunContext, why: str) -> Notice:
    """CANCELLED: the run ended before anything was changed, and why."""
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
        contacts=run.request.contacts,
        facts={"why": why},
    )


def started(run: RunContext) -> Notice:
    """STARTED: the notice period is over and the backups begin."""
    return _notice(
        "STARTED",
        run.run_id,
        run.service,
        "shutdown started",
        [f"Sunset has started shutting down {run.service!r}: backups first.", _footer(run)],
        contacts=run.request.contacts,
        facts={"next": "Back up"},
    )


def backed_up(run: RunContext, manifest: Manifest) -> Notice:
    """BACKED_UP: every snapshot and captured configuration, verified against its source."""
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
        contacts=run.request.contacts,
        facts={
            "snapshots": [
                {
                    "kind": s.kind,
                    "source_id": s.source_id,
                    "snapshot_id": s.snapshot_id,
                    "status": s.status,
                }
                for s in backups.snapshots
            ],
            "captured": {
                "sagemaker_endpoints": len(backups.endpoints),
                "http_apis": len(backups.http_apis),
                "rest_apis": len(backups.rest_apis),
            },
            "verified": len(backups.verifications),
            "comparisons": checks,
            "restore_tests_passed": len(passed),
        },
    )


def access_removed(run: RunContext, removed: list[str]) -> Notice:
    """ACCESS_REMOVED: the API routes (and stages) clients reached the service through."""
    listing = "\n".join(f"- {item}" for item in removed) or "- nothing to remove"
    return _notice(
        "ACCESS_REMOVED",
        run.run_id,
        run.service,
        "API access removed",
        [f"Clients can no longer reach {run.service!r} through its APIs:\n{listing}", _footer(run)],
        contacts=run.request.contacts,
        facts={"removed": list(removed)},
    )


@dataclass
class StopOutcome:
    """What the Stop phase stopped, and what it left running and why."""

    stopped: list[str] = field(default_factory=list)
    left_running: list[str] = field(default_factory=list)
    # Databases AWS will start again by itself, and when (rds.MAX_STOPPED after their stop).
    restarted_by_aws: list[tuple[str, datetime]] = field(default_factory=list)


def stopped(run: RunContext, outcome: StopOutcome) -> Notice:
    """STOPPED: the compute that was stopped, and what was left running and why."""
    listing = "\n".join(f"- {item}" for item in outcome.stopped) or "- nothing was running"
    left = "\n".join(f"- {item}" for item in outcome.left_running)
    restarts = "\n".join(
        f"- {label}: on {moment:%Y-%m-%d %H:%M UTC}" for label, moment in outcome.restarted_by_aws
    )
    return _notice(
        "STOPPED",
        run.run_id,
        run.service,
        "compute stopped" if not left else "compute stopped, some left RUNNING",
        [
            f"Stopped (configuration kept for a restore):\n{listing}",
            f"NOT stopped, still running:\n{left}" if left else "",
            f"AWS starts a database that has been stopped for 7 days again by itself, and the "
            f"downtime is longer. These will be running again:\n{restarts}\nStop them again "
            "before then (aws rds stop-db-instance / stop-db-cluster), or delete them: their "
            "snapshots are kept."
            if restarts
            else "",
            _footer(run),
        ],
        contacts=run.request.contacts,
        facts={
            "stopped": list(outcome.stopped),
            "left_running": list(outcome.left_running),
            "restarted_by_aws": [
                {"resource": label, "at": moment.isoformat()}
                for label, moment in outcome.restarted_by_aws
            ],
        },
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


def proof_facts(manifest: Manifest) -> dict[str, Any]:
    """What the Validate phase found, for machines: `proven` is the one flag to act on."""
    validation = manifest.validation
    if validation is None:
        return {"proven": False, "verdicts": {}, "answers": 0, "alive": [], "not_checked": {}}
    return {
        "proven": validation.proven,
        "verdicts": validation.verdicts(),
        "answers": len(validation.evidence),
        "alive": [
            {"check": item.check, "subject": item.subject, "answer": item.answer}
            for item in validation.failures()
        ],
        "not_checked": dict(validation.skipped),
    }


def completed(run: RunContext, manifest: Manifest, report_uri: str) -> Notice:
    """COMPLETED: the service is shut down; the proof, and where the report is."""
    return _notice(
        "COMPLETED",
        run.run_id,
        run.service,
        "shutdown completed",
        [
            f"{run.service!r} is shut down: {len(removals(manifest.actions))} change(s) removed "
            f"or stopped something; {len(manifest.actions)} action(s) are recorded in the audit "
            "trail.",
            proof_lines(manifest),
            f"Report: {report_uri}",
            f"How it comes back: {run.request.resumption_plan}",
            _footer(run),
        ],
        contacts=run.request.contacts,
        facts={
            "removed_or_stopped": len(removals(manifest.actions)),
            "actions_recorded": len(manifest.actions),
            "validation": proof_facts(manifest),
            "report": report_uri,
            "resumption_plan": run.request.resumption_plan,
        },
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
    """INCIDENT: the run failed; which step, why, what state things are in, what to do."""
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
        contacts=contacts,
        facts={
            "failed_step": failed_step,
            "error": error,
            "cause": cause,
            "what_next": what_next,
        },
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
    """RESTORED: a recommission brought the service back, verified against the capture."""
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
        contacts=run.request.contacts,
        facts={
            "restore_id": record.restore_id,
            "restored": list(record.restored),
            "comparisons": len(record.checks),
            "report": report_uri,
        },
    )


def rolled_back(
    run: RunContext, incident: Incident, record: RestoreRecord, report_uri: str
) -> Notice:
    """ROLLED_BACK: the shutdown failed after a removal, and was undone automatically."""
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
        contacts=run.request.contacts,
        facts={
            "failed_step": incident.failed_step,
            "error": incident.error,
            "cause": incident.cause,
            "restored": list(record.restored),
            "comparisons": len(record.checks),
            "report": report_uri,
        },
    )


def restore_failed(
    run: RunContext,
    record: RestoreRecord,
    failed_step: str,
    error: str,
    cause: str,
    incident: Incident | None,
) -> Notice:
    """INCIDENT for a restore or rollback that failed: whether the service is back, and what
    is still not as before."""
    failed = record.failed_checks()
    missing = "\n".join(f"- {check.describe()}" for check in failed)
    what = "rollback" if record.mode == "rollback" else "restore"
    headline = f"{what} FAILED at {failed_step}"
    shutdown_failure = incident if incident is not None and record.mode == "rollback" else None
    if shutdown_failure is not None:
        headline = f"shutdown failed at {shutdown_failure.failed_step}, rollback FAILED"
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
            f"Why the shutdown failed: {shutdown_failure.failed_step}: {shutdown_failure.error}: "
            f"{shutdown_failure.cause}"
            if shutdown_failure is not None
            else "",
            f"Error: {error}\nCause: {cause}",
            _restored_lines(record),
            f"Still not as before:\n{missing}" if missing else "",
            "A restore only adds what is missing, so it is safe to run again once the cause is "
            f"fixed: sunset restore {run.run_id}",
            _footer(run),
        ],
        contacts=run.request.contacts,
        facts={
            "restore_id": record.restore_id,
            "mode": record.mode,
            "failed_step": failed_step,
            "error": error,
            "cause": cause,
            "service_back": verified,
            "restored": list(record.restored),
            "still_missing": [check.describe() for check in failed],
            "shutdown_failure": None
            if shutdown_failure is None
            else {
                "failed_step": shutdown_failure.failed_step,
                "error": shutdown_failure.error,
                "cause": shutdown_failure.cause,
            },
            "restore_command": f"sunset restore {run.run_id}",
        },
    )
