"""A run with several targets: one run of its own per target, started and followed from here.

Each target's run is an execution of the decommission machine itself, named after this run
(`<run id>--<account>-<region>`, request.target_run_id) with this request and its one target:
its own lock, manifest, notices, approval, report, rollback and recommission, exactly as a
one-target run. This run starts them all, polls them until each has ended, and records what
became of each (`runs/<run_id>/targets.json`, the runs table). A target whose run fails does not
stop the others.

Child executions rather than a Map around the phases: each target then keeps everything a run
has, recovery included, with no state of its own to merge; and moto's interpreter, which runs
the sandbox, cannot run `states:startExecution.sync`, so they are started by a Lambda and
polled (docs/targets.md).
"""

from __future__ import annotations

import json
from datetime import datetime

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from sunset.artifacts import run_prefix
from sunset.aws import stepfunctions
from sunset.aws.errors import error_code, error_message, retry_as
from sunset.context import RunContext
from sunset.errors import InvalidRequest, readable_cause
from sunset.journal import Toolkit
from sunset.request import Target, target_run_id
from sunset.runs import AuditOnce

# The poll waits a twentieth of the time the run has taken, from the request's
# backup.poll_seconds up to this: a run of minutes is followed within seconds, one of days
# within hours, and a year of polls (the longest an execution lives; an approval may wait that
# long) stays inside the 25,000 events of an execution's history, at 9 events a poll
# (tests/unit/test_target_runs.py does the sum).
MAX_POLL_SECONDS = 21_600
# How much of a failed target run's cause travels in the state and the record.
CAUSE_CHARS = 500
# An execution's end, or NOT_STARTED: StartExecution refused it (not a throttle, which the ASL
# retries), and the other targets' runs go on.
ENDED = stepfunctions.ENDED | {"NOT_STARTED"}


class TargetRun(BaseModel):
    """One target's run as this run follows it: the execution's status, and why it failed."""

    model_config = ConfigDict(extra="forbid")

    target: Target
    run_id: str
    execution_arn: str
    status: str = "RUNNING"
    error: str | None = None
    cause: str | None = None


class TargetRuns(BaseModel):
    """What travels as $.targets: every target's run, whether all have ended, the next wait."""

    model_config = ConfigDict(extra="ignore")

    runs: list[TargetRun]
    done: bool = False
    wait_seconds: int = 1
    summary: str = ""
    # Check target runs failed past its retries (the Catch's Error and Cause): the runs are
    # recorded as last seen, with why they could not be followed.
    check_error: dict[str, str | None] | None = None


class TargetsEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run: RunContext
    targets: TargetRuns


class StartTargetsEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run: RunContext
    # $$.StateMachine.Id: the machine this run is an execution of, which runs each target too.
    state_machine_arn: str


class TargetsOutcome(BaseModel):
    run_id: str
    service: str
    succeeded: bool
    summary: str
    record: str


def _targets_of(run: RunContext) -> list[Target]:
    targets = run.request.targets
    if not targets:
        raise InvalidRequest(f"run {run.run_id} names no targets: it has no target runs")
    return targets


def start_target_runs(event: StartTargetsEvent, kit: Toolkit) -> TargetRuns:
    """Start one run per target, with this request and that target. Starting again (a retried
    step) finds the runs already started and adopts them. A target whose run AWS will not
    start (a run of that name with another input is someone else's) is recorded NOT_STARTED,
    and the others start."""
    run, sfn = event.run, kit.home.stepfunctions
    trail = AuditOnce(kit.runs, run.run_id, kit.now)
    runs: list[TargetRun] = []
    for target in _targets_of(run):
        name = target_run_id(run.run_id, target)
        arn = stepfunctions.execution_arn(event.state_machine_arn, name)
        child_input = run.request.for_target(target).model_dump(mode="json", exclude={"targets"})
        try:
            stepfunctions.start_execution(sfn, event.state_machine_arn, name, child_input)
        except ClientError as exc:
            if retry_as(exc) is not None:
                raise
            code, message = error_code(exc), error_message(exc)
            trail.record("Targets", "states:StartExecution", arn, "failed", f"{code}: {message}")
            failed = {"status": "NOT_STARTED", "error": code, "cause": message[:CAUSE_CHARS]}
            runs.append(TargetRun(target=target, run_id=name, execution_arn=arn, **failed))
            continue
        trail.record("Targets", "states:StartExecution", arn, "ok", f"the run for {target.name}")
        runs.append(TargetRun(target=target, run_id=name, execution_arn=arn))
    return _followed(run, runs, kit.now())


def check_target_runs(event: TargetsEvent, kit: Toolkit) -> TargetRuns:
    """Ask how each target's run stands, until every one has ended."""
    sfn = kit.home.stepfunctions
    runs = []
    for target_run in event.targets.runs:
        if target_run.status not in ENDED:
            now = stepfunctions.describe_execution(sfn, target_run.execution_arn)
            cause = now.cause[:CAUSE_CHARS] if now.cause else None
            update = {"status": now.status, "error": now.error, "cause": cause}
            target_run = target_run.model_copy(update=update)
        runs.append(target_run)
    return _followed(event.run, runs, kit.now())


def _followed(run: RunContext, runs: list[TargetRun], now: datetime) -> TargetRuns:
    running = [r for r in runs if r.status not in ENDED]
    wait = poll_wait((now - run.started_at).total_seconds(), run.request.backup.poll_seconds)
    return TargetRuns(runs=runs, done=not running, wait_seconds=wait, summary=summary_of(runs))


def summary_of(runs: list[TargetRun]) -> str:
    """'2 of 3 target runs succeeded; 1 running: ...; failed: ...'."""
    succeeded = sum(r.status == "SUCCEEDED" for r in runs)
    text = f"{succeeded} of {len(runs)} target runs succeeded"
    running = [f"{r.target.name} ({r.run_id})" for r in runs if r.status not in ENDED]
    if running:
        text += f"; running: {', '.join(running)}"
    failed = [
        f"{r.target.name} ({r.run_id}: {r.status}{', ' + r.error if r.error else ''})"
        for r in runs
        if r.status in ENDED and r.status != "SUCCEEDED"
    ]
    if failed:
        text += f"; not succeeded: {', '.join(failed)}"
    return text


def report_target_runs(event: TargetsEvent, kit: Toolkit) -> TargetsOutcome:
    """Record what became of every target's run: targets.json and the audit trail in the
    artifacts bucket, and the run's status in the runs table. Each target's own report is its
    run's (runs/<target run id>/report.md)."""
    run, runs = event.run, event.targets.runs
    succeeded = all(r.status == "SUCCEEDED" for r in runs) and bool(runs)
    summary = summary_of(runs)
    failure = event.targets.check_error
    if failure is not None:
        cause = readable_cause(failure.get("Cause") or "")
        why = f"{failure.get('Error')}: {cause}"[:CAUSE_CHARS]
        summary += f"; the runs could not be followed to their end ({why})"
    trail = AuditOnce(kit.runs, run.run_id, kit.now)
    for target_run in runs:
        trail.record(
            "Targets",
            "follow target run",
            target_run.execution_arn,
            "ok" if target_run.status == "SUCCEEDED" else "failed",
            f"{target_run.target.name}: {target_run.status}"
            + (f" ({target_run.error}: {target_run.cause})" if target_run.error else ""),
        )
    record = {
        "run_id": run.run_id,
        "service": run.service,
        "started_at": run.started_at.isoformat(),
        "ended_at": kit.now().isoformat(),
        "succeeded": succeeded,
        "summary": summary,
        "targets": [{**r.model_dump(mode="json"), "report": _report_of(kit, r)} for r in runs],
    }
    key = kit.store.save_targets(run.run_id, json.dumps(record, indent=2))
    kit.store.save_audit(run.run_id, trail.entries)
    kit.runs.finish_run(run.run_id, "SUCCEEDED" if succeeded else "FAILED", kit.now())
    return TargetsOutcome(
        run_id=run.run_id,
        service=run.service,
        succeeded=succeeded,
        summary=summary,
        record=kit.store.uri(key),
    )


def _report_of(kit: Toolkit, target_run: TargetRun) -> str | None:
    """Where a target run's report is; None for a run that did not start (a report under its
    name would be another run's), or that its Prepare refused (it wrote none)."""
    if target_run.status == "NOT_STARTED":
        return None
    key = run_prefix(target_run.run_id) + "report.md"
    return kit.store.uri(key) if kit.store.exists(key) else None


def poll_wait(took_seconds: float, shortest: int) -> int:
    """How long to wait before asking again, when the run has taken `took_seconds`."""
    return int(min(MAX_POLL_SECONDS, max(shortest, took_seconds / 20)))
