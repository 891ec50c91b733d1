"""Close a run whose execution ended outside the state machine: stopped by hand, timed out.

Every path through our state machines ends in a state that releases the service's lock and
tells people. An execution that is stopped (StopExecution: ABORTED) or runs past a timeout
(TIMED_OUT) takes none of them: no Catch runs. Step Functions then emits an "Execution Status
Change" event, and an EventBridge rule (template.yaml, AbandonedRunRule) brings it here. This
does what the missing paths would have done, with the same code:

- a decommission: its incident path (report_incident): INCIDENT naming the step that was
  running, the lock released, the run recorded as failed, the artifacts written;
- a rollback inside a decommission, or a recommission: its restore-failure path
  (report_restore_failure): INCIDENT saying what came back and what did not, the lock released.

Nothing is rolled back: whoever stopped the execution may have stopped it on purpose. The
INCIDENT says how to bring the service back (`sunset restore <run id>`).

Whether the run still needs closing is read from its records, not from its lock (the failure
paths release the lock before they notify): a run or restore whose closing notice (COMPLETED,
INCIDENT, ROLLED_BACK, CANCELLED, RESTORED) is in the audit trail was closed by its own path.
So a FAILED execution is closed here only when its own incident path could not tell anyone.

On AWS, stopping an execution does not stop a Lambda invocation already running: it goes on
changing things and saving the manifest. When the history shows a step invoked and never
ended, this waits until that step's timeout has passed before it reads the manifest and closes
the run. (In the sandbox the step has always ended: moto finishes it before the execution.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sunset.aws.errors import error_code
from sunset.context import (
    FailureEvent,
    RestoreContext,
    RestoreFailureEvent,
    RunContext,
)
from sunset.errors import ManifestError
from sunset.journal import Toolkit
from sunset.manifest import Action, Manifest, RestoreRecord
from sunset.phases.finish import report_incident
from sunset.phases.restore import restore_lock_holder
from sunset.phases.restore_report import report_restore_failure
from sunset.request import Target, lock_name

ENDED_OUTSIDE = frozenset({"ABORTED", "TIMED_OUT", "FAILED"})


class ExecutionDetail(BaseModel):
    """The part of Step Functions' "Execution Status Change" event that matters here."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None
    # Milliseconds since the epoch, as the event carries it.
    start_date: int | None = Field(default=None, alias="startDate")

    def started(self, record: dict[str, str]) -> bool:
        """Whether a runs-table record is this execution's (its start, to the second), not an
        earlier run's that had the same name. Without a start date, it is taken to be."""
        if self.start_date is None:
            return True
        try:
            recorded = datetime.fromisoformat(record.get("started_at", ""))
        except ValueError:
            return False
        return abs(recorded.timestamp() * 1000 - self.start_date) < 1000


class ExecutionStatusChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    detail: ExecutionDetail


class AbandonedRun(BaseModel):
    """What this did: `closed` when it ran a failure path, with the reason when it did not."""

    execution: str
    status: str
    closed: bool
    why: str


Machine = Literal["decommission", "recommission"]


# The longest this function waits for a step still in flight: the longest step Timeout (600 s,
# STEP_TIMEOUT_SECONDS) and the margin, within its own Timeout of 900 s.
MAX_WAIT_SECONDS = 610


def close_abandoned(
    event: ExecutionStatusChange,
    kit: Toolkit,
    machines: dict[str, Machine],
    *,
    step_timeout: int = 300,
    sleep: Callable[[float], None] = time.sleep,
) -> AbandonedRun:
    """`machines`: which of ours each state machine ARN is (others are not ours to close);
    `step_timeout`: the longest a step's Lambda runs (the functions' Timeout)."""
    closer = _Closer(event.detail, kit, sleep, step_timeout)
    detail = event.detail
    machine = machines.get(detail.state_machine_arn)
    if machine is None:
        return closer.result(False, f"{detail.state_machine_arn} is not a Sunset state machine")
    if detail.status not in ENDED_OUTSIDE:
        return closer.result(False, f"the execution is {detail.status}: its own path closed it")
    if machine == "recommission":
        return closer.recommission()
    return closer.decommission()


# The notices that close a run or a restore: once one went out, its own path closed it.
_CLOSING_NOTICES = frozenset(
    f"notify {phase}" for phase in ("COMPLETED", "INCIDENT", "ROLLED_BACK", "CANCELLED", "RESTORED")
)
# The history events of a state the execution can be "in" (not Pass, Fail or Succeed states,
# which the failure paths themselves go through).
_STATE_TYPES = frozenset(
    {"TaskStateEntered", "WaitStateEntered", "ChoiceStateEntered", "MapStateEntered"}
)
_TASK_SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled"})
_TASK_ENDED = frozenset(
    {
        "TaskSucceeded",
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionSucceeded",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
    }
)
_WORDS = {"ABORTED": "was stopped", "TIMED_OUT": "timed out", "FAILED": "failed"}


def _history(kit: Toolkit, detail: ExecutionDetail) -> list[dict[str, Any]]:
    """The execution's newest events (empty if unreadable), oldest first."""
    try:
        events = kit.home.stepfunctions.get_execution_history(
            executionArn=detail.execution_arn, reverseOrder=True, maxResults=100
        )["events"]
    except (ClientError, BotoCoreError):
        return []
    # Sorted by id: moto (5.2) ignores reverseOrder and answers oldest first.
    return sorted(events, key=lambda e: int(e["id"]))


def state_it_was_in(events: list[dict[str, Any]]) -> str | None:
    """The state the execution was in when it ended: the newest Task, Wait or Choice entered."""
    entered = [e for e in events if e.get("type") in _STATE_TYPES]
    return str(entered[-1]["stateEnteredEventDetails"]["name"]) if entered else None


def in_flight_until(events: list[dict[str, Any]], step_timeout: int) -> datetime | None:
    """When a step's Lambda, invoked and never seen to end, has surely ended; None when none.

    Stopping an execution does not stop a Lambda invocation in flight: it goes on changing
    things and saving the manifest. Closing the run before it ended would race it."""
    scheduled = [e for e in events if e.get("type") in _TASK_SCHEDULED]
    if not scheduled:
        return None
    last = scheduled[-1]
    if any(e.get("type") in _TASK_ENDED and int(e["id"]) > int(last["id"]) for e in events):
        return None
    started: datetime = last["timestamp"]
    return started + timedelta(seconds=step_timeout + _IN_FLIGHT_MARGIN_SECONDS)


_IN_FLIGHT_MARGIN_SECONDS = 10


def _closed(audit: list[Action], since: datetime) -> bool:
    return any(a.action in _CLOSING_NOTICES and a.result == "ok" and a.at >= since for a in audit)


def _failure(
    detail: ExecutionDetail, manifest: Manifest, state: str | None
) -> tuple[str, dict[str, str]]:
    """The failed step and error to report. A run already failing (its incident on record)
    keeps its own; the end of the execution is added to the cause."""
    where = state or (manifest.phases[-1].name if manifest.phases else "Prepare")
    error = _ended(detail, where)
    ended = error["Cause"]
    if detail.error or detail.cause:
        ended += f" ({detail.error or ''} {detail.cause or ''})".replace(" )", ")")
    incident = manifest.incident
    if incident is not None:
        return incident.failed_step, {
            "Error": incident.error,
            "Cause": f"{incident.cause}; then {ended}",
        }
    return where, {**error, "Cause": ended}


def _ended(detail: ExecutionDetail, where: str) -> dict[str, str]:
    """The error an execution's end is reported with: ExecutionAborted, ExecutionTimedOut or
    ExecutionFailed (finish.ENDED_OUTSIDE_ERRORS), and where it was."""
    name = "".join(part.title() for part in detail.status.split("_"))
    cause = f"the execution {_WORDS[detail.status]} in state {where!r}"
    return {"Error": f"Execution{name}", "Cause": cause}


def lock_of_input(execution_input: object, execution_arn: str) -> str | None:
    """The lock Prepare would have taken for this input (request.lock_name), or None for an
    input with no service: Prepare refused it before taking any lock."""
    if not isinstance(execution_input, dict):
        return None
    service = execution_input.get("service")
    if not isinstance(service, str):
        return None
    try:
        target = Target.model_validate(execution_input.get("target"))
    except ValidationError:
        target = None  # none given, or one Prepare refused before the lock
    return lock_name(service, target, execution_arn)


def _load(kit: Toolkit, run_id: str) -> Manifest | None:
    try:
        return kit.store.load_manifest(run_id)
    except ManifestError:
        return None
    except ClientError as exc:
        # No bucket, no manifest (Prepare fails on that, and has reported it).
        if error_code(exc) == "NoSuchBucket":
            return None
        raise


class _Closer:
    """Closes one execution's run; `sleep` and `step_timeout` for the wait on a step in flight."""

    def __init__(
        self,
        detail: ExecutionDetail,
        kit: Toolkit,
        sleep: Callable[[float], None],
        step_timeout: int,
    ) -> None:
        self.detail, self.kit, self.sleep, self.step_timeout = detail, kit, sleep, step_timeout

    def result(self, closed: bool, why: str) -> AbandonedRun:
        d = self.detail
        return AbandonedRun(execution=d.name, status=d.status, closed=closed, why=why)

    def settled_history(self) -> list[dict[str, Any]]:
        """The history, once any step still running has had the time to end."""
        events = _history(self.kit, self.detail)
        until = in_flight_until(events, self.step_timeout)
        if until is not None:
            wait = (until - self.kit.now()).total_seconds()
            if wait > 0:
                self.sleep(min(wait, MAX_WAIT_SECONDS))
        return events

    def in_target_of(self, manifest: Manifest) -> Toolkit:
        """The toolkit for the run's service: its target's account and Region, if it has one.
        Closing a run may delete a restore test's copies, and they live with the service. The
        role's session is named after the execution being closed (a run, or a restore)."""
        target = manifest.request.target
        if target is not None:
            self.kit = self.kit.in_target(target, self.detail.name)
        return self.kit

    def restore_failed(self, manifest: Manifest, record: RestoreRecord, holder: str) -> None:
        state = state_it_was_in(self.settled_history())
        manifest = _load(self.kit, manifest.run_id) or manifest  # as the last step left it
        restore = RestoreContext(
            restore_id=record.restore_id,
            mode=record.mode,
            lock_holder=holder,
            started_at=record.started_at,
            poll_seconds=1,
            deadline_seconds=1,
        )
        where = state or "Begin restore"
        report_restore_failure(
            RestoreFailureEvent(
                run=RunContext.of(manifest),
                restore=restore,
                failed_step=where,
                error=_ended(self.detail, where),
            ),
            self.kit,
        )

    def without_manifest(self) -> AbandonedRun:
        """A run that ended before Prepare wrote its manifest, or a run with targets, which has
        none (each target's run has its own, and is closed on its own): at most a lock to give
        back and a record to close."""
        detail, kit = self.detail, self.kit
        lock = lock_of_input(_json(detail.input), detail.execution_arn)
        released = lock is not None and kit.runs.release_lock(lock, detail.name)

        def still_running(record: dict[str, str] | None) -> bool:
            # Only this execution's own record: one of an earlier run of that name, or of a
            # recommission, is another run's (Prepare refused this one for it).
            return (
                record is not None
                and detail.started(record)
                and record.get("kind", "decommission") == "decommission"
                and record.get("status") == "RUNNING"
            )

        ended = still_running(kit.runs.get_run(detail.name))
        if ended:
            # A step still in flight (Report target runs, say) may yet close it.
            self.settled_history()
            ended = still_running(kit.runs.get_run(detail.name))
        if ended:
            kit.runs.finish_run(detail.name, "FAILED", kit.now())
        why = "lock released" if released else "no lock"
        if ended:
            why += "; run closed"
        return self.result(released or ended, f"no manifest: {why}")

    def decommission(self) -> AbandonedRun:
        detail, kit = self.detail, self.kit
        run_id = detail.name
        manifest = _load(kit, run_id)
        if manifest is None:
            return self.without_manifest()
        kit = self.in_target_of(manifest)
        audit = kit.runs.audit_entries(run_id)
        rollback = next((r for r in manifest.restores if r.restore_id == run_id), None)
        if rollback is not None:
            if _closed(audit, rollback.started_at):
                return self.result(False, "the rollback's own path closed the run")
            self.restore_failed(manifest, rollback, holder=run_id)
            return self.result(True, "the rollback was running: restore failure reported")
        if _closed(audit, manifest.started_at):
            return self.result(False, "the run's own path closed it")
        state = state_it_was_in(self.settled_history())
        manifest = _load(kit, run_id) or manifest  # as the last step left it
        failed_step, error = _failure(detail, manifest, state)
        report_incident(
            FailureEvent(run=RunContext.of(manifest), failed_step=failed_step, error=error), kit
        )
        return self.result(True, f"incident reported at {failed_step}")

    def recommission(self) -> AbandonedRun:
        detail, kit = self.detail, self.kit
        execution_input = _json(detail.input)
        run_id = execution_input.get("run_id") if isinstance(execution_input, dict) else None
        manifest = _load(kit, run_id) if isinstance(run_id, str) else None
        if manifest is None:
            return self.result(False, "no manifest for the restore's run_id: nothing was locked")
        kit = self.in_target_of(manifest)
        holder = restore_lock_holder(detail.name)
        record = next((r for r in manifest.restores if r.restore_id == detail.name), None)
        if record is None:
            # Ended before Begin restore opened its record: at most a lock to give back.
            released = kit.runs.release_lock(manifest.lock_name, holder)
            return self.result(
                released, "no restore record: " + ("lock released" if released else "no lock")
            )
        if _closed(kit.runs.audit_entries(manifest.run_id), record.started_at):
            return self.result(False, "the restore's own path closed it")
        self.restore_failed(manifest, record, holder=holder)
        return self.result(True, "restore failure reported")


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
