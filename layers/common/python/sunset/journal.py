"""Every change is evidence: the Journal makes a change and records it in the same motion.

An entry goes to the runs table as soon as the call returns (so it survives a crash later in
the phase) and into the manifest's `actions` (saved when the phase ends, failed or not).

In a dry run (`dry_run: true` in the request) the Journal is where nothing happens: `change`
records the call as `planned` and does not make it, so every phase runs its real code, reads
and decisions included, down to the call it would make. That is also why the plan and a real
run's actions can be compared entry for entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from sunset.artifacts import ArtifactStore
from sunset.aws.clients import AwsClients
from sunset.aws.errors import NO_ANSWER, error_code, error_message, request_id, retry_as
from sunset.context import RunContext
from sunset.errors import AwsCallFailed, AwsThrottled, AwsTransient
from sunset.manifest import Action, ActionResult, Manifest, PhaseRecord, succeeded
from sunset.notices import Notice, Notifier
from sunset.request import Target
from sunset.runs import RunsTable

# How a change that got no answer is on record (result "failed"): it may have happened.
NO_ANSWER_DETAIL = "no answer"

# A step that resumes (Back up, Remove API routes, Stop endpoints) starts no more work once its
# invocation has less than this left: room for the unit of work under way and the manifest's
# save. The ASL runs the step again, and it picks up where it stopped (docs/PERFORMANCE.md,
# "Steps that resume").
RESUME_MARGIN_SECONDS = 60.0


class OutOfTime(Exception):  # noqa: N818 - not an error: the step resumes in a new invocation
    """Raised between units of work when the invocation's time is nearly spent."""

    def __init__(self, next_work: str) -> None:
        super().__init__(f"paused before {next_work}: the step's invocation was nearly out of time")
        self.next_work = next_work


class TimeBudget:
    """The time one invocation has for units of work (`left`: the Lambda context's seconds).

    The first unit always starts, so every invocation makes progress however slow its
    start-up reads were; before each later one, OutOfTime if under RESUME_MARGIN_SECONDS are
    left. Check right before a unit's first change, after whatever may skip the unit: a unit
    skipped every time must not spend the check of one that is done.
    """

    def __init__(self, left: Callable[[], float] = lambda: float("inf")) -> None:
        self._left = left
        self._started = 0

    def next_unit(self, what: str, seconds: float = 0.0) -> None:
        """`seconds`: what the unit is known to take beyond the margin's allowance, such as
        the waits API Gateway's quotas impose on it (sunset.aws.pacing)."""
        if self._started and self._left() < RESUME_MARGIN_SECONDS + seconds:
            raise OutOfTime(what)
        self._started += 1


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Toolkit:
    """The clients and stores a phase works with; built once per invocation by the handler.

    `aws` calls the service's resources: Sunset's own account and Region, or the run's target
    (`in_target`). The stores, the notifier and `home` stay in Sunset's own account."""

    aws: AwsClients
    store: ArtifactStore
    runs: RunsTable
    notifier: Notifier
    lock_ttl_seconds: int = 172_800
    execute_api_endpoint: str | None = None
    now: Callable[[], datetime] = field(default=utcnow)
    # This invocation's time, for the steps that pause and resume; unbounded outside Lambda.
    budget: TimeBudget = field(default_factory=TimeBudget)
    # Sunset's own account, when `aws` is a target's; None when they are the same.
    home_aws: AwsClients | None = None

    @property
    def home(self) -> AwsClients:
        """The clients of Sunset's own account and Region (its state machines, say)."""
        return self.home_aws or self.aws

    def in_target(self, target: Target, run_id: str) -> Toolkit:
        """This toolkit, with `aws` calling the target's account and Region as its role.
        `run_id` (a restore's id for a restore) names the role's session: the target's
        CloudTrail shows it as who made each call."""
        home = self.home
        assumed = home.assume(target.role_arn, target.region, role_session_name(run_id))
        return replace(self, aws=assumed, home_aws=home)


def role_session_name(run_id: str) -> str:
    """`sunset-<run id>` as AssumeRole takes it: at most 64 of [A-Za-z0-9+=,.@_-]. An execution
    named by hand may hold other characters (Step Functions allows most of Unicode)."""
    return re.sub(r"[^A-Za-z0-9+=,.@_-]", "-", f"sunset-{run_id}")[:64]


class Journal:
    def __init__(
        self,
        manifest: Manifest,
        runs: RunsTable,
        phase: str,
        now: Callable[[], datetime],
        since: datetime | None = None,
    ):
        self._manifest = manifest
        self._runs = runs
        self._phase = phase
        self._now = now
        # When this phase's first attempt started, if this is a later attempt: what was done
        # since is this phase's own work. None for a first attempt.
        self._since = since
        self.dry_run = manifest.request.dry_run
        # (action, resource) pairs on record in the manifest, by result; built at first use.
        self._index: dict[str, set[tuple[str, str]]] | None = None
        self._audit: list[Action] | None = None

    def now(self) -> datetime:
        return self._now()

    def record(
        self,
        action: str,
        resource: str,
        result: ActionResult,
        request: str | None = None,
        detail: str | None = None,
    ) -> Action:
        entry = Action(
            at=self._now(),
            phase=self._phase,
            action=action,
            resource=resource,
            result=result,
            request_id=request,
            detail=detail,
        )
        # Manifest first: it is saved however the phase ends, so a failing audit write cannot
        # make a change that already happened disappear from both records.
        self._manifest.actions.append(entry)
        if self._index is not None:
            self._index.setdefault(result, set()).add((action, resource))
        self._runs.append_audit(self._manifest.run_id, entry)
        return entry

    def done(self, action: str, resource: str) -> bool:
        """Whether `action` on `resource` is on record as done in the manifest: by this attempt,
        or by an earlier attempt or paused invocation of the step that saved it."""
        return (action, resource) in self._recorded("ok")

    def planned(self, action: str, resource: str) -> bool:
        """Whether this dry run has planned `action` on `resource`, in any phase: a resumed or
        retried dry run goes on from its plan as a real run goes on from what it did. Never
        true in a real run, which plans nothing."""
        return (action, resource) in self._recorded("planned")

    def done_under(self, prefix: str, actions: Collection[str]) -> list[str]:
        """The resources under `prefix` on which one of `actions` is on record as done."""
        return sorted(r for a, r in self._recorded("ok") if a in actions and r.startswith(prefix))

    def settled(self, action: str, resource: str) -> bool:
        """Done by this run, or, in a dry run, planned: the work of an earlier attempt or
        paused invocation, which a step goes on from rather than does again."""
        return self.done(action, resource) or self.planned(action, resource)

    def tried(self, action: str, resource: str) -> bool:
        """Whether `action` on `resource` is on record in the manifest at all, whatever came of
        it (done, failed, skipped, planned)."""
        return any((action, resource) in pairs for pairs in self._by_result().values())

    def _recorded(self, result: ActionResult) -> set[tuple[str, str]]:
        """The (action, resource) pairs on record in the manifest with `result`."""
        return self._by_result().setdefault(result, set())

    def _by_result(self) -> dict[str, set[tuple[str, str]]]:
        """The (action, resource) pairs on record in the manifest, by result. One pass over the
        actions indexes them all, and `record` keeps the index up to date: a step that asks
        once per resource stays linear in the size of the run."""
        if self._index is None:
            self._index = {}
            for a in self._manifest.actions:
                self._index.setdefault(a.result, set()).add((a.action, a.resource))
        return self._index

    def change(
        self, action: str, resource: str, call: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Make one change to AWS and record it, ok or failed, with its request id.

        In a dry run, record it as planned and return None instead: callers that read the
        response must say what they do without one."""
        if self.dry_run:
            # A retried phase plans again what its first attempt planned: on record once, as a
            # real run's retry finds its change already made.
            if not self.planned(action, resource):
                self.record(action, resource, "planned", detail="dry run: not done")
            return None
        try:
            response = call(*args, **kwargs)
        except ClientError as exc:
            self.record(action, resource, "failed", request_id(exc), error_message(exc))
            retryable = retry_as(exc)
            if retryable is AwsThrottled:
                raise AwsThrottled(f"{action} on {resource} was throttled") from exc
            if retryable is AwsTransient:
                raise AwsTransient(
                    f"{action} on {resource} failed on AWS's side ({error_code(exc)}); "
                    "the step is retried"
                ) from exc
            raise AwsCallFailed(action, resource, error_code(exc), error_message(exc)) from exc
        except NO_ANSWER as exc:
            # The change may or may not have happened: the retried step reads the state again
            # (a route already gone is not deleted twice, a snapshot already started is adopted).
            self.record(
                action,
                resource,
                "failed",
                detail=f"{NO_ANSWER_DETAIL} ({type(exc).__name__}): may have happened",
            )
            raise AwsTransient(
                f"{action} on {resource} got no answer; the step is retried"
            ) from exc
        self.record(action, resource, "ok", request_id(response))
        return response

    def adopt(self, action: str, resource: str, seen: str) -> bool:
        """Put on record as done a change that an earlier attempt made without an answer.

        A timeout after AWS took the call leaves `action` on record as failed ("no answer"),
        and the retried step finds the change made (`seen`: what it found, "already stopped").
        Unrecorded, the change would be nobody's: no restore would undo it, no report list it.
        Returns False, recording nothing, when this run never tried `action` on `resource`:
        then someone else made the change, and it is not ours to undo."""
        if self.done(action, resource):
            return True  # made, or adopted, by an earlier attempt or invocation: on record once
        # A resumed step finds most of what it adopts in the manifest its paused invocation
        # saved (above); the audit trail is for what an attempt that died never saved.
        earlier = [*self._manifest.actions, *self._audit_trail()]
        if succeeded(earlier, action, resource):
            return True  # adopted by an attempt that died before saving the manifest
        unanswered = any(
            a.action == action
            and a.resource == resource
            and a.result == "failed"
            and (a.detail or "").startswith(NO_ANSWER_DETAIL)
            for a in earlier
        )
        if unanswered:
            self.record(action, resource, "ok", detail=f"made by an unanswered attempt: {seen}")
        return unanswered

    def notify(self, notifier: Notifier, notice: Notice) -> str:
        """Send a notice and record that people were told; once per phase, however often the
        state machine retries the step. APPROVAL is sent again: each attempt of the approval
        step waits on a new task token, which only its own notice carries."""
        action = f"notify {notice.phase}"
        if notice.phase != "APPROVAL" and self._sent_already(action, notifier.topic_arn):
            self.record(action, notifier.topic_arn, "skipped", detail="sent by an earlier attempt")
            return ""
        response = self.change(action, notifier.topic_arn, notifier.send, notice)
        return "" if response is None else str(response.get("MessageId", ""))

    def _sent_already(self, action: str, topic_arn: str) -> bool:
        """Whether an earlier attempt of this phase sent it. Read from the audit trail, which
        is written the moment a notice goes out, not from the manifest, which an attempt that
        died never saved. A step that dies between SNS taking the notice and this record sends
        it again: notices are at least once."""
        since = self._since
        if since is None:
            return False

        def sent(actions: list[Action]) -> bool:
            return any(
                a.action == action
                and a.resource == topic_arn
                and a.phase == self._phase
                and a.result == "ok"
                and a.at >= since
                for a in actions
            )

        # A paused invocation saved its manifest: a resumed step finds the notice there, and
        # reads the audit trail only when the manifest has no record of it.
        return sent(self._manifest.actions) or sent(self._audit_trail())

    def _audit_trail(self) -> list[Action]:
        """The run's audit trail, read once per attempt; what this attempt records after the
        read is in the manifest's actions, which callers read too."""
        if self._audit is None:
            self._audit = self._runs.audit_entries(self._manifest.run_id)
        return self._audit


@contextmanager
def running_phase(kit: Toolkit, run: RunContext, name: str) -> Iterator[tuple[Manifest, Journal]]:
    """Load the run's manifest, mark the phase, and save the manifest however the phase ends."""
    manifest = kit.store.load_manifest(run.run_id)
    last = manifest.phases[-1] if manifest.phases else None
    again = last is not None and last.name == name
    if last is not None and again:
        # A phase polled in a loop (or retried) shows once, spanning all its attempts.
        record = last
        record.status = "running"
    else:
        record = PhaseRecord(name=name, started_at=kit.now(), status="running")
        manifest.phases.append(record)
    try:
        # Only a later attempt can meet what an earlier one did: a first attempt reads no
        # audit trail before each notice.
        since = record.started_at if again else None
        yield manifest, Journal(manifest, kit.runs, name, kit.now, since=since)
    except OutOfTime:
        # Paused, not ended: the phase stays running, and what it did so far is kept.
        kit.store.save_manifest(manifest)
        raise
    except BaseException:
        record.status, record.ended_at = "failed", kit.now()
        kit.store.save_manifest(manifest)
        raise
    record.status, record.ended_at = "succeeded", kit.now()
    kit.store.save_manifest(manifest)
