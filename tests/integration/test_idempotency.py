"""Every step can run again for the same run id without doing anything twice.

Step Functions runs a step again when it retries it, and a redriven execution runs its failed
step again. Here each phase of a decommission is called directly, in order, twice, the first
call of the destructive ones interrupted right after its first change; the run must end as one
clean run would, and a recommission must bring everything back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from sunset.artifacts import ArtifactStore
from sunset.aws.clients import AwsClients
from sunset.journal import Toolkit
from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls
from sunset.local.sample import SampleService
from sunset.notices import Notifier
from sunset.phases.announce import announce
from sunset.phases.backup import back_up
from sunset.phases.cut_access import remove_api_routes
from sunset.phases.discover import discover
from sunset.phases.finish import complete
from sunset.phases.prepare import prepare
from sunset.phases.stop import stop_compute
from sunset.phases.validate import validate_shutdown
from sunset.phases.verify import check_backups, pass_checkpoint, verify_backups
from sunset.runs import RunsTable
from tests.conftest import FAST, Inbox, execution_arn, lock_holder, manifest_of
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import sample_shape


class Interrupted(Exception):
    """The phase died here, as a Lambda that times out or crashes would."""


@contextmanager
def dies_after(operation: str) -> Iterator[None]:
    """The first `operation` call goes through, then the phase dies before it hears back."""
    done: list[str] = []

    def once(call: ApiCall, client: Any, name: str, params: Any) -> Any:
        response = call(client, name, params)
        if name == operation and not done:
            done.append(name)
            raise Interrupted(operation)
        return response

    with api_calls(once):
        yield


def test_every_phase_run_twice_even_interrupted_does_nothing_twice(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    before = service_state(sandbox, sample_shape(service))
    aws = AwsClients(sandbox.session)
    kit = Toolkit(
        aws=aws,
        store=ArtifactStore(aws.s3, sandbox.outputs["ArtifactsBucketName"]),
        runs=RunsTable(aws.dynamodb, sandbox.outputs["RunsTableName"]),
        notifier=Notifier(aws.sns, sandbox.outputs["NotificationTopicArn"]),
    )
    request = service.request(backup=FAST, stop_databases=True)
    started = datetime.now(UTC)
    run = prepare(request, "twice", started, execution_arn("twice"), kit)
    assert prepare(request, "twice", started, execution_arn("twice"), kit) == run
    # Phase, and the call after which its first attempt dies (None: it runs through twice).
    # PutItem is the audit entry of the phase's first change (a notice, or the lock released):
    # the attempt dies after recording it, before its manifest is saved.
    phases: list[tuple[Callable[..., Any], str | None]] = [
        (discover, None),
        (announce, "PutItem"),
        (back_up, "CreateSnapshot"),
        (check_backups, None),
        (verify_backups, None),
        (pass_checkpoint, "PutItem"),
        (remove_api_routes, "DeleteRoute"),
        (stop_compute, "DeleteEndpoint"),
        (validate_shutdown, None),
        (complete, "PutItem"),
    ]
    for phase, dies_at in phases:
        if dies_at is None:
            phase(run, kit)
        else:
            with dies_after(dies_at), pytest.raises(Interrupted):
                phase(run, kit)
        phase(run, kit)
    # Then the service is down as after one clean run
    assert sandbox.client("sagemaker").list_endpoints()["Endpoints"] == []
    assert sandbox.client("apigatewayv2").get_routes(ApiId=service.http_api_id)["Items"] == []
    assert lock_holder(sandbox, service.name) is None
    # with one snapshot per volume and database, and each notice sent once
    ec2 = sandbox.client("ec2")
    for volume in service.volumes:
        found = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [volume]}])
        assert len(found["Snapshots"]) == 1, volume
    rds = sandbox.client("rds")
    manual = rds.describe_db_snapshots(
        DBInstanceIdentifier=service.db_instance, SnapshotType="manual"
    )["DBSnapshots"]
    assert len(manual) == 1
    phases_told = [n.phase for n in inbox.notices()]
    assert phases_told == [
        "ANNOUNCED",
        "STARTED",
        "BACKED_UP",
        "ACCESS_REMOVED",
        "STOPPED",
        "COMPLETED",
    ]
    # and no change on record twice
    made = Counter(
        (a["action"], a["resource"])
        for a in manifest_of(sandbox, "twice")["actions"]
        if a["result"] == "ok"
        and (":" in a["action"].split(" ")[0] or a["action"].startswith("notify"))
    )
    assert [change for change, count in made.items() if count > 1] == []
    # and a recommission brings everything back, the changes whose answers were lost included
    restore = sandbox.run("recommission", {"run_id": "twice", **FAST}, name="back")
    assert restore.status == "SUCCEEDED", restore.cause
    assert service_state(sandbox, sample_shape(service)) == before
