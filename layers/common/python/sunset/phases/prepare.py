"""Prepare: validate the request, lock the service, open the run's manifest."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code, error_message, retry_as
from sunset.context import RunContext
from sunset.errors import InvalidRequest, ServiceLocked
from sunset.journal import Journal, Toolkit
from sunset.manifest import Manifest, PhaseRecord
from sunset.request import (
    MAX_EXECUTION_NAME,
    MAX_NOTICE_SECONDS,
    DecommissionRequest,
    Target,
    lock_name,
    parse_cutoff,
    parse_request,
    target_run_id,
)
from sunset.runs import AuditOnce


def shutdown_starts_at(request: DecommissionRequest, started_at: datetime) -> datetime:
    """The cutoff: when the notice period ends and the shutdown starts, to the whole second (the
    Wait state reads whole seconds). An explicit cutoff must be in the future, within the
    longest notice a run may give."""
    if request.cutoff is None:
        moment = started_at + timedelta(seconds=request.notice_seconds)
    else:
        moment = parse_cutoff(request.cutoff)
        if moment <= started_at:
            raise InvalidRequest(
                f"invalid request: cutoff: {request.cutoff} is not in the future (the run "
                f"started at {started_at:%Y-%m-%dT%H:%M:%SZ}); nothing was done"
            )
        if moment > started_at + timedelta(seconds=MAX_NOTICE_SECONDS):
            raise InvalidRequest(
                f"invalid request: cutoff: {request.cutoff} is more than 30 days away; "
                "start the run closer to the shutdown (a schedule can do that)"
            )
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def lock_lifetime(
    request: DecommissionRequest, started_at: datetime, cutoff: datetime, margin_seconds: int
) -> int:
    """How long a run holds its service's lock: every wait it may legitimately spend, plus the
    margin (LockTtlSeconds) for the steps themselves.

    A lock that expired while its run still waited (a notice period, an approval, an Aurora
    snapshot that takes days) could be taken over by a second run, and both would act on the
    service. A dry run waits for none of it."""
    if request.dry_run:
        return margin_seconds
    waits = (cutoff - started_at).total_seconds()
    if request.approval.required:
        waits += request.approval.timeout_seconds
    backup, validation = request.backup, request.validation
    # Restore tests get the backup deadline again; validation may wait out endpoint deletions,
    # then the grace and quiet periods.
    # Each loop may overshoot its deadline by one poll.
    loops = 2 if backup.restore_test else 1
    waits += (backup.deadline_seconds + backup.poll_seconds) * loops
    waits += validation.deadline_seconds + validation.poll_seconds + validation.grace_seconds
    waits += validation.quiet_period_seconds
    return margin_seconds + math.ceil(waits)


def reach_target(target: Target, run_id: str, kit: Toolkit, field: str = "target.role_arn") -> None:
    """Assume the target's role once before anything else, so that a role Sunset may not
    assume refuses the run (nothing touched, no notice sent) instead of failing it later.
    A throttled or passing failure is not a refusal: the state machine retries the step.
    `field` names where the role comes from, for the refusal."""
    try:
        kit.in_target(target, run_id).aws.credentials()
    except ClientError as exc:
        if retry_as(exc) is not None:
            raise
        raise InvalidRequest(
            f"invalid request: {field}: Sunset cannot assume {target.role_arn} "
            f"({error_code(exc)}: {error_message(exc)}); the role must exist, trust this "
            "stack's functions, and be named as the stack's TargetRoleName, as "
            "target-role.yaml makes it (docs/targets.md); nothing was done"
        ) from None


def held(lock: str, holder: str) -> str:
    """The audit entry's detail for a lock taken: which lock, when not just the service's."""
    where = lock.partition("@")[2]
    return f"lock held by {holder}" + (f" (the service in {where})" if where else "")


def record_target(journal: Journal, target: Target) -> None:
    """Put on record that the run reached its target, as reach_target found."""
    journal.record(
        "assume target role",
        target.role_arn,
        "ok",
        detail=f"the service's resources are called in {target.name}",
    )


def prepare_targets(
    request: DecommissionRequest,
    run_id: str,
    started_at: datetime,
    cutoff: datetime,
    execution_arn: str,
    kit: Toolkit,
) -> RunContext:
    """Prepare a run with several targets (sunset.phases.targets): check what would refuse a
    target's run before any starts, then record the run. It takes no lock and opens no
    manifest: each target's run takes its own.

    Checked for every target: its run's name fits, its role can be assumed, and no other run
    holds the service there. A target's own Prepare checks again when it starts; what changes
    in between (a lock taken since, a cutoff passed) fails that target's run only."""
    refuse_reused_name(run_id, started_at, kit)
    targets = request.targets or []
    for index, target in enumerate(targets):
        name = target_run_id(run_id, target)
        if len(name) > MAX_EXECUTION_NAME:
            raise InvalidRequest(
                f"invalid request: targets[{index}]: its run would be named {name!r}, longer "
                f"than Step Functions' {MAX_EXECUTION_NAME} characters; give this execution a "
                f"name of at most {len(run_id) - len(name) + MAX_EXECUTION_NAME} characters; "
                "nothing was done"
            )
        reach_target(target, run_id, kit, f"targets[{index}].role_arn")
        lock = lock_name(request.service, target, execution_arn)
        holder = kit.runs.lock_holder(lock, kit.now())
        if holder is not None and holder != name:
            raise ServiceLocked(
                f"targets[{index}]: service {lock!r} is locked by run {holder}: wait for it to "
                "end (or restore it) before starting a run there; nothing was done"
            )
    kit.runs.put_run(run_id, request.service, "RUNNING", started_at, dry_run=request.dry_run)
    trail = AuditOnce(kit.runs, run_id, kit.now)
    for target in targets:
        # A role serves every Region of its account: the detail says which place.
        detail = f"the run for {target.name} can act there"
        trail.record("Prepare", "assume target role", target.role_arn, "ok", detail)
    return RunContext(
        run_id=run_id,
        service=request.service,
        started_at=started_at,
        request=request,
        cutoff=cutoff,
    )


def refuse_reused_name(run_id: str, started_at: datetime, kit: Toolkit) -> None:
    """Refuse a run whose id the runs table already gives another run: Step Functions frees an
    execution's name 90 days after it ended, and two runs under one id would share a record and
    an audit trail. The same run retrying Prepare has the same start."""
    earlier = kit.runs.get_run(run_id)
    if earlier is not None and earlier.get("started_at") != started_at.isoformat():
        raise InvalidRequest(
            f"invalid request: run id {run_id} already names a run started at "
            f"{earlier.get('started_at', 'an unknown time')}; give this execution another name; "
            "nothing was done"
        )


def prepare(
    raw_input: object, run_id: str, started_at: datetime, execution_arn: str, kit: Toolkit
) -> RunContext:
    """Validate the execution input, then take the service's lock and record the run.

    The lock is the service's in its place (request.lock_name): `execution_arn` says where
    Sunset itself runs.

    Validation comes first and makes no AWS call, so bad input changes nothing. Re-running
    Prepare in the same execution finds its own lock and manifest and carries on; another run
    under the same id is refused. If anything
    fails once the lock is taken, the lock is released again: the ASL ends a failed Prepare
    without the incident path, so nothing else would.
    """
    request = parse_request(raw_input)
    cutoff = shutdown_starts_at(request, started_at)
    if request.targets is not None:
        return prepare_targets(request, run_id, started_at, cutoff, execution_arn, kit)
    if request.target is not None:
        reach_target(request.target, run_id, kit)
    refuse_reused_name(run_id, started_at, kit)
    earlier = kit.store.load_manifest(run_id) if kit.store.manifest_exists(run_id) else None
    if earlier is not None and (earlier.started_at != started_at or earlier.request != request):
        # Not this execution retrying Prepare, but another run of the same name (Step Functions
        # frees a name after 90 days). Carrying on would mix two runs in one manifest, and the
        # manifest's request, not this input, decides whether the Journal changes anything.
        raise InvalidRequest(
            f"invalid request: run id {run_id} already names a run started at "
            f"{earlier.started_at:%Y-%m-%dT%H:%M:%SZ}; give this execution another name; "
            "nothing was done"
        )
    lock = lock_name(request.service, request.target, execution_arn)
    kit.runs.acquire_lock(
        lock,
        run_id,
        kit.now(),
        lock_lifetime(request, started_at, cutoff, kit.lock_ttl_seconds),
    )
    try:
        run = RunContext(
            run_id=run_id,
            service=request.service,
            started_at=started_at,
            request=request,
            cutoff=cutoff,
            lock=lock,
        )
        if earlier is not None:
            manifest = earlier
        else:
            manifest = Manifest(
                run_id=run_id,
                service=request.service,
                request=request,
                started_at=started_at,
                cutoff=cutoff,
                lock=lock,
            )
        kit.runs.put_run(run_id, request.service, "RUNNING", started_at, dry_run=request.dry_run)
        now = kit.now()
        manifest.phases.append(
            PhaseRecord(name="Prepare", started_at=now, ended_at=now, status="succeeded")
        )
        journal = Journal(manifest, kit.runs, "Prepare", kit.now)
        journal.record(
            "lock service", f"service/{request.service}", "ok", detail=held(lock, f"run {run_id}")
        )
        if request.target is not None:
            record_target(journal, request.target)
        kit.store.save_manifest(manifest)
    except BaseException:
        kit.runs.release_lock(lock, run_id)
        raise
    return run
