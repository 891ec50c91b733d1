"""Check logs: read the service's log groups for error lines during the run window."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws import logs
from sunset.aws.errors import error_code
from sunset.context import RunContext
from sunset.journal import Toolkit, running_phase
from sunset.manifest import LogCheck, LogFinding
from sunset.phases.results import PhaseResult

MAX_FINDINGS = 100
MAX_LINE = 500
# A busy log group can hold millions of events: read a bounded number per group, say so when
# the bound is hit, and never let the check outlast the function.
MAX_EVENTS_PER_GROUP = 20_000


@dataclass
class _Scan:
    patterns: list[tuple[str, re.Pattern[str]]]
    findings: list[LogFinding] = field(default_factory=list)
    scanned: int = 0
    truncated: bool = False
    unreadable: list[str] = field(default_factory=list)

    def read(self, group: str, events: Iterable[dict[str, Any]]) -> None:
        for count, event in enumerate(events):
            if count >= MAX_EVENTS_PER_GROUP:
                self.truncated = True
                return
            self.scanned += 1
            message = str(event.get("message", ""))
            pattern = next((p for p, regex in self.patterns if regex.search(message)), None)
            if pattern is None:
                continue
            if len(self.findings) >= MAX_FINDINGS:
                self.truncated = True
                continue
            self.findings.append(
                LogFinding(
                    log_group=group,
                    pattern=pattern,
                    timestamp=event["timestamp"] / 1000,
                    message=message[:MAX_LINE],
                )
            )


def check_logs(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Record every line matching an error pattern between the run's start and now."""
    patterns = run.request.validation.error_patterns
    scan = _Scan([(pattern, re.compile(pattern)) for pattern in patterns])
    with running_phase(kit, run, "Check logs") as (manifest, _journal):
        groups = [group.name for group in manifest.require_inventory().log_groups]
        window_end = kit.now()
        for group in groups:
            try:
                scan.read(
                    group, logs.events_between(kit.aws.logs, group, run.started_at, window_end)
                )
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                scan.unreadable.append(f"{group}: no longer exists")
        manifest.log_check = LogCheck(
            window_start=run.started_at,
            window_end=window_end,
            log_groups=groups,
            patterns=patterns,
            events_scanned=scan.scanned,
            findings=scan.findings,
            truncated=scan.truncated,
            unreadable=scan.unreadable,
        )
    return PhaseResult(
        phase="Check logs",
        summary=(
            f"{len(scan.findings)} error line(s) in {scan.scanned} event(s) "
            f"from {len(groups)} group(s)"
        ),
        counts={"Error lines": len(scan.findings), "Events scanned": scan.scanned},
    )
