"""Check logs: read the service's log groups for error lines during the run window."""

from __future__ import annotations

import re

from sunset.aws import logs
from sunset.context import RunContext
from sunset.journal import Toolkit, running_phase
from sunset.manifest import LogCheck, LogFinding
from sunset.phases.results import PhaseResult

MAX_FINDINGS = 100
MAX_LINE = 500


def check_logs(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Record every line matching an error pattern between the run's start and now."""
    patterns = run.request.validation.error_patterns
    compiled = [(pattern, re.compile(pattern)) for pattern in patterns]
    with running_phase(kit, run, "Check logs") as (manifest, _journal):
        groups = [group.name for group in manifest.require_inventory().log_groups]
        window_end = kit.now()
        findings: list[LogFinding] = []
        scanned = 0
        truncated = False
        for group in groups:
            for event in logs.events_between(kit.aws.logs, group, run.started_at, window_end):
                scanned += 1
                message = str(event.get("message", ""))
                pattern = next((p for p, regex in compiled if regex.search(message)), None)
                if pattern is None:
                    continue
                if len(findings) >= MAX_FINDINGS:
                    truncated = True
                    continue
                findings.append(
                    LogFinding(
                        log_group=group,
                        pattern=pattern,
                        timestamp=event["timestamp"] / 1000,
                        message=message[:MAX_LINE],
                    )
                )
        manifest.log_check = LogCheck(
            window_start=run.started_at,
            window_end=window_end,
            log_groups=groups,
            patterns=patterns,
            events_scanned=scanned,
            findings=findings,
            truncated=truncated,
        )
    return PhaseResult(
        phase="Check logs",
        summary=f"{len(findings)} error line(s) in {scanned} event(s) from {len(groups)} group(s)",
        counts={"Error lines": len(findings), "Events scanned": scanned},
    )
