"""The fault matrix: every AWS call a decommission makes, failed in each of the ways AWS fails.

A call site is one (function, service, operation) of the handlers, as a full decommission of
the sample service with its databases makes them. call_sites.txt lists them all;
test_call_sites.py (in the main suite) fails when the handlers make a call that is not there.

Each cell of the matrix is one call site with one fault, on a fresh sample service:

- throttling, once: the service's own throttling error code (RequestLimitExceeded, SlowDown...);
- an internal error, once: a 5xx with the service's own error code;
- a timeout, once, after the call went through: the change is made, the answer lost;
- access denied, on every call of that site: a missing permission does not go away.

and the cell passes when the run ended in a defined state and nothing was lost:

- the run ended (SUCCEEDED or FAILED, never still running, aborted or timed out);
- a fault the state machine retries (the first three) ended in SUCCEEDED;
- a run that FAILED sent a notice of the incident naming a step of the function that failed:
  INCIDENT, or ROLLED_BACK when the rollback worked (it says "shutdown failed at <step>");
- the service's lock is released;
- every endpoint that is gone, every API that lost a route and every database that is stopped
  has a verified backup or captured configuration in the manifest;
- and a recommission from that manifest gives the service back exactly as it was (a run that
  rolled back must already have).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls, handler_calls
from sunset.local.sample import SampleService, seed_sample_service
from tests.conftest import FAST, Inbox, lock_holder, manifest_of
from tests.integration.servicestate import service_state
from tests.integration.test_recommission import sample_shape

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CALL_SITES = HERE / "call_sites.txt"


@dataclass(frozen=True, order=True)
class CallSite:
    function: str  # the function's logical id in template.yaml
    service: str  # botocore's service name
    operation: str

    def __str__(self) -> str:
        return f"{self.function} {self.service}:{self.operation}"


def read_call_sites(path: Path = CALL_SITES) -> list[CallSite]:
    sites = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            function, service, operation = line.split()
            sites.append(CallSite(function, service, operation))
    return sites


def request(service: SampleService) -> dict[str, Any]:
    """The decommission every cell runs: everything the sample has, databases stopped too."""
    return service.request(backup=FAST, stop_databases=True)


# ---------------------------------------------------------------------------- faults


def _error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "injected by the fault matrix"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": f"injected-{status}"},
        },
        operation,
    )


# Each service's own error codes, as its API documents them.
_THROTTLING = {
    "ec2": ("RequestLimitExceeded", 503),
    "rds": ("Throttling", 400),
    "s3": ("SlowDown", 503),
    "sns": ("Throttling", 400),
    "cloudwatch": ("Throttling", 400),
    "apigateway": ("TooManyRequestsException", 429),
    "apigatewayv2": ("TooManyRequestsException", 429),
    "dynamodb": ("ThrottlingException", 400),
    "resourcegroupstaggingapi": ("ThrottledException", 400),
}
_INTERNAL = {
    "ec2": ("InternalError", 500),
    "s3": ("InternalError", 500),
    "sns": ("InternalError", 500),
    "dynamodb": ("InternalServerError", 500),
    "apigateway": ("ServiceUnavailableException", 503),
    "apigatewayv2": ("ServiceUnavailableException", 503),
    "logs": ("ServiceUnavailableException", 503),
    "resourcegroupstaggingapi": ("InternalServiceException", 500),
}
_DENIED = {
    "ec2": "UnauthorizedOperation",
    "s3": "AccessDenied",
    "rds": "AccessDenied",
    "sns": "AuthorizationError",
    "cloudwatch": "AccessDenied",
}


@dataclass(frozen=True)
class Fault:
    name: str
    retried: bool  # the state machine's retriers should see it through
    every_call: bool  # False: only the site's first call fails
    after_call: bool  # the call goes through; only its answer is lost
    error: Callable[[CallSite], BaseException]


FAULTS = (
    Fault(
        "throttling",
        retried=True,
        every_call=False,
        after_call=False,
        error=lambda s: _error(
            *_THROTTLING.get(s.service, ("ThrottlingException", 400)), s.operation
        ),
    ),
    Fault(
        "internal error",
        retried=True,
        every_call=False,
        after_call=False,
        error=lambda s: _error(*_INTERNAL.get(s.service, ("InternalFailure", 500)), s.operation),
    ),
    Fault(
        "timeout",
        retried=True,
        every_call=False,
        after_call=True,
        error=lambda s: ReadTimeoutError(endpoint_url=f"https://{s.service}.injected"),
    ),
    Fault(
        "access denied",
        retried=False,
        every_call=True,
        after_call=False,
        error=lambda s: _error(_DENIED.get(s.service, "AccessDeniedException"), 403, s.operation),
    ),
)


@contextmanager
def injected(sandbox: Sandbox, site: CallSite, fault: Fault) -> Iterator[list[str]]:
    """`fault` at `site` while the run goes on; yields the list of calls it failed."""
    lambdas = sandbox.lambdas
    assert lambdas is not None
    failed: list[str] = []

    def intercept(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if (
            operation != site.operation
            or lambdas.current != site.function
            or client.meta.service_model.service_name != site.service
            or (failed and not fault.every_call)
        ):
            return call(client, operation, params)
        failed.append(operation)
        if fault.after_call:
            call(client, operation, params)
        raise fault.error(site)

    with api_calls(intercept):
        yield failed


@contextmanager
def recorded_call_sites(sandbox: Sandbox) -> Iterator[set[CallSite]]:
    """Every call site the handlers use meanwhile."""
    sites: set[CallSite] = set()

    def record(function: str, service: Any, operation: str) -> None:
        sites.add(CallSite(function, service.service_name, operation))

    with handler_calls(sandbox, record):
        yield sites


# ---------------------------------------------------------------------------- the steps


def steps_by_function(machine: str = "decommission") -> dict[str, set[str]]:
    """The states of the state machine that invoke each function, by logical id."""
    definition = json.loads((ROOT / "statemachine" / f"{machine}.asl.json").read_text())
    steps: dict[str, set[str]] = {}
    for name, state in definition["States"].items():
        function = state.get("Parameters", {}).get("FunctionName", "")
        if function.startswith("${") and function.endswith("Arn}"):
            steps.setdefault(function[2:-4], set()).add(name)
    return steps


# ---------------------------------------------------------------------------- one cell


@dataclass
class Cell:
    site: str
    fault: str
    outcome: str = ""  # what happened, in a few words
    problems: list[str] = field(default_factory=list)  # each way the cell failed; empty: passed

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _inventory(sandbox: Sandbox, service: SampleService) -> dict[tuple[str, str], Any]:
    """What is up, per (resource kind, id), read straight from the sandbox: the endpoints that
    exist, each API's routes or methods, each database's status."""
    sagemaker, rds, rest = (sandbox.client(s) for s in ("sagemaker", "rds", "apigateway"))
    live = {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
    found: dict[tuple[str, str], Any] = {
        ("sagemaker-endpoint", name): name in live for name in service.endpoints
    }
    routes = sandbox.client("apigatewayv2").get_routes(ApiId=service.http_api_id)["Items"]
    found[("http-api", service.http_api_id)] = sorted(r["RouteKey"] for r in routes)
    found[("rest-api", service.rest_api_id)] = sorted(
        (r["path"], method)
        for r in rest.get_resources(restApiId=service.rest_api_id)["items"]
        for method in r.get("resourceMethods", {})
    )
    db = rds.describe_db_instances(DBInstanceIdentifier=service.db_instance)["DBInstances"][0]
    found[("rds-instance", service.db_instance)] = db["DBInstanceStatus"]
    cluster = rds.describe_db_clusters(DBClusterIdentifier=service.db_cluster)["DBClusters"][0]
    found[("rds-cluster", service.db_cluster)] = cluster["Status"]
    return found


def _changed(before: dict[tuple[str, str], Any], after: dict[tuple[str, str], Any]) -> list[str]:
    return [
        f"{kind}:{resource_id}"
        for (kind, resource_id), up in before.items()
        if after[(kind, resource_id)] != up
    ]


def run_cell(
    sandbox: Sandbox, inbox: Inbox, site: CallSite, fault: Fault, name: str, steps: set[str]
) -> Cell:
    cell = Cell(str(site), fault.name)
    service = seed_sample_service(sandbox.session, name=name)
    shape = sample_shape(service)
    before = service_state(sandbox, shape)
    up = _inventory(sandbox, service)
    delivered = len(sandbox.execution_events.failures)
    with injected(sandbox, site, fault) as failed:
        run = sandbox.run("decommission", request(service), name=name, timeout=120)
    notices = [n for n in inbox.notices() if n.attributes.get("run_id") == name]
    phases = [n.phase for n in notices]
    if not failed:
        cell.problems.append("the call site was never reached")
    if run.status not in ("SUCCEEDED", "FAILED"):
        cell.problems.append(f"the run ended {run.status}")
    if fault.retried and run.status != "SUCCEEDED":
        cell.problems.append(f"not seen through by a retry: {run.status}: {run.cause}")
    if run.status == "FAILED":
        # A rollback that worked tells it in one notice, ROLLED_BACK ("shutdown failed at
        # <step>, rolled back"); one that did not, in an INCIDENT. Either names the step.
        named = {
            n.facts.get("failed_step") for n in notices if n.phase in ("INCIDENT", "ROLLED_BACK")
        }
        if not named:
            cell.problems.append(f"FAILED without an incident notice (sent: {phases})")
        elif not named & steps:
            cell.problems.append(
                f"the INCIDENT names {sorted(map(str, named))}, not {sorted(steps)}"
            )
    if lock_holder(sandbox, name) is not None:
        cell.problems.append("the lock is still held")

    changed = _changed(up, _inventory(sandbox, service))
    if changed:
        verifications = manifest_of(sandbox, name)["backups"]["verifications"]
        for key in changed:
            verification = verifications.get(key)
            if verification is None or not all(c["ok"] for c in verification["checks"]):
                cell.problems.append(f"{key} is down with no verified backup in the manifest")
        restore = sandbox.run(
            "recommission", {"run_id": name, **FAST}, name=f"{name}-back", timeout=120
        )
        if restore.status != "SUCCEEDED":
            cell.problems.append(f"recommission {restore.status}: {restore.cause}")
    if service_state(sandbox, shape) != before:
        cell.problems.append("the service is not as it was before the run")
    for failure in sandbox.execution_events.failures[delivered:]:
        cell.problems.append(f"AbandonedRunFunction failed: {failure}")

    if run.status == "SUCCEEDED":
        cell.outcome = "succeeded after retry" if fault.retried else "succeeded"
    elif "ROLLED_BACK" in phases:
        cell.outcome = "failed, rolled back"
    elif changed:
        cell.outcome = "failed, restored by recommission"
    else:
        cell.outcome = "failed before any change"
    return cell


def write_call_sites(path: Path = CALL_SITES) -> list[CallSite]:
    """Record the call sites of a fault-free decommission into `path`."""
    with Sandbox() as sandbox:
        service = seed_sample_service(sandbox.session)
        with recorded_call_sites(sandbox) as made:
            run = sandbox.run("decommission", request(service), name="inventory")
        if run.status != "SUCCEEDED":
            raise SystemExit(f"the fault-free run failed: {run.cause}")
    sites = sorted(made)
    header = (
        "# Every AWS call site of a decommission (function, botocore service, operation): the\n"
        "# rows of the fault matrix. Regenerate with: .venv/bin/python -m tests.faults.matrix\n"
    )
    path.write_text(header + "".join(f"{' '.join(astuple(s))}\n" for s in sites), "utf-8")
    return sites


if __name__ == "__main__":
    print(f"{len(write_call_sites())} call sites written to {CALL_SITES}")
