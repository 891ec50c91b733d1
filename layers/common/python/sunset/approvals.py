"""Answering a run's approval request: what `sunset approve` and `sunset reject` do.

The run recorded its task token in the runs table when it asked (phases/approval.py). The
decision is recorded there first, once (a second answer is refused), and in the run's audit
trail, then sent to Step Functions, which resumes the run (approved) or cancels it (rejected).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code
from sunset.errors import InvalidRequest
from sunset.manifest import Action
from sunset.phases.approval import REJECTED
from sunset.runs import RunsTable

# Step Functions caps a task failure's cause at 32,768 characters; people write less.
MAX_REASON = 2_000


def decide(
    sfn: Any,
    runs: RunsTable,
    run_id: str,
    *,
    approve: bool,
    by: str,
    reason: str | None,
    now: datetime,
) -> str:
    """Approve or reject the run's pending approval; returns what was done, in words."""
    if not by.strip():
        raise InvalidRequest("say who decides: --by NAME")
    if not approve and not (reason or "").strip():
        raise InvalidRequest("a rejection needs a reason: --reason TEXT")
    if reason and len(reason) > MAX_REASON:
        raise InvalidRequest(f"the reason is longer than {MAX_REASON} characters")
    decision = "APPROVED" if approve else "REJECTED"
    token = runs.decide_approval(run_id, decision, by, reason)
    runs.append_audit(
        run_id,
        Action(
            at=now,
            phase="Approval",
            action="approve" if approve else "reject",
            resource=f"run/{run_id}",
            result="ok",
            detail=f"by {by}" + (f": {reason}" if reason else ""),
        ),
    )
    try:
        if approve:
            output = {"approved_by": by, "at": now.isoformat(), "comment": reason or ""}
            sfn.send_task_success(taskToken=token, output=json.dumps(output))
        else:
            sfn.send_task_failure(
                taskToken=token, error=REJECTED, cause=f"{reason} (by {by})"[: MAX_REASON + 200]
            )
    except ClientError as exc:
        if error_code(exc) in {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}:
            raise InvalidRequest(
                f"run {run_id} no longer waits for this answer ({error_code(exc)}): it was "
                "cancelled when its approval timed out, or it has ended"
            ) from None
        raise
    return f"run {run_id} {decision.lower()} by {by}"
