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

On AWS, stopping an execution does not stop a Lambda invocation already running: a step that
was mid-way may still finish its work after this ran. Its changes are in the audit trail.

A FAILED execution normally went through our own paths, which released the lock first; it is
handled here only when its lock is still held by it (a failure no Catch could take).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from sunset.context import (
    FailureEvent,
    RestoreContext,
    RestoreFailureEvent,
    RunContext,
)
from sunset.errors import ManifestError
from sunset.journal import Toolkit
from sunset.manifest import Manifest, PhaseRecord, RestoreRecord
from sunset.phases.finish import report_incident
from sunset.phases.restore import restore_lock_holder
from sunset.phases.restore_report import report_restore_failure

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


def close_abandoned(
    event: ExecutionStatusChange, kit: Toolkit, machines: dict[str, Machine]
) -> AbandonedRun:
    """`machines`: which of ours each state machine ARN is (others are not ours to close)."""
    detail = event.detail

    def result(closed: bool, why: str) -> AbandonedRun:
        return AbandonedRun(execution=detail.name, status=detail.status, closed=closed, why=why)

    machine = machines.get(detail.state_machine_arn)
    if machine is None:
        return result(False, f"{detail.state_machine_arn} is not a Sunset state machine")
    if detail.status not in ENDED_OUTSIDE:
        return result(False, f"the execution is {detail.status}: its own path closed it")
    if machine == "recommission":
        return _close_recommission(detail, kit, result)
    return _close_decommission(detail, kit, result)


def _error(detail: ExecutionDetail, step: str) -> dict[str, str]:
    words = {"ABORTED": "was stopped", "TIMED_OUT": "timed out", "FAILED": "failed"}
    name = "".join(part.title() for part in detail.status.split("_"))
    cause = f"the execution {words[detail.status]} in state {step!r}"
    if detail.error or detail.cause:
        cause += f": {detail.error or ''} {detail.cause or ''}".rstrip()
    return {"Error": f"Execution{name}", "Cause": cause}


def _running_step(kit: Toolkit, detail: ExecutionDetail, manifest: Manifest) -> str:
    """The state the execution was in when it ended, as its history tells (a Wait, a Choice
    or a Task: the same names the incident path uses); else the phase the manifest has last."""
    try:
        events = kit.aws.stepfunctions.get_execution_history(
            executionArn=detail.execution_arn, reverseOrder=True, maxResults=100
        )["events"]
    except (ClientError, BotoCoreError):
        events = []
    # The newest entry by id: moto (5.2) ignores reverseOrder and answers oldest first.
    entered = [e for e in events if "stateEnteredEventDetails" in e]
    if entered:
        return str(max(entered, key=lambda e: e["id"])["stateEnteredEventDetails"]["name"])
    phase: PhaseRecord | None = manifest.phases[-1] if manifest.phases else None
    return phase.name if phase is not None else "Prepare"


def _open_restore(manifest: Manifest, restore_id: str) -> RestoreRecord | None:
    return next(
        (r for r in manifest.restores if r.restore_id == restore_id and r.outcome == "running"),
        None,
    )


def _run_of(manifest: Manifest) -> RunContext:
    return RunContext(
        run_id=manifest.run_id,
        service=manifest.service,
        started_at=manifest.started_at,
        request=manifest.request,
    )


def _restore_failed(
    kit: Toolkit,
    manifest: Manifest,
    detail: ExecutionDetail,
    record: RestoreRecord,
    holder: str,
) -> None:
    restore = RestoreContext(
        restore_id=record.restore_id,
        mode=record.mode,
        lock_holder=holder,
        started_at=record.started_at,
        poll_seconds=1,
        deadline_seconds=1,
    )
    step = _running_step(kit, detail, manifest)
    report_restore_failure(
        RestoreFailureEvent(
            run=_run_of(manifest), restore=restore, failed_step=step, error=_error(detail, step)
        ),
        kit,
    )


def _load(kit: Toolkit, run_id: str) -> Manifest | None:
    try:
        return kit.store.load_manifest(run_id)
    except ManifestError:
        return None


def _close_decommission(detail: ExecutionDetail, kit: Toolkit, result: Any) -> AbandonedRun:
    run_id = detail.name
    manifest = _load(kit, run_id)
    if manifest is None:
        # Stopped before Prepare wrote the manifest: at most a lock to give back.
        execution_input = _json(detail.input)
        service = execution_input.get("service") if isinstance(execution_input, dict) else None
        released = isinstance(service, str) and kit.runs.release_lock(service, run_id)
        return result(released, "no manifest: " + ("lock released" if released else "no lock"))
    if kit.runs.lock_holder(manifest.service) != run_id:
        return result(False, "the run holds no lock: its own path closed it")
    rollback = _open_restore(manifest, run_id)
    if rollback is not None:
        _restore_failed(kit, manifest, detail, rollback, holder=run_id)
        return result(True, "the rollback was running: restore failure reported")
    step = _running_step(kit, detail, manifest)
    report_incident(
        FailureEvent(run=_run_of(manifest), failed_step=step, error=_error(detail, step)), kit
    )
    return result(True, f"incident reported at {step}")


def _close_recommission(detail: ExecutionDetail, kit: Toolkit, result: Any) -> AbandonedRun:
    execution_input = _json(detail.input)
    run_id = execution_input.get("run_id") if isinstance(execution_input, dict) else None
    manifest = _load(kit, run_id) if isinstance(run_id, str) else None
    if manifest is None:
        return result(False, "no manifest for the restore's run_id: nothing was locked")
    holder = restore_lock_holder(detail.name)
    if kit.runs.lock_holder(manifest.service) != holder:
        return result(False, "the restore holds no lock: its own path closed it")
    record = _open_restore(manifest, detail.name)
    if record is None:
        released = kit.runs.release_lock(manifest.service, holder)
        return result(released, "no open restore record: lock released")
    _restore_failed(kit, manifest, detail, record, holder=holder)
    return result(True, "restore failure reported")


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
