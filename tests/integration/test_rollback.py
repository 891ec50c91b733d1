"""A run that fails after it has removed something puts it back (on_failure=rollback), or stops
and says how to restore (on_failure=halt).

Failures are injected where each phase after the first removal can fail: an AWS call refused
part-way through Remove API routes and Stop endpoints (moto made to answer an error), and a
crash of the Validate shutdown function. A failure in Report is not rolled back (the shutdown has
completed by then): it is an incident that says how to restore.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sunset.local import Sandbox
from sunset.local.sample import SampleService
from tests.conftest import FAST, Inbox, lock_holder, manifest_of
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import recommission, sample_shape

Injection = Callable[[Sandbox, pytest.MonkeyPatch], None]


def _refuse_rest_deletions(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """API Gateway refuses to delete a REST resource: after the HTTP routes are gone."""
    from moto.apigateway.exceptions import ConflictException
    from moto.apigateway.models import APIGatewayBackend

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ConflictException("Unable to complete operation due to concurrent modification")

    monkeypatch.setattr(APIGatewayBackend, "delete_resource", refuse)


def _refuse_cluster_stop(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """RDS refuses to stop the Aurora cluster: after the endpoints and the instance stopped."""
    from moto.rds.exceptions import InvalidDBClusterStateFault
    from moto.rds.models import RDSBackend

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise InvalidDBClusterStateFault("DbCluster is in backing-up state")

    monkeypatch.setattr(RDSBackend, "stop_db_cluster", refuse)


def _fail(message: str) -> None:
    raise RuntimeError(f"injected: {message}")


def _crash(function: str) -> Injection:
    def inject(sandbox: Sandbox, _monkeypatch: pytest.MonkeyPatch) -> None:
        def crash(*_args: Any) -> None:
            raise RuntimeError(f"injected: {function} crashed")

        sandbox.before(function, crash)

    return inject


PHASES = {
    "Remove API routes": (_refuse_rest_deletions, "AwsCallFailed"),
    "Stop endpoints": (_refuse_cluster_stop, "AwsCallFailed"),
    "Validate shutdown": (_crash("ValidateShutdownFunction"), "RuntimeError"),
}


@pytest.mark.parametrize("phase", list(PHASES))
def test_a_failure_after_access_was_cut_is_rolled_back(
    sandbox: Sandbox,
    service: SampleService,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
    phase: str,
) -> None:
    # Given a run that will fail in `phase`, after it has removed something
    before = service_state(sandbox, sample_shape(service))
    inject, error = PHASES[phase]
    inject(sandbox, monkeypatch)
    # When it runs with the default on_failure=rollback
    run = sandbox.run(
        "decommission", service.request(stop_databases=True, backup=FAST), name="rollback"
    )
    # Then it fails with its own error, and everything it removed or stopped is back
    assert (run.status, run.error) == ("FAILED", error)
    assert "Begin rollback" in run.states_entered and "Rolled back" in run.states_entered
    assert f"{phase} failed" in (run.cause or "") and "Rolled back" in (run.cause or "")
    monkeypatch.undo()
    assert service_state(sandbox, sample_shape(service)) == before
    # and people are told it was rolled back, not that it completed
    phases = inbox.phases()
    assert phases[-1] == "ROLLED_BACK" and "COMPLETED" not in phases
    notice = inbox.notices()[-1]
    assert notice.attributes["severity"] == "warning"
    assert f"failed at {phase}, rolled back" in notice.subject
    manifest = manifest_of(sandbox, "rollback")
    assert manifest["outcome"] == "rolled_back"
    assert manifest["incident"]["failed_step"] == phase
    assert manifest["restores"][0]["mode"] == "rollback"
    assert lock_holder(sandbox, service.name) is None


def test_with_on_failure_halt_the_run_stops_and_says_what_is_where(
    sandbox: Sandbox, service: SampleService, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run asked to halt on failure, failing part-way through Stop endpoints
    before = service_state(sandbox, sample_shape(service))
    _refuse_cluster_stop(sandbox, monkeypatch)
    run = sandbox.run(
        "decommission",
        service.request(stop_databases=True, on_failure="halt", backup=FAST),
        name="halted",
    )
    # Then nothing is rolled back: the INCIDENT lists each change and how to restore
    assert (run.status, run.error) == ("FAILED", "AwsCallFailed")
    assert "Begin rollback" not in run.states_entered
    assert sandbox.client("sagemaker").list_endpoints()["Endpoints"] == []
    incident = inbox.notices()[-1]
    assert incident.phase == "INCIDENT"
    assert "sagemaker:DeleteEndpoint sagemaker-endpoint/chat-assistant-llm: ok" in incident.body
    assert f"rds:StopDBInstance {service.db_instance}: ok" in incident.body
    assert "on_failure is halt" in incident.body and "sunset restore halted" in incident.body
    # and a later recommission brings everything back
    monkeypatch.undo()
    assert recommission(sandbox, "halted").status == "SUCCEEDED"
    assert service_state(sandbox, sample_shape(service)) == before


def test_a_rollback_that_cannot_finish_is_an_incident_naming_what_is_not_back(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a run that fails in Validate shutdown, and a REST API deleted before the rollback
    # reaches it
    sandbox.before("ValidateShutdownFunction", lambda *_: _fail("the validation crashed"))
    sandbox.before(
        "RestoreRoutesFunction",
        lambda *_: sandbox.client("apigatewayv2").delete_api(ApiId=service.http_api_id),
    )
    # When it runs
    run = sandbox.run("decommission", service.request(backup=FAST), name="stuck")
    # Then the execution keeps its own error and says the rollback failed too, and where
    assert (run.status, run.error) == ("FAILED", "RuntimeError")
    assert "The rollback failed too, at Restore API routes" in (run.cause or "")
    assert f"HTTP API {service.http_api_id} no longer exists" in (run.cause or "")
    # after it brought back all it could: the REST API's methods are there again
    resources = sandbox.client("apigateway").get_resources(restApiId=service.rest_api_id)
    paths = {r["path"] for r in resources["items"] if r.get("resourceMethods")}
    assert paths == {"/v1/predict", "/v1/embed"}
    # and the INCIDENT says what did come back
    incident = inbox.notices()[-1]
    assert incident.phase == "INCIDENT" and incident.attributes["severity"] == "critical"
    assert "rollback FAILED" in incident.subject
    assert "SageMaker endpoint chat-assistant-llm" in incident.body
    assert "sunset restore stuck" in incident.body
    assert manifest_of(sandbox, "stuck")["outcome"] == "failed"
    assert lock_holder(sandbox, service.name) is None


def test_a_failure_in_report_is_an_incident_not_a_rollback_of_a_finished_shutdown(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # Given a run whose report cannot be written, after everything else succeeded
    _crash("ReportFunction")(sandbox, pytest.MonkeyPatch())
    # When it runs with the default on_failure=rollback
    run = sandbox.run("decommission", service.request(backup=FAST), name="paperwork")
    # Then the service stays down, and the INCIDENT says so and how to bring it back
    assert (run.status, run.error) == ("FAILED", "RuntimeError")
    assert "Begin rollback" not in run.states_entered
    assert sandbox.client("sagemaker").list_endpoints()["Endpoints"] == []
    incident = inbox.notices()[-1]
    assert incident.phase == "INCIDENT" and "FAILED at Report" in incident.subject
    assert "The shutdown itself had completed" in incident.body
    assert "sunset restore paperwork" in incident.body
    assert lock_holder(sandbox, service.name) is None
