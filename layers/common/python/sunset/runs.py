"""The runs table (DynamoDB): the per-service lock, each run's status, and the audit trail.

Keys:
  LOCK#<lock>    / LOCK          the lock: which run holds the service, until when; <lock> is
                                 the service's name, or service@account/region for a service
                                 in a target (sunset.request.lock_name)
  RUN#<run_id>   / RUN           the run: service, status, start and end
  RUN#<run_id>   / AUDIT#<time>#<n>  one audit entry per change, written as it happens
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code
from sunset.errors import InvalidRequest, ServiceLocked
from sunset.manifest import Action, ActionResult


def _strings(item: dict[str, Any]) -> dict[str, str]:
    """The string attributes of a DynamoDB item, as plain values."""
    return {key: value["S"] for key, value in item.items() if "S" in value}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class RunsTable:
    """Reads and writes the runs table; every write is a single conditional item operation."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def acquire_lock(self, service: str, run_id: str, now: datetime, ttl_seconds: int) -> None:
        """Take the service's lock for this run, or raise ServiceLocked naming the holder.

        Taking it again with the same run id succeeds (a retried Prepare must not lock itself
        out), and a lock past its expiry can be taken over by a new run.
        """
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"LOCK#{service}"},
                    "sk": {"S": "LOCK"},
                    "run_id": {"S": run_id},
                    "acquired_at": {"S": now.isoformat()},
                    "expires_at": {"N": str(_epoch(now) + ttl_seconds)},
                },
                ConditionExpression="attribute_not_exists(pk) OR run_id = :me OR expires_at < :now",
                ExpressionAttributeValues={
                    ":me": {"S": run_id},
                    ":now": {"N": str(_epoch(now))},
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            holder = self.lock_holder(service)
            raise ServiceLocked(
                f"service {service!r} is locked by run {holder or 'unknown'}: "
                "wait for it to end (or restore it) before starting another run; nothing was done"
            ) from None

    def lock_holder(self, service: str, now: datetime | None = None) -> str | None:
        """Who holds the lock; given `now`, None for a lock past its expiry, which a new run may
        take over (acquire_lock)."""
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"LOCK#{service}"}, "sk": {"S": "LOCK"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        if now is not None and int(item["expires_at"]["N"]) < _epoch(now):
            return None
        return item["run_id"]["S"]

    def require_lock(self, service: str, holder: str) -> None:
        """Refuse to go on unless `holder` still holds the service's lock.

        A lock outlives every wait its run may spend (sunset.phases.prepare.lock_lifetime), but
        a run stuck past it may find its lock taken over by a newer run. Every step that changes
        the service checks first, so two runs never act on one service: the stale one stops."""
        current = self.lock_holder(service)
        if current != holder:
            raise ServiceLocked(
                f"{holder} no longer holds the lock on service {service!r} "
                f"({'held by ' + current if current else 'released'}): it changes nothing more"
            )

    def release_lock(self, service: str, run_id: str) -> bool:
        """Release the lock if this run holds it; never release another run's lock."""
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"pk": {"S": f"LOCK#{service}"}, "sk": {"S": "LOCK"}},
                ConditionExpression="run_id = :me",
                ExpressionAttributeValues={":me": {"S": run_id}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def put_run(
        self,
        run_id: str,
        service: str,
        status: str,
        started_at: datetime,
        restores: str | None = None,
        dry_run: bool = False,
    ) -> None:
        """Record a run; `restores` names the decommission run a recommission brings back."""
        item = {
            "pk": {"S": f"RUN#{run_id}"},
            "sk": {"S": "RUN"},
            "run_id": {"S": run_id},
            "kind": {"S": "recommission" if restores else "decommission"},
            "service": {"S": service},
            "status": {"S": status},
            "started_at": {"S": started_at.isoformat()},
        }
        if restores:
            item["restores"] = {"S": restores}
        if dry_run:
            item["dry_run"] = {"S": "true"}
        try:
            # Execution names are unique per state machine only: a recommission named like a
            # decommission run (or the other way round) must not overwrite its record.
            # Records written before runs had a kind are decommission runs.
            unkinded = " OR attribute_not_exists(kind)" if not restores else ""
            self._db.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=f"attribute_not_exists(pk) OR kind = :kind{unkinded}",
                ExpressionAttributeValues={":kind": item["kind"]},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            raise InvalidRequest(
                f"{run_id!r} is already the id of a run of another kind: "
                "give this execution another name; nothing was done"
            ) from None

    def list_runs(self) -> list[dict[str, str]]:
        """Every run on record, newest first (a scan: the table holds runs, locks and audit)."""
        runs: list[dict[str, str]] = []
        for page in self._db.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="sk = :run",
            ExpressionAttributeValues={":run": {"S": "RUN"}},
        ):
            runs += [_strings(item) for item in page["Items"]]
        return sorted(runs, key=lambda run: run.get("started_at", ""), reverse=True)

    def finish_run(self, run_id: str, status: str, ended_at: datetime) -> None:
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}},
            UpdateExpression="SET #s = :s, ended_at = :e",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status}, ":e": {"S": ended_at.isoformat()}},
        )

    def await_approval(self, run_id: str, task_token: str, expires_at: datetime) -> None:
        """Record the task token the run waits on, so that `sunset approve` can answer it."""
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}},
            UpdateExpression="SET approval = :pending, approval_token = :t, approval_expires = :e",
            ExpressionAttributeValues={
                ":pending": {"S": "PENDING"},
                ":t": {"S": task_token},
                ":e": {"S": expires_at.isoformat()},
            },
        )

    def decide_approval(self, run_id: str, decision: str, by: str, reason: str | None) -> str:
        """Mark the pending approval decided (once) and return the task token to answer with."""
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}},
                UpdateExpression="SET approval = :d, approval_by = :b, approval_reason = :r",
                ConditionExpression="approval = :pending",
                ExpressionAttributeValues={
                    ":d": {"S": decision},
                    ":b": {"S": by},
                    ":r": {"S": reason or ""},
                    ":pending": {"S": "PENDING"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            run = self.get_run(run_id)
            if run is None:
                raise InvalidRequest(f"there is no run {run_id!r} on record") from None
            state = run.get("approval")
            raise InvalidRequest(
                f"run {run_id} is not waiting for an approval"
                + (f" (its approval is {state} by {run.get('approval_by')})" if state else "")
            ) from None
        return str(response["Attributes"]["approval_token"]["S"])

    def get_run(self, run_id: str) -> dict[str, str] | None:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}},
            ConsistentRead=True,
        ).get("Item")
        return _strings(item) if item else None

    def append_audit(self, run_id: str, entry: Action) -> None:
        stamp = entry.at.astimezone(UTC).isoformat()
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"RUN#{run_id}"},
                "sk": {"S": f"AUDIT#{stamp}#{uuid4().hex[:12]}"},
                "entry": {"S": entry.model_dump_json()},
            },
        )

    def audit_entries(self, run_id: str) -> list[Action]:
        """The run's audit trail, oldest first."""
        entries: list[Action] = []
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
            ExpressionAttributeValues={":pk": {"S": f"RUN#{run_id}"}, ":audit": {"S": "AUDIT#"}},
            ConsistentRead=True,
        ):
            entries.extend(
                Action.model_validate(json.loads(i["entry"]["S"])) for i in page["Items"]
            )
        return entries


class AuditOnce:
    """The audit trail of a run with no manifest (a run with targets), for a step that may be
    retried: an entry on record from an earlier attempt (the same phase, action, resource and
    detail) is not written again. `entries` is the trail as it stands, oldest first."""

    def __init__(self, runs: RunsTable, run_id: str, now: Callable[[], datetime]) -> None:
        self._runs, self._run_id, self._now = runs, run_id, now
        self.entries = runs.audit_entries(run_id)
        self._on_record = {_same(entry) for entry in self.entries}

    def record(
        self, phase: str, action: str, resource: str, result: ActionResult, detail: str
    ) -> None:
        entry = Action(
            at=self._now(),
            phase=phase,
            action=action,
            resource=resource,
            result=result,
            detail=detail,
        )
        if _same(entry) in self._on_record:
            return
        self._runs.append_audit(self._run_id, entry)
        self._on_record.add(_same(entry))
        self.entries.append(entry)


def _same(entry: Action) -> tuple[str, str, str, str | None]:
    return entry.phase, entry.action, entry.resource, entry.detail
