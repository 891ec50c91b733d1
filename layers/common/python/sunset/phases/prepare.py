"""Prepare: validate the request, lock the service, open the run's manifest."""

from __future__ import annotations

from datetime import datetime

from sunset.context import RunContext
from sunset.journal import Journal, Toolkit
from sunset.manifest import Manifest, PhaseRecord
from sunset.request import parse_request


def prepare(raw_input: object, run_id: str, started_at: datetime, kit: Toolkit) -> RunContext:
    """Validate the execution input, then take the service's lock and record the run.

    Validation comes first and makes no AWS call, so bad input changes nothing. Re-running
    Prepare for the same run id finds its own lock and manifest and carries on. If anything
    fails once the lock is taken, the lock is released again: the ASL ends a failed Prepare
    without the incident path, so nothing else would.
    """
    request = parse_request(raw_input)
    kit.runs.acquire_lock(request.service, run_id, kit.now(), kit.lock_ttl_seconds)
    try:
        run = RunContext(
            run_id=run_id, service=request.service, started_at=started_at, request=request
        )
        if kit.store.manifest_exists(run_id):
            manifest = kit.store.load_manifest(run_id)
        else:
            manifest = Manifest(
                run_id=run_id, service=request.service, request=request, started_at=started_at
            )
        kit.runs.put_run(run_id, request.service, "RUNNING", started_at)
        now = kit.now()
        manifest.phases.append(
            PhaseRecord(name="Prepare", started_at=now, ended_at=now, status="succeeded")
        )
        Journal(manifest, kit.runs, "Prepare", kit.now).record(
            "lock service", f"service/{request.service}", "ok", detail=f"lock held by run {run_id}"
        )
        kit.store.save_manifest(manifest)
    except BaseException:
        kit.runs.release_lock(request.service, run_id)
        raise
    return run
