"""What travels between the states of a run: small on purpose, the manifest holds the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from sunset.manifest import Manifest, RestoreMode
from sunset.request import DecommissionRequest


class RunContext(BaseModel):
    """Who is being shut down, by which run, since when, and what was asked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    service: str
    started_at: datetime
    request: DecommissionRequest
    # When the shutdown itself starts: the end of the notice period (the ASL waits for it).
    cutoff: datetime | None = None
    # The runs table lock the run holds (request.lock_name). The ASL's last-resort release
    # reads it. A context from before targets had none: its lock was the service's name. A run
    # with a targets list holds none (each target's run holds its own): "".
    lock: str = ""

    @model_validator(mode="after")
    def _lock_of_old_runs(self) -> RunContext:
        if not self.lock and self.request.targets is None:
            object.__setattr__(self, "lock", self.service)
        return self

    @classmethod
    def of(cls, manifest: Manifest) -> RunContext:
        """The context of the run a manifest records, for the steps that start from it."""
        return cls(
            run_id=manifest.run_id,
            service=manifest.service,
            started_at=manifest.started_at,
            request=manifest.request,
            cutoff=manifest.cutoff,
            lock=manifest.lock_name,
        )


class PrepareEvent(BaseModel):
    """What Prepare receives: the raw execution input, unvalidated, and the execution's identity."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    started_at: datetime
    # The execution's ARN: Sunset's own account and Region, which a target may name too.
    execution_arn: str
    input: Any = None


class StepEvent(BaseModel):
    """The event every phase function after Prepare receives."""

    model_config = ConfigDict(extra="ignore")

    run: RunContext


class FailureEvent(BaseModel):
    """What the incident path receives: the run, the state that failed and the Catch's error."""

    model_config = ConfigDict(extra="ignore")

    run: RunContext | None = None
    input: Any = None
    # Only when Prepare failed, so that there is no run context: the execution's name.
    run_id: str | None = None
    failed_step: str
    error: dict[str, str]

    @field_validator("error", mode="before")
    @classmethod
    def _no_missing_parts(cls, error: Any) -> Any:
        # A task failed with SendTaskFailure may carry no cause (moto drops it): read as "".
        if isinstance(error, dict):
            return {key: "" if value is None else value for key, value in error.items()}
        return error


class RestoreContext(BaseModel):
    """Which restore is running: travels as $.restore through the restore states."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    restore_id: str
    mode: RestoreMode
    lock_holder: str
    started_at: datetime
    poll_seconds: int
    deadline_seconds: int


class RestoreStart(BaseModel):
    run: RunContext
    restore: RestoreContext


class BeginRestoreEvent(BaseModel):
    """What Begin restore receives: the raw recommission input and the execution's identity."""

    model_config = ConfigDict(extra="ignore")

    restore_id: str
    started_at: datetime
    input: Any = None


class RestoreStepEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run: RunContext
    restore: RestoreContext


class RestoreFailureEvent(RestoreStepEvent):
    """What Report restore failure receives: the restore step's event, plus what failed."""

    failed_step: str
    error: dict[str, str]
