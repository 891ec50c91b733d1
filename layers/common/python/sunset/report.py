"""The post-mortem report (report.md), built from the manifest and the audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sunset.manifest import Action, Manifest, RestoreRecord


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in row)
            + " |"
        )
    return "\n".join(lines)


def _at(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def _restore_section(record: RestoreRecord) -> str:
    how = "automatic rollback" if record.mode == "rollback" else "recommission"
    lines = [
        f"### {how} `{record.restore_id}`: {record.outcome.upper()}",
        f"From {_at(record.started_at)} to {_at(record.ended_at)}.",
    ]
    if record.failure:
        lines.append(f"Failure: {record.failure}")
    lines.append(
        "Brought back:\n\n" + "\n".join(f"- {item}" for item in record.restored)
        if record.restored
        else "Nothing needed bringing back."
    )
    if record.checks:
        lines.append(
            _table(
                ["Check", "Verdict", "Expected", "Found"],
                [
                    [c.name, "ok" if c.ok else "MISMATCH", repr(c.expected), repr(c.actual)]
                    for c in record.checks
                ],
            )
        )
    return "\n\n".join(lines)


def _verdict(passed: bool) -> str:
    return "ok" if passed else "ALIVE"


def _validation_sections(manifest: Manifest) -> list[str]:
    """The proof that the service is down: every question asked, every answer, and the lines
    that count against the shutdown."""
    validation = manifest.validation
    if validation is None:
        return []
    failures = validation.failures()
    if validation.settled_at is None:
        verdict = "The checks did not run to the end: the shutdown is **not proven**."
    elif not validation.evidence:
        verdict = "No check could give an answer: the shutdown is **NOT proven**."
    elif failures:
        verdict = f"**NOT proven down**: {len(failures)} answer(s) show the service still alive."
    else:
        verdict = "**Proven down**: no answer shows the service alive."
        unchecked = [name for name, v in validation.verdicts().items() if v != "passed"]
        if unchecked:
            verdict += f" Not (fully) checked: {', '.join(unchecked)}; see below."
    cut = validation.access_cut_at
    sections = [
        "## Validation",
        f"{verdict}\n\nChecks: {', '.join(validation.checks)}. Access cut at {_at(cut)}, "
        f"compute stopped at {_at(validation.compute_stopped_at)}, quiet period until "
        f"{_at(validation.quiet_until)}; {validation.polls} poll(s), answered at "
        f"{_at(validation.settled_at)}.",
    ]
    sections.append(
        _table(
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
        )
    )
    if failures:
        sections.append(
            "Still alive:\n\n"
            + "\n".join(f"- **{e.check}** {e.subject}: {e.answer}" for e in failures)
        )
    if validation.evidence:
        sections.append(
            _table(
                ["Check", "Subject", "Asked", "Answer", "When", "Verdict"],
                [
                    [e.check, e.subject, e.asked, e.answer, _at(e.at), _verdict(e.passed)]
                    for e in validation.evidence
                ],
            )
        )
    check = manifest.log_check
    if check:
        sections += [
            "### Log lines",
            f"{check.events_scanned} event(s) read from {len(check.log_groups)} log group(s) "
            f"between {_at(check.window_start)} and {_at(check.window_end)}, "
            f"error patterns: {', '.join(f'`{p}`' for p in check.patterns)}."
            + (" Not everything was read or shown (bounds reached)." if check.truncated else "")
            + "".join(f" Unreadable: {item}." for item in check.unreadable),
            _table(
                ["Time", "Log group", "Why", "Line"],
                [[_at(f.timestamp), f.log_group, f.pattern, f.message] for f in check.findings],
            )
            if check.findings
            else "No error line during the run, no request after the cut-off.",
        ]
    return sections


def render_markdown(manifest: Manifest, audit: list[Action]) -> str:
    """A post-mortem a person can read: what was asked, found, kept, changed, and seen."""
    request = manifest.request
    inventory = manifest.inventory
    sections = [
        f"# Sunset report: {manifest.service}",
        _table(
            ["", ""],
            [
                ["Run", f"`{manifest.run_id}`"],
                ["Outcome", manifest.outcome.upper()],
                ["Started", _at(manifest.started_at)],
                ["Ended", _at(manifest.ended_at)],
                ["Reason", request.reason],
                ["Expected downtime", request.expected_downtime or "permanent"],
                ["Resumption plan", request.resumption_plan],
                ["Contacts", ", ".join(request.contacts) or "—"],
            ],
        ),
        "## Timeline",
        _table(
            ["Phase", "Started", "Ended", "Status"],
            [[p.name, _at(p.started_at), _at(p.ended_at), p.status] for p in manifest.phases],
        ),
    ]
    if manifest.incident:
        incident = manifest.incident
        sections += [
            "## Incident",
            f"The run failed in **{incident.failed_step}** at {_at(incident.at)}.\n\n"
            f"- Error: `{incident.error}`\n- Cause: {incident.cause}",
        ]
    if inventory:
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
            [
                "EBS volume",
                v.volume_id,
                f"{v.size_gib} GiB {v.volume_type}, encrypted={v.encrypted}",
            ]
            for v in inventory.volumes
        ]
        rows += [
            ["RDS instance", d.identifier, f"{d.engine}, {d.status}"]
            for d in inventory.db_instances
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
        sections += ["## Inventory", _table(["Kind", "Resource", "Details"], rows)]
        if inventory.impact:
            impact = inventory.impact
            sections.append(
                f"Traffic over the {impact.window_days} days before the run: "
                f"{impact.total_invocations:,.0f} model invocations, "
                f"{impact.total_api_requests:,.0f} API requests."
            )
    backups = manifest.backups
    sections += [
        "## Backups",
        _table(
            ["Kind", "Source", "Snapshot", "Status (last read)"],
            [[s.kind, s.source_id, s.snapshot_id, s.status] for s in backups.snapshots],
        )
        if backups.snapshots
        else "No snapshots were needed.",
        "Configuration captured in the manifest: "
        + (
            ", ".join(
                [f"endpoint {name}" for name in backups.endpoints]
                + [f"HTTP API {api}" for api in backups.http_apis]
                + [f"REST API {api}" for api in backups.rest_apis]
            )
            or "none"
        ),
    ]
    if backups.verifications:
        sections += [
            "### Verification",
            _table(
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
        sections += [
            "### Restore tests",
            _table(
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
    changes = [a for a in audit if a.is_removal]
    sections += [
        "## What was removed and stopped",
        _table(
            ["Time", "Action", "Resource", "Result", "Request id", "Detail"],
            [
                [_at(a.at), a.action, a.resource, a.result, a.request_id or "—", a.detail or ""]
                for a in changes
            ],
        )
        if changes
        else "Nothing was removed or stopped.",
    ]
    sections += _validation_sections(manifest)
    if manifest.restores:
        sections += ["## Restores", *(_restore_section(r) for r in manifest.restores)]
    sections += [
        "## Audit trail",
        _table(
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
        ),
        "## How to restore",
        "Everything removed or stopped is recorded with its backup in "
        f"`runs/{manifest.run_id}/manifest.json`. To bring the service back, start the "
        f'recommission state machine with `{{"run_id": "{manifest.run_id}"}}` '
        f"(or `sunset restore {manifest.run_id}`). A restore only adds what is missing.",
        "## Lessons learned",
        "### What went well\n\n_To be filled in by the team._",
        "### What went wrong\n\n_To be filled in by the team._",
        "### Follow-up actions\n\n_To be filled in by the team._",
    ]
    return "\n\n".join(sections) + "\n"
