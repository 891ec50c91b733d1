"""What the post-mortem says, built from the manifest and the audit trail.

Every section is decided here once; report/markdown.py and report/html.py only draw it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sunset.aws import rds
from sunset.manifest import Action, Inventory, Manifest, PhaseRecord, RestoreRecord, removals
from sunset.plan import build_plan, planned
from sunset.report.document import (
    Bar,
    Block,
    Bullets,
    Callout,
    FillIn,
    Paragraph,
    Report,
    Section,
    Subheading,
    Table,
    Timeline,
    Tone,
    duration,
)

TONES: dict[str, Tone] = {
    "succeeded": "good",
    "failed": "bad",
    "rolled_back": "warn",
    "cancelled": "neutral",
    "running": "warn",
}


def _at(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def _local(manifest: Manifest, moment: datetime | None) -> str:
    """A moment in UTC and, when the service lives elsewhere, in its own time zone."""
    zone = manifest.request.timezone
    if moment is None or zone == "UTC":
        return _at(moment)
    return f"{_at(moment)} ({moment.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M:%S %Z}, {zone})"


def _first(audit: list[Action], *actions: str) -> Action | None:
    return next((a for a in audit if a.action in actions), None)


def _verdict_of_dry_run(manifest: Manifest) -> str:
    service = f"**{manifest.service}**"
    match manifest.outcome:
        case "succeeded":
            return (
                f"Dry run of {service}: **nothing was changed**. The plan below is what a real "
                "run would do now, resource by resource."
            )
        case "failed":
            step = manifest.incident.failed_step if manifest.incident else "a step"
            return (
                f"Dry run of {service}: a real run would **FAIL** in **{step}** (see Incident). "
                "Nothing was changed."
            )
    return f"The dry run of {service} has not ended yet."


def _verdict_of_run(manifest: Manifest, audit: list[Action]) -> str:
    if manifest.request.dry_run:
        return _verdict_of_dry_run(manifest)
    service = f"**{manifest.service}**"
    validation = manifest.validation
    match manifest.outcome:
        case "succeeded":
            if validation is not None and validation.proven:
                return f"{service} is shut down and **proven down**."
            return f"{service} is shut down, but it is **not proven down**: see Validation."
        case "cancelled":
            cancel = _first(audit, "cancel run")
            why = cancel.detail if cancel and cancel.detail else "no reason on record"
            return f"The shutdown of {service} was **cancelled** before anything changed: {why}."
        case "rolled_back":
            step = manifest.incident.failed_step if manifest.incident else "a step"
            return (
                f"The shutdown of {service} failed in **{step}** and was **rolled back**: the "
                "service runs as before."
            )
        case "failed":
            step = manifest.incident.failed_step if manifest.incident else "a step"
            return f"The shutdown of {service} **FAILED** in **{step}**: see Incident."
    return f"The run for {service} has not ended yet."


def _summary(manifest: Manifest, audit: list[Action]) -> Section:
    request = manifest.request
    end = manifest.ended_at
    took = duration((end - manifest.started_at).total_seconds()) if end else "still running"
    inventory = manifest.inventory
    found = sum(inventory.counts().values()) if inventory else 0
    verified = sum(1 for v in manifest.backups.verifications.values() if v.verified)
    removed = len(removals(audit))
    numbers = (
        f"{found} resource(s) found, {len(manifest.backups.snapshots)} snapshot(s), "
        f"{verified} backup(s) verified, {removed} removed or stopped"
    )
    if request.dry_run:
        numbers += f"; dry run: {len(planned(audit))} change(s) planned, none made"
    rows: list[list[object]] = [
        ["Run", f"`{manifest.run_id}`" + (" (dry run)" if request.dry_run else "")],
        ["Outcome", manifest.outcome.upper()],
        ["Started", _local(manifest, manifest.started_at)],
    ]
    if request.target is not None:
        where = request.target
        rows.insert(
            1,
            ["Where", f"account {where.account}, Region {where.region}, as `{where.role_arn}`"],
        )
    if request.notice_seconds or request.cutoff:
        rows.append(["Shutdown from (cutoff)", _local(manifest, manifest.cutoff)])
    rows += [
        ["Ended", _local(manifest, end)],
        ["Took", took],
        ["Reason", request.reason],
        [
            "Expected downtime",
            f"{request.expected_downtime} ({duration(request.downtime.total_seconds())})"
            if request.downtime
            else "permanent",
        ],
        ["Resumption plan", request.resumption_plan],
        ["Contacts", ", ".join(request.contacts) or "—"],
        ["On failure", request.on_failure],
        ["In numbers", numbers],
    ]
    return Section(
        "summary",
        "Summary",
        [Callout(_verdict_of_run(manifest, audit), TONES[manifest.outcome]), Table(["", ""], rows)],
    )


def _plan(manifest: Manifest) -> Section | None:
    """A dry run's plan: per resource, the backup that comes first and the changes after it."""
    if not manifest.request.dry_run or manifest.inventory is None:
        return None
    plan = build_plan(manifest)
    rows: list[list[object]] = []
    for row in plan.resources:
        rows.append([f"`{row.label}`", row.backup, "; ".join(row.then())])
    blocks: list[Block] = [
        Paragraph(
            "Every step ran its real code, reads and checks included; each call that would "
            "change AWS was recorded as planned instead (result `planned` in the audit trail)."
        ),
    ]
    if plan.failed_step:
        blocks.append(
            Callout(
                f"The dry run failed in **{plan.failed_step}**: a real run would fail there "
                "too, and the plan stops where it did (see Incident).",
                "bad",
            )
        )
    blocks.append(Table(["Resource", "Backup first", "Then"], rows))
    if plan.other_changes:
        blocks += [
            Subheading("Other planned changes"),
            Bullets([f"{c.action} `{c.resource}`" for c in plan.other_changes]),
        ]
    if plan.waits:
        blocks += [Subheading("Before anything changes"), Bullets(plan.waits)]
    blocks += [
        Subheading("Notices a real run sends"),
        Paragraph(", ".join(plan.notices) or "none"),
    ]
    if plan.untouched:
        blocks += [Subheading("Not touched by any run"), Bullets(plan.untouched)]
    return Section("plan", "Plan", blocks)


def _bars(manifest: Manifest, audit: list[Action]) -> list[Bar]:
    """The phases as they ran, and the waits between them: the notice period, and the time a
    person took to answer the approval request."""
    last = manifest.ended_at or max(
        [p.ended_at or p.started_at for p in manifest.phases] + [manifest.started_at]
    )
    bars = [
        Bar(
            p.name,
            p.started_at,
            p.ended_at or last,
            "running" if p.status == "running" else p.status,
        )
        for p in manifest.phases
    ]
    # Each wait ended when the next phase began. For the notice period that is the cutoff on
    # AWS (moto's Wait may wake up to a second early: the drawing shows what happened).
    announced = manifest.phase_ended("Announce")
    if announced and manifest.cutoff and manifest.cutoff > announced:
        resumed = _next_phase(manifest, announced)
        end = min(manifest.cutoff, resumed.started_at if resumed else last)
        bars.append(Bar("Notice period", announced, end, "waiting"))
    asked = manifest.phase_ended("Approval")
    if asked:
        answer = _first(audit, "approve", "reject")
        resumed = _next_phase(manifest, asked)
        until = answer.at if answer else (resumed.started_at if resumed else last)
        bars.append(Bar("Waiting for approval", asked, until, "waiting"))
    return sorted(bars, key=lambda bar: (bar.start, bar.end))


def _next_phase(manifest: Manifest, moment: datetime) -> PhaseRecord | None:
    """The first phase that began at or after `moment`: what a wait gave way to."""
    return min(
        (p for p in manifest.phases if p.started_at >= moment),
        key=lambda p: p.started_at,
        default=None,
    )


def _timeline(manifest: Manifest, audit: list[Action]) -> Section:
    return Section("timeline", "Timeline", [Timeline(_bars(manifest, audit))])


def _approval(manifest: Manifest, audit: list[Action]) -> Section | None:
    approval = manifest.request.approval
    if not approval.required:
        return None
    asked = _first(audit, "request approval")
    answer = _first(audit, "approve", "reject")
    cancel = _first(audit, "cancel run")
    if answer is not None:
        approved = answer.action == "approve"
        waited = duration((answer.at - asked.at).total_seconds()) if asked else "—"
        # approvals.decide writes "by NAME" or "by NAME: REASON"
        who, _, reason = (answer.detail or "").partition(": ")
        verdict = Callout(
            f"**{'Approved' if approved else 'Rejected'}** {who} at {_at(answer.at)}, "
            f"{waited} after it was asked." + (f" Reason: {reason}" if reason else ""),
            "good" if approved else "neutral",
        )
    elif cancel is not None:
        verdict = Callout(f"Not approved: {cancel.detail}.", "neutral")
    elif asked is not None and (resumed := _next_phase(manifest, asked.at)) is not None:
        # Answered with the task token directly (aws stepfunctions send-task-success), which
        # leaves no name in the audit trail; the run went on, so it was approved.
        verdict = Callout(
            f"**Approved** outside `sunset approve` (with the task token; no name on record): "
            f"the run went on with {resumed.name} at {_at(resumed.started_at)}, "
            f"{duration((resumed.started_at - asked.at).total_seconds())} after it was asked.",
            "good",
        )
    elif asked is not None:
        verdict = Callout("Asked, and no answer is on record yet.", "warn")
    else:
        verdict = Callout("The run ended before it asked for approval.", "neutral")
    entries = [a for a in audit if a.phase in {"Approval", "Cancel"}]
    return Section(
        "approval",
        "Approval",
        [
            Paragraph(
                "A person had to approve before anything was changed; without an answer within "
                f"{duration(approval.timeout_seconds)} the run would be cancelled."
            ),
            verdict,
            Table(
                ["Time", "Action", "Result", "Detail"],
                [[_at(a.at), a.action, a.result, a.detail or ""] for a in entries],
            ),
        ],
    )


def _incident(manifest: Manifest) -> Section | None:
    incident = manifest.incident
    if incident is None:
        return None
    return Section(
        "incident",
        "Incident",
        [
            Callout(f"The run failed in **{incident.failed_step}** at {_at(incident.at)}.", "bad"),
            Bullets([f"Error: `{incident.error}`", f"Cause: {incident.cause}"]),
        ],
    )


def _inventory_rows(inventory: Inventory) -> list[list[object]]:
    rows: list[list[object]] = []
    rows += [
        ["SageMaker endpoint", e.name, f"{e.status}; config {e.endpoint_config_name}"]
        for e in inventory.endpoints
    ]
    rows += [
        ["HTTP API", f"{a.name} ({a.api_id})", ", ".join(a.route_keys) or "no routes"]
        for a in inventory.http_apis
    ]
    rows += [
        ["REST API", f"{a.name} ({a.api_id})", ", ".join(a.methods) or "no methods"]
        for a in inventory.rest_apis
    ]
    rows += [
        ["EBS volume", v.volume_id, f"{v.size_gib} GiB {v.volume_type}, encrypted={v.encrypted}"]
        for v in inventory.volumes
    ]
    rows += [
        ["RDS instance", d.identifier, f"{d.engine}, {d.status}"] for d in inventory.db_instances
    ]
    rows += [
        [
            "Aurora cluster",
            c.identifier,
            f"{c.engine}, {c.status}, members {', '.join(c.members) or '—'}",
        ]
        for c in inventory.db_clusters
    ]
    rows += [["Log group", g.name, ""] for g in inventory.log_groups]
    rows += [[p.kind, p.resource_id, "PROTECTED: left untouched"] for p in inventory.protected]
    rows += [[n.kind, n.resource_id, f"NOT HANDLED: {n.reason}"] for n in inventory.not_handled]
    return rows


def _inventory(manifest: Manifest) -> Section | None:
    inventory = manifest.inventory
    if inventory is None:
        return None
    blocks: list[Block] = [Table(["Kind", "Resource", "Details"], _inventory_rows(inventory))]
    if inventory.impact:
        impact = inventory.impact
        blocks.append(
            Paragraph(
                f"Traffic over the {impact.window_days} days before the run: "
                f"{impact.total_invocations:,.0f} model invocations, "
                f"{impact.total_api_requests:,.0f} API requests."
            )
        )
    return Section("inventory", "Inventory", blocks)


def _backups(manifest: Manifest) -> Section:
    backups = manifest.backups
    captured = (
        [f"endpoint {name}" for name in backups.endpoints]
        + [f"HTTP API {api}" for api in backups.http_apis]
        + [f"REST API {api}" for api in backups.rest_apis]
    )
    blocks: list[Block] = [
        Table(
            ["Kind", "Source", "Snapshot", "Status (last read)"],
            [[s.kind, s.source_id, s.snapshot_id, s.status] for s in backups.snapshots],
        )
        if backups.snapshots
        else Paragraph("No snapshots were needed."),
        Paragraph("Configuration captured in the manifest: " + (", ".join(captured) or "none")),
    ]
    if backups.verifications:
        blocks += [
            Subheading("Verification"),
            Table(
                ["Resource", "Backup", "Verdict", "Comparisons"],
                [
                    [
                        f"{v.kind} {v.resource_id}",
                        v.backup,
                        "verified" if v.verified else "FAILED",
                        "; ".join(check.describe() for check in v.checks),
                    ]
                    for v in backups.verifications.values()
                ],
            ),
        ]
    if backups.restore_tests:
        blocks += [
            Subheading("Restore tests"),
            Table(
                ["Snapshot", "Source", "Restored as", "Result", "Deleted"],
                [
                    [
                        t.snapshot_id,
                        t.source_id,
                        t.restored_id,
                        t.result,
                        "yes" if t.cleaned_up else "NO",
                    ]
                    for t in backups.restore_tests
                ],
            ),
        ]
    return Section("backups", "Backups", blocks)


_DATABASE_STOPS = ("rds:StopDBInstance", "rds:StopDBCluster")


def _restarted_by_aws(manifest: Manifest, audit: list[Action]) -> list[Block]:
    """A warning for each database AWS will start again before the downtime is over."""
    if not rds.restarts_before_return(manifest.request.downtime):
        return []
    stops = [a for a in audit if a.action in _DATABASE_STOPS and a.result == "ok"]
    if not stops:
        return []
    return [
        Callout(
            "AWS starts a database that has been stopped for 7 days again by itself, and this "
            "downtime is longer: stop it again before then, or delete it (its snapshot is kept).",
            "warn",
        ),
        Table(
            ["Database", "Stopped", "Running again by"],
            [[f"`{a.resource}`", _at(a.at), _at(a.at + rds.MAX_STOPPED)] for a in stops],
        ),
    ]


def _removed(manifest: Manifest, audit: list[Action]) -> Section:
    # Done or tried; a dry run's planned removals are in its Plan, not here.
    changes = [a for a in audit if a.is_removal and a.result != "planned"]
    return Section(
        "removed",
        "What was removed and stopped",
        [
            *_restarted_by_aws(manifest, audit),
            Table(
                ["Time", "Action", "Resource", "Result", "Request id", "Detail"],
                [
                    [_at(a.at), a.action, a.resource, a.result, a.request_id or "—", a.detail or ""]
                    for a in changes
                ],
            )
            if changes
            else Paragraph("Nothing was removed or stopped."),
        ],
    )


def _validation(manifest: Manifest) -> Section | None:
    """The proof that the service is down: every question asked, every answer, and the lines
    that count against the shutdown."""
    validation = manifest.validation
    if validation is None:
        return None
    failures = validation.failures()
    tone: Tone = "bad"
    if validation.settled_at is None:
        verdict = "The checks did not run to the end: the shutdown is **not proven**."
    elif not validation.evidence:
        verdict = "No check could give an answer: the shutdown is **NOT proven**."
    elif failures:
        verdict = f"**NOT proven down**: {len(failures)} answer(s) show the service still alive."
    else:
        tone = "good"
        verdict = "**Proven down**: no answer shows the service alive."
        unchecked = [name for name, v in validation.verdicts().items() if v != "passed"]
        if unchecked:
            verdict += f" Not (fully) checked: {', '.join(unchecked)}; see below."
    blocks: list[Block] = [
        Callout(verdict, tone),
        Paragraph(
            f"Checks: {', '.join(validation.checks)}. Access cut at "
            f"{_at(validation.access_cut_at)}, compute stopped at "
            f"{_at(validation.compute_stopped_at)}, quiet period until "
            f"{_at(validation.quiet_until)}; {validation.polls} poll(s), answered at "
            f"{_at(validation.settled_at)}."
        ),
        Table(
            ["Check", "Verdict", "Answers", "Not checked"],
            [
                [
                    name,
                    verdict,
                    sum(1 for e in validation.evidence if e.check == name),
                    validation.skipped.get(name, ""),
                ]
                for name, verdict in validation.verdicts().items()
            ],
        ),
    ]
    if failures:
        blocks += [
            Paragraph("Still alive:"),
            Bullets([f"**{e.check}** {e.subject}: {e.answer}" for e in failures]),
        ]
    if validation.evidence:
        blocks += [
            Subheading("Evidence"),
            Table(
                ["Check", "Subject", "Asked", "Answer", "When", "Verdict"],
                [
                    [e.check, e.subject, e.asked, e.answer, _at(e.at), _alive(e.passed)]
                    for e in validation.evidence
                ],
            ),
        ]
    check = manifest.log_check
    if check:
        blocks += [
            Subheading("Log lines"),
            Paragraph(
                f"{check.events_scanned} event(s) read from {len(check.log_groups)} log group(s) "
                f"between {_at(check.window_start)} and {_at(check.window_end)}, "
                f"error patterns: {', '.join(f'`{p}`' for p in check.patterns)}."
                + (" Not everything was read or shown (bounds reached)." if check.truncated else "")
                + "".join(f" Unreadable: {item}." for item in check.unreadable)
            ),
            Table(
                ["Time", "Log group", "Why", "Line"],
                [[_at(f.timestamp), f.log_group, f.pattern, f.message] for f in check.findings],
            )
            if check.findings
            else Paragraph("No error line during the run, no request after the cut-off."),
        ]
    return Section("validation", "Validation", blocks)


def _alive(passed: bool) -> str:
    return "ok" if passed else "ALIVE"


def _restore_blocks(record: RestoreRecord) -> list[Block]:
    how = "automatic rollback" if record.mode == "rollback" else "recommission"
    blocks: list[Block] = [
        Subheading(f"{how} `{record.restore_id}`: {record.outcome.upper()}"),
        Paragraph(f"From {_at(record.started_at)} to {_at(record.ended_at)}."),
    ]
    if record.failure:
        blocks.append(Callout(f"Failure: {record.failure}", "bad"))
    if record.restored:
        blocks += [Paragraph("Brought back:"), Bullets(record.restored)]
    else:
        blocks.append(Paragraph("Nothing needed bringing back."))
    if record.checks:
        blocks.append(
            Table(
                ["Check", "Verdict", "Expected", "Found"],
                [
                    [c.name, "ok" if c.ok else "MISMATCH", repr(c.expected), repr(c.actual)]
                    for c in record.checks
                ],
            )
        )
    return blocks


def _restores(manifest: Manifest) -> Section | None:
    if not manifest.restores:
        return None
    return Section(
        "restores", "Restores", [block for r in manifest.restores for block in _restore_blocks(r)]
    )


def _audit(audit: list[Action]) -> Section:
    return Section(
        "audit",
        "Audit trail",
        [
            Table(
                ["Time", "Phase", "Action", "Resource", "Result", "Request id", "Detail"],
                [
                    [
                        _at(a.at),
                        a.phase,
                        a.action,
                        a.resource,
                        a.result,
                        a.request_id or "—",
                        a.detail or "",
                    ]
                    for a in audit
                ],
            )
        ],
    )


def _how_to_restore(manifest: Manifest, audit: list[Action]) -> Section:
    run_id = manifest.run_id
    if not removals(audit):
        return Section(
            "restore",
            "How to restore",
            [Paragraph("Nothing was removed or stopped, so there is nothing to bring back.")],
        )
    back = next((r for r in reversed(manifest.restores) if r.outcome == "restored"), None)
    already: list[Block] = []
    if back is not None:
        how = "the automatic rollback" if back.mode == "rollback" else "recommission"
        already = [
            Callout(
                f"Already brought back by {how} `{back.restore_id}` at {_at(back.ended_at)} "
                "(see Restores). Run it again only if the service was taken down since.",
                "good",
            )
        ]
    arn = (
        '"$(aws cloudformation describe-stacks --stack-name STACK --query '
        "\"Stacks[0].Outputs[?OutputKey=='RecommissionStateMachineArn'].OutputValue\" "
        '--output text)"'
    )
    return Section(
        "restore",
        "How to restore",
        [
            *already,
            Paragraph(
                "Everything removed or stopped is recorded with its backup in "
                f"`runs/{run_id}/manifest.json`. A restore only adds what is missing, so it is "
                "safe to run again. With the stack deployed as STACK (default `sunset`):"
            ),
            Bullets(
                [
                    f"`sunset restore {run_id} --stack STACK`",
                    "or, with the AWS CLI: `aws stepfunctions start-execution "
                    f'--state-machine-arn {arn} --input \'{{"run_id": "{run_id}"}}\'`',
                ]
            ),
            Paragraph(
                "The restore re-creates the endpoints from their kept configuration, starts the "
                "databases this run stopped, then puts the routes back, and compares the "
                "service with its capture (docs/recommission.md). The snapshots this run took "
                "are kept."
            ),
        ],
    )


def _lessons() -> Section:
    blocks: list[Block] = []
    for heading in ("What went well", "What went wrong", "Follow-up actions"):
        blocks += [Subheading(heading), FillIn("To be filled in by the team.")]
    return Section("lessons", "Lessons learned", blocks)


def build_report(manifest: Manifest, audit: list[Action], now: datetime) -> Report:
    """The post-mortem of a run: what was asked, found, kept, changed and seen, and how to undo
    it, in the order people read it in."""
    sections = [
        _summary(manifest, audit),
        _plan(manifest),
        _timeline(manifest, audit),
        _approval(manifest, audit),
        _incident(manifest),
        _inventory(manifest),
        _backups(manifest),
        _removed(manifest, audit),
        _validation(manifest),
        _restores(manifest),
        _audit(audit),
        _how_to_restore(manifest, audit),
        _lessons(),
    ]
    return Report(
        title=f"Sunset report: {manifest.service}",
        subtitle=f"Run `{manifest.run_id}`, started {_at(manifest.started_at)}",
        outcome=("DRY RUN " if manifest.request.dry_run else "")
        + manifest.outcome.upper().replace("_", " "),
        tone=TONES[manifest.outcome],
        sections=[section for section in sections if section is not None],
        generated_at=now,
    )
