"""Close a run whose execution was stopped or timed out: INCIDENT, lock released, artifacts."""

import os

from sunset.handler import handler_for
from sunset.journal import Toolkit
from sunset.phases.abandoned import AbandonedRun, ExecutionStatusChange, Machine, close_abandoned


def _close(event: ExecutionStatusChange, kit: Toolkit) -> AbandonedRun:
    machines: dict[str, Machine] = {
        os.environ["DECOMMISSION_STATE_MACHINE_ARN"]: "decommission",
        os.environ["RECOMMISSION_STATE_MACHINE_ARN"]: "recommission",
    }
    step_timeout = int(os.environ.get("STEP_TIMEOUT_SECONDS", "300"))
    return close_abandoned(event, kit, machines, step_timeout=step_timeout)


lambda_handler = handler_for(ExecutionStatusChange, _close)
