"""Validate shutdown: prove the service is down, with evidence (docs/validation.md).

"The API said 200 to DeleteEndpoint" is not proof. This phase asks again, the way a client and
an operator would, and keeps every question and answer in the manifest:

- endpoints: ListEndpoints lists none of the service's endpoints, and no endpoint carrying
  the service's tags is running (one created during the run would be missed otherwise);
- routes: no route is left on the HTTP APIs, nor their captured stages and domain mappings, no
  method on the REST APIs, and every REST stage serves a deployment made after the removal;
- probes: each removed route's invoke URL answers as a missing route does (nothing, 404, or a
  REST API's missing-token 403), and InvokeEndpoint on each stopped endpoint fails with
  not-found;
- traffic: CloudWatch shows no invocation and no answered request after the cut-off, over the
  quiet period;
- logs: no request after the cut-off, and no line matching an error pattern during the run.

Endpoints take minutes to delete and a quiet period takes its time: until both are over, a poll
only records what it waits for and the state machine waits (Validate shutdown, Shutdown
settled?, Wait to validate). Then every check runs once. A failed check raises
ShutdownNotProven, which the state machine treats like any failure after the cut: rollback or
INCIDENT, as on_failure says.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from sunset.aws import cloudwatch, execute_api, http_api, logs, rest_api, sagemaker
from sunset.aws.errors import error_code
from sunset.context import RunContext
from sunset.errors import ManifestError, ShutdownNotProven
from sunset.journal import Toolkit, running_phase
from sunset.manifest import (
    Evidence,
    LogCheck,
    LogFinding,
    Manifest,
    ShutdownValidation,
)
from sunset.phases.cut_access import serves_removal
from sunset.phases.discover import SAGEMAKER_LOG_PREFIX, service_endpoints
from sunset.request import CheckName
from sunset.tags import is_protected

PHASE = "Validate shutdown"
DELETING = "Deleting"
# Probes run in parallel, each bounded in time (execute_api.PROBE_TIMEOUT_SECONDS), and their
# number is bounded, so that the phase ends inside the function's timeout (600 s) even if every
# probe had to wait for its timeout.
MAX_PROBES = 100
PROBE_WORKERS = 8
# The probes' share of the function's 600 s: one still unanswered then is recorded as such (and
# fails), so that a slow answer cannot turn the evidence into a bare Lambda timeout.
PROBE_BUDGET_SECONDS = 240
# AWS/SageMaker and AWS/ApiGateway metrics are kept per minute, and published a minute or two
# late: a window shorter than two periods proves little, and a longer one is read only once
# CloudWatch has caught up.
METRIC_PERIOD = 60
METRIC_DELAY_SECONDS = 120
MAX_FINDINGS = 100
MAX_LINE = 500
# A busy log group can hold millions of events: read a bounded number per group, and say so.
MAX_EVENTS_PER_GROUP = 20_000
# How a log line shows a request, by the kind of log group. SageMaker's serving containers log
# each inference call to /invocations (their health checks go to /ping); Lambda logs one START
# line per invocation. In any other group (API access logs, the service's own logs) a request is
# a JSON line with an HTTP status, or a line with an HTTP method and path (common log format),
# unless its status is 4xx: a refused request. Other lines (shutdown messages) are not requests.
INVOCATION_LINE = re.compile(r"/invocations\b")
LAMBDA_START_LINE = re.compile(r"^START RequestId:")
HTTP_REQUEST_LINE = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+/\S*")
CLF_REFUSED = re.compile(r"\"\s+4\d\d\b")
STATUS_KEYS = ("status", "statusCode", "httpStatus")
LAMBDA_LOG_PREFIX = "/aws/lambda/"
_LOG_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:logs:[^:]*:\d*:log-group:(?P<name>[^:]+)")


class ValidationStatus(BaseModel):
    """What one poll returns to the state machine: whether to wait, and for how long."""

    settled: bool
    wait_seconds: int = 0
    summary: str
    counts: dict[str, int] = {}


@dataclass
class _Proof:
    manifest: Manifest
    validation: ShutdownValidation
    kit: Toolkit
    run: RunContext

    def add(self, check: CheckName, subject: str, asked: str, answer: str, passed: bool) -> None:
        self.validation.evidence.append(
            Evidence(
                check=check,
                subject=subject,
                asked=asked,
                answer=answer,
                passed=passed,
                at=self.kit.now(),
            )
        )

    @property
    def access_cut_at(self) -> datetime:
        """Requests through the APIs stop when the routes are removed (Remove API routes always
        runs before this phase; the fallback only guards a manifest without it)."""
        return self.validation.access_cut_at or self.validation.compute_stopped_at

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.run.request.validation.grace_seconds)

    @cached_property
    def endpoint_states(self) -> dict[str, dict[str, Any] | None]:
        """Each endpoint of the inventory as ListEndpoints lists it, or None: one paginated call
        for them all, authoritative unlike Search, and made once per poll, so the decision to
        wait and the checks that follow it see the same answer."""
        endpoints = self.manifest.require_inventory().endpoints
        listed = sagemaker.endpoint_summaries(self.kit.aws.sagemaker) if endpoints else {}
        return {e.name: listed.get(e.name) for e in endpoints}


# ---------------------------------------------------------------------------------- endpoints
def _still_deleting(states: dict[str, dict[str, Any] | None]) -> list[str]:
    return [name for name, found in states.items() if found and found["EndpointStatus"] == DELETING]


def _check_endpoints(proof: _Proof) -> None:
    aws = proof.kit.aws
    inventory = proof.manifest.require_inventory()
    for endpoint, found in zip(inventory.endpoints, proof.endpoint_states.values(), strict=True):
        subject = f"sagemaker-endpoint/{endpoint.name}"
        asked = f"ListEndpoints: {endpoint.name}"
        if found is None:
            proof.add("endpoints", subject, asked, "not found", True)
            continue
        status = found["EndpointStatus"]
        tags = sagemaker.tags_of_existing(aws.sagemaker, endpoint.arn)
        if tags is None:  # its deletion ended between the two reads
            proof.add("endpoints", subject, asked, "not found (deleted while read)", True)
            continue
        if is_protected(tags):
            answer = f"{status}, tagged sunset:protect=true: left running on purpose"
            proof.add("endpoints", subject, asked, answer, True)
            continue
        answer = status
        if status == DELETING:
            answer += f": still deleting at the deadline {proof.validation.deadline:%H:%M:%S}"
        proof.add("endpoints", subject, asked, answer + ": the endpoint still exists", False)
    known = {endpoint.name for endpoint in inventory.endpoints}
    others = [e for e in service_endpoints(aws, proof.run.request) if e.name not in known]
    selector = ", ".join(f"{k}={v}" for k, v in proof.run.request.selector.tags.items())
    asked = f"Search (endpoints), tags {selector or '(explicit ids only)'}"
    if not others:
        proof.add("endpoints", "service endpoints", asked, "no other endpoint of the service", True)
    for other in others:
        proof.add(
            "endpoints",
            f"sagemaker-endpoint/{other.name}",
            asked,
            f"{other.status}: an endpoint of the service that is not in this run's inventory "
            "(created during the run?)",
            other.status == DELETING,
        )


# ------------------------------------------------------------------------------------- routes
def _check_http_routes(proof: _Proof) -> None:
    aws = proof.kit.aws
    domain_mappings = http_api.DomainMappings(aws.http_apis)
    for api_id, capture in proof.manifest.backups.http_apis.items():
        subject = f"http-api/{api_id}"
        if http_api.get_api(aws.http_apis, api_id) is None:
            proof.add("routes", subject, f"GetApi {api_id}", "the API no longer exists", True)
            continue
        captured = {route["RouteKey"] for route in capture.routes}
        live = {route["RouteKey"] for route in http_api.routes(aws.http_apis, api_id)}
        proof.add("routes", subject, f"GetRoutes {api_id}", *_routes_left(captured, live))
        stages = {s["StageName"] for s in capture.stages}
        serving = sorted(stages & {s["StageName"] for s in http_api.stages(aws.http_apis, api_id)})
        proof.add(
            "routes",
            subject,
            f"GetStages {api_id}",
            f"still serving: {', '.join(serving)}"
            if serving
            else f"none of {len(stages)} stage(s)",
            not serving,
        )
        if capture.api_mappings:
            mapped = {m["ApiMappingId"] for m in domain_mappings.of(api_id)}
            kept = sorted(
                f"{m['DomainName']}/{m.get('ApiMappingKey', '')}"
                for m in capture.api_mappings
                if m["ApiMappingId"] in mapped
            )
            proof.add(
                "routes",
                subject,
                f"GetApiMappings of {len(capture.api_mappings)} domain(s)",
                f"still mapped: {', '.join(kept)}" if kept else "no mapping left",
                not kept,
            )


def _routes_left(captured: set[str], live: set[str]) -> tuple[str, bool]:
    """The answer about an API's routes: any route on it after the cut is a way in, captured
    or added since (the removal refuses an API with routes it has no capture of, so a route
    added since came after the cut)."""
    if not live:
        return f"none of {len(captured)} route(s) left", True
    named = [f"{key}{'' if key in captured else ' (added since)'}" for key in sorted(live)]
    return f"still there: {', '.join(named)}", False


def _check_routes(proof: _Proof) -> None:
    _check_http_routes(proof)
    _check_rest_routes(proof)


def _check_rest_routes(proof: _Proof) -> None:
    aws = proof.kit.aws
    # createdDate has whole seconds: compare with the second the removal started in.
    started = proof.manifest.phase_started("Remove API routes")
    removal_started = started.replace(microsecond=0) if started else None
    for api_id, capture in proof.manifest.backups.rest_apis.items():
        subject = f"rest-api/{api_id}"
        if rest_api.get_api(aws.rest_apis, api_id) is None:
            proof.add("routes", subject, f"GetRestApi {api_id}", "the API no longer exists", True)
            continue
        captured = set(rest_api.method_keys(capture.resources))
        resources = rest_api.resources(aws.rest_apis, api_id)
        live = set(rest_api.method_keys(resources))
        root: dict[str, Any] = next((r for r in resources if r["path"] == "/"), {})
        tombstone = root.get("resourceMethods", {}).get(rest_api.TOMBSTONE_METHOD)
        if rest_api.is_tombstone(tombstone):
            # An earlier run's tombstone is in this run's capture; the one there now is ours.
            live.discard(f"{rest_api.TOMBSTONE_METHOD} /")
        proof.add("routes", subject, f"GetResources {api_id}", *_routes_left(captured, live))
        stages = {stage["stageName"]: stage for stage in rest_api.stages(aws.rest_apis, api_id)}
        for name in sorted(stage["stageName"] for stage in capture.stages):
            asked = f"GetStage {api_id}/{name}, GetDeployment"
            stage = stages.get(name)
            if stage is None:
                proof.add("routes", f"{subject}/stage/{name}", asked, "the stage is gone", True)
                continue
            deployment = rest_api.deployment(aws.rest_apis, api_id, stage.get("deploymentId", ""))
            created = (deployment or {}).get("createdDate")
            redeployed = (
                serves_removal(deployment)
                and created is not None
                and (removal_started is None or created >= removal_started)
            )
            answer = (
                f"deployment {stage.get('deploymentId')} "
                f"({(deployment or {}).get('description') or 'no description'}, created "
                f"{created.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"
                if isinstance(created, datetime)
                else f"deployment {stage.get('deploymentId')} not found"
            )
            if not redeployed:
                answer += ": not redeployed after the removal, the stage still serves the routes"
            proof.add("routes", f"{subject}/stage/{name}", asked, answer, redeployed)


# ------------------------------------------------------------------------------------- probes
@dataclass(frozen=True)
class _RouteProbe:
    api: execute_api.ApiKind
    method: str
    url: str
    route: str


def _route_probes(proof: _Proof) -> list[_RouteProbe]:
    """A probe for every captured route on every captured stage."""
    region = proof.kit.aws.region
    wanted: list[_RouteProbe] = []
    backups = proof.manifest.backups
    for api_id, http in backups.http_apis.items():
        for stage in sorted(s["StageName"] for s in http.stages):
            for route in sorted(r["RouteKey"] for r in http.routes):
                method, path = execute_api.probe_request(route)
                url = execute_api.invoke_url(api_id, region, stage, path)
                label = f"{route} (HTTP API {api_id}, stage {stage})"
                wanted.append(_RouteProbe("http", method, url, label))
    for api_id, rest in backups.rest_apis.items():
        for stage in sorted(s["stageName"] for s in rest.stages):
            for key in rest_api.method_keys(rest.resources):
                method, path = execute_api.probe_request(key)
                url = execute_api.invoke_url(api_id, region, stage, path)
                label = f"{key} (REST API {api_id}, stage {stage})"
                wanted.append(_RouteProbe("rest", method, url, label))
    return wanted


def _check_probes(proof: _Proof) -> None:
    kit = proof.kit
    wanted = _route_probes(proof)
    if len(wanted) > MAX_PROBES:
        proof.validation.skipped["probes"] = (
            f"{len(wanted) - MAX_PROBES} of {len(wanted)} route probes not sent "
            f"(at most {MAX_PROBES} per run); the routes check covers them all"
        )
        wanted = wanted[:MAX_PROBES]
    prober = execute_api.Prober(kit.aws.credentials(), kit.aws.region, kit.execute_api_endpoint)
    endpoints = proof.manifest.require_inventory().endpoints
    states = proof.endpoint_states
    # Clients are created here, before the threads: a boto3 client may be shared between
    # threads, but creating one from a shared session may not.
    _clients = (kit.aws.sagemaker, kit.aws.sagemaker_runtime)
    late = f"not answered within the {PROBE_BUDGET_SECONDS} s the probes may take"
    pool = ThreadPoolExecutor(max_workers=PROBE_WORKERS)
    try:
        # Endpoints first: they are few, and a live one is the worst thing to miss.
        invoked = {
            pool.submit(_invoke, proof, e.name, e.arn, states[e.name] is not None): e.name
            for e in endpoints
        }
        sent = {pool.submit(prober.send, probe.method, probe.url): probe for probe in wanted}
        done, _ = wait([*invoked, *sent], timeout=PROBE_BUDGET_SECONDS)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for future, probe in sent.items():
        asked = f"{probe.method} {probe.url} (signed, no body)"
        if future not in done:
            proof.add("probes", probe.route, asked, late, False)
            continue
        answer = future.result()
        gone = answer.shows_route_gone(probe.api)
        suffix = "" if gone else ": the route still answers"
        proof.add("probes", probe.route, asked, answer.describe() + suffix, gone)
    for future, name in invoked.items():
        subject = f"sagemaker-endpoint/{name}"
        if future not in done:
            proof.add("probes", subject, f"InvokeEndpoint {name}", late, False)
            continue
        asked, text, gone = future.result()
        proof.add("probes", subject, asked, text, gone)


def _invoke(proof: _Proof, name: str, arn: str, listed: bool) -> tuple[str, str, bool]:
    """(what was asked, the answer, whether it shows the endpoint gone) for one endpoint;
    `listed`: whether ListEndpoints still lists it."""
    aws = proof.kit.aws
    if listed and is_protected(sagemaker.tags_of_existing(aws.sagemaker, arn) or {}):
        # Left running on purpose: invoking it would only prove what the STOPPED notice says.
        answer = "not invoked: tagged sunset:protect=true, left running on purpose"
        return "ListEndpoints, ListTags", answer, True
    gone, answer = sagemaker.probe_endpoint(aws.sagemaker_runtime, name)
    suffix = "" if gone else ": the endpoint still answers"
    return f"InvokeEndpoint {name} (empty JSON body)", answer + suffix, gone


# ------------------------------------------------------------------------------------ traffic
def _traffic_metrics(proof: _Proof) -> dict[str, tuple[dict[str, Any], datetime]]:
    """label -> (metric, the cut-off after which it must be zero)."""
    inventory = proof.manifest.require_inventory()
    metrics: dict[str, tuple[dict[str, Any], datetime]] = {}
    stopped, cut = proof.validation.compute_stopped_at, proof.access_cut_at
    for endpoint in inventory.endpoints:
        for variant in endpoint.variant_names:
            metric = {
                "Namespace": "AWS/SageMaker",
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint.name},
                    {"Name": "VariantName", "Value": variant},
                ],
            }
            metrics[f"Invocations {endpoint.name}/{variant}"] = (metric, stopped)
    apis = [("ApiId", a.api_id, "4xx", "5xx") for a in inventory.http_apis]
    apis += [("ApiName", a.name, "4XXError", "5XXError") for a in inventory.rest_apis]
    for dimension, value, client_errors, server_errors in apis:
        for name in ("Count", client_errors, server_errors):
            metric = {
                "Namespace": "AWS/ApiGateway",
                "MetricName": name,
                "Dimensions": [{"Name": dimension, "Value": value}],
            }
            metrics[f"{name} {dimension}={value}"] = (metric, cut)
    return metrics


def _api_traffic(after: dict[str, float]) -> dict[str, tuple[float, float, float]]:
    """Per API ('ApiId=x', 'ApiName=y'): its requests, refused (4xx) and failed (5xx) after the
    cut-off, from the sums keyed '<metric> <api>' (4xx/5xx on HTTP APIs, 4XXError/5XXError on
    REST APIs)."""
    totals: dict[str, tuple[float, float, float]] = {}
    for api in sorted(
        label.removeprefix("Count ") for label in after if label.startswith("Count ")
    ):
        own = {label: value for label, value in after.items() if label.endswith(f" {api}")}
        refused = sum(value for label, value in own.items() if label.startswith("4"))
        failed = sum(value for label, value in own.items() if label.startswith("5"))
        totals[api] = (own[f"Count {api}"], refused, failed)
    return totals


def _check_traffic(proof: _Proof) -> None:
    validation = proof.validation
    quiet = proof.run.request.validation.quiet_period_seconds
    if quiet == 0:
        validation.skipped["traffic"] = (
            "validation.quiet_period_seconds is 0: there is no quiet period to measure. "
            "CloudWatch keeps these metrics per minute: ask for 300 s or more"
        )
        return
    metrics = _traffic_metrics(proof)
    if not metrics:
        validation.skipped["traffic"] = "the service has no endpoint and no API to measure"
        return
    # Requests in flight at the cut-off end within the grace, so the window opens after it.
    # CloudWatch rounds StartTime down to the minute, so a period may start before the window:
    # only periods that start in the window's first second or later count. Endpoints and APIs
    # have different cut-offs: one query each.
    after: dict[str, float] = {}
    opened: dict[datetime, datetime] = {}
    for cut in sorted({cut for _, cut in metrics.values()}):
        start = opened[cut] = (cut + proof.grace).replace(microsecond=0)
        end = max(validation.quiet_until, start + timedelta(seconds=1))
        batch = {label: metric for label, (metric, at) in metrics.items() if at == cut}
        points = cloudwatch.metric_points(
            proof.kit.aws.cloudwatch, batch, start, end, METRIC_PERIOD
        )
        for label, pairs in points.items():
            after[label] = sum(value for stamp, value in pairs if stamp >= start)
    apis = _api_traffic(after)
    invoked = any(value for label, value in after.items() if label.startswith("Invocations "))
    answered = any(count > refused for count, refused, _ in apis.values())
    if quiet < 2 * METRIC_PERIOD and not (invoked or answered):
        validation.skipped["traffic"] = (
            f"no traffic seen, but a quiet period of {quiet} s is under two minutes of "
            "per-minute metrics, which proves little: ask for 300 s or more"
        )
        return
    window = f"until {validation.quiet_until:%H:%M:%S} UTC, Sum per {METRIC_PERIOD} s"
    for label, (_, cut) in metrics.items():
        if not label.startswith("Invocations "):
            continue
        total = after[label]
        answer = f"{total:,.0f} invocation(s) from {opened[cut]:%H:%M:%S}"
        passed = total == 0
        proof.add(
            "traffic",
            label.removeprefix("Invocations "),
            f"AWS/SageMaker Invocations {window}",
            answer + ("" if passed else ": the model served traffic after it was stopped"),
            passed,
        )
    for api, (count, refused, failed) in apis.items():
        not_refused = max(count - refused, 0.0)
        answer = (
            f"{count:,.0f} request(s) from {opened[metrics[f'Count {api}'][1]]:%H:%M:%S}: "
            f"{refused:,.0f} refused (4xx), {failed:,.0f} failed (5xx), "
            f"{not_refused:,.0f} not refused"
        )
        passed = not_refused == 0
        if passed and refused:
            answer += ": clients still call, and are refused"
        if not passed:
            answer += ": the API still answered after its routes were removed"
        proof.add("traffic", api, f"AWS/ApiGateway Count, 4xx, 5xx {window}", answer, passed)


# --------------------------------------------------------------------------------------- logs
@dataclass
class _LogScan:
    patterns: list[tuple[str, re.Pattern[str]]]
    findings: list[LogFinding] = field(default_factory=list)
    scanned: int = 0
    truncated: bool = False
    unreadable: list[str] = field(default_factory=list)

    def keep(self, finding: LogFinding) -> None:
        if len(self.findings) >= MAX_FINDINGS:
            self.truncated = True
        else:
            self.findings.append(finding)


def request_rule(group: str) -> tuple[str, Callable[[str], bool]]:
    """How a line of this group shows a request, said in words and as a test."""
    if group.startswith(SAGEMAKER_LOG_PREFIX):
        return "an inference call (/invocations)", lambda line: bool(INVOCATION_LINE.search(line))
    if group.startswith(LAMBDA_LOG_PREFIX):
        return "a Lambda invocation (START line)", lambda line: bool(LAMBDA_START_LINE.match(line))
    return "a request not refused (access-log line, status not 4xx)", _is_request_line


def _is_request_line(line: str) -> bool:
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if isinstance(entry, dict):
        status = next((entry[key] for key in STATUS_KEYS if key in entry), None)
        return status is not None and not str(status).startswith("4")
    return bool(HTTP_REQUEST_LINE.search(line)) and not CLF_REFUSED.search(line)


def _access_log_groups(manifest: Manifest) -> dict[str, set[str]]:
    """The groups the captured stages sent access logs to, each with the APIs logging there:
    this service's requests, tagged or not."""
    backups = manifest.backups
    arns = [
        (api_id, (stage.get("AccessLogSettings") or {}).get("DestinationArn"))
        for api_id, capture in backups.http_apis.items()
        for stage in capture.stages
    ]
    arns += [
        (api_id, (stage.get("accessLogSettings") or {}).get("destinationArn"))
        for api_id, capture in backups.rest_apis.items()
        for stage in capture.stages
    ]
    groups: dict[str, set[str]] = {}
    for api_id, arn in arns:
        match = _LOG_GROUP_ARN.match(arn or "")
        if match:
            groups.setdefault(match["name"], set()).add(api_id)
    return groups


def _other_api(line: str, apis: set[str] | None) -> bool:
    """An access-log line of another API: access-log groups are often shared, and a line that
    names its apiId can be told apart (a line that does not is taken as the service's)."""
    if not apis or not line.startswith("{"):
        return False
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return isinstance(entry, dict) and "apiId" in entry and entry["apiId"] not in apis


def _read(
    proof: _Proof, group: str, start: datetime, end: datetime, line: Callable[[datetime, str], None]
) -> tuple[int, bool]:
    """Feed each event of [start, end] to `line`: (events read, whether the bound was hit)."""
    if end <= start:
        return 0, False
    read = 0
    for event in logs.events_between(proof.kit.aws.logs, group, start, end):
        if read >= MAX_EVENTS_PER_GROUP:
            return read, True
        read += 1
        line(datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC), str(event["message"]))
    return read, False


def _check_group(
    proof: _Proof, scan: _LogScan, group: str, apis: set[str] | None, now: datetime
) -> None:
    started = proof.run.started_at
    cut = proof.validation.compute_stopped_at
    if not group.startswith(SAGEMAKER_LOG_PREFIX):
        cut = proof.access_cut_at
    cut += proof.grace
    rule, is_request = request_rule(group)
    errors: list[LogFinding] = []
    requests: list[LogFinding] = []

    def error_line(stamp: datetime, message: str) -> None:
        if _other_api(message, apis):
            return
        pattern = next((p for p, regex in scan.patterns if regex.search(message)), None)
        if pattern is not None:
            errors.append(
                LogFinding(
                    log_group=group, pattern=pattern, timestamp=stamp, message=message[:MAX_LINE]
                )
            )

    def request_line(stamp: datetime, message: str) -> None:
        if stamp > cut and is_request(message) and not _other_api(message, apis):
            why = f"{rule} after {cut:%H:%M:%S}"
            requests.append(
                LogFinding(
                    log_group=group,
                    pattern=why,
                    timestamp=stamp,
                    message=message[:MAX_LINE],
                    kind="request",
                )
            )

    asked = (
        f"FilterLogEvents {group}: error lines from {started:%H:%M:%S}, requests from "
        f"{cut:%H:%M:%S} (cut-off + grace), to {now:%H:%M:%S} UTC"
    )
    try:
        read, errors_cut_short = _read(proof, group, started, now, error_line)
        after, busy = _read(proof, group, cut, now, request_line)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        scan.unreadable.append(f"{group}: does not exist")
        proof.add("logs", group, asked, "no such log group: nothing logs there", True)
        return
    scan.scanned += read + after
    # Requests first: with the report's bound on lines, they matter more than error lines.
    for finding in requests + errors:
        scan.keep(finding)
    answer = f"{read} event(s) in the run: {len(errors)} error line(s)"
    if errors_cut_short:
        answer += f" in the first {MAX_EVENTS_PER_GROUP:,} read"
        scan.truncated = True
    if now <= cut:
        # No quiet period was asked for, so the run did not wait out the grace: requests after
        # it cannot have been logged yet, and none are claimed.
        answer += f"; requests not read: the grace after the cut-off ends at {cut:%H:%M:%S}"
        proof.validation.skipped["logs"] = (
            "requests after the cut-off were not read: with quiet_period_seconds 0 the run does "
            "not wait for the grace (grace_seconds) to end"
        )
    else:
        answer += f"; {after} event(s) after the cut-off: {len(requests)} request(s)"
    if busy:
        answer += f", and more than {MAX_EVENTS_PER_GROUP:,} events there: still busy"
        scan.truncated = True
    if errors or requests:
        answer += "; the lines are in the report"
    proof.add("logs", group, asked, answer, not (errors or requests or busy))


def _check_logs(proof: _Proof) -> None:
    patterns = proof.run.request.validation.error_patterns
    scan = _LogScan([(pattern, re.compile(pattern)) for pattern in patterns])
    groups = [group.name for group in proof.manifest.require_inventory().log_groups]
    shared = _access_log_groups(proof.manifest)
    groups += [group for group in shared if group not in groups]
    now = proof.kit.now()
    for group in groups:
        _check_group(proof, scan, group, shared.get(group), now)
    proof.manifest.log_check = LogCheck(
        window_start=proof.run.started_at,
        window_end=now,
        log_groups=groups,
        patterns=patterns,
        events_scanned=scan.scanned,
        findings=scan.findings,
        truncated=scan.truncated,
        unreadable=scan.unreadable,
    )
    if not groups:
        proof.validation.skipped["logs"] = "the service has no log group"


# ------------------------------------------------------------------------------------- phase
_CHECKS: dict[CheckName, Callable[[_Proof], None]] = {
    "endpoints": _check_endpoints,
    "routes": _check_routes,
    "probes": _check_probes,
    "traffic": _check_traffic,
    "logs": _check_logs,
}


def _start(run: RunContext, manifest: Manifest) -> ShutdownValidation:
    stopped = manifest.phase_ended("Stop endpoints")
    if stopped is None:
        raise ManifestError(f"run {run.run_id} has no finished Stop endpoints phase to validate")
    options = run.request.validation
    quiet_until = stopped
    if options.quiet_period_seconds:
        # The quiet period starts once requests in flight at the cut-off have had their grace.
        quiet_until += timedelta(seconds=options.grace_seconds + options.quiet_period_seconds)
    checks_at = quiet_until
    if "traffic" in options.checks and options.quiet_period_seconds >= 2 * METRIC_PERIOD:
        checks_at += timedelta(seconds=METRIC_DELAY_SECONDS)
    return ShutdownValidation(
        checks=list(options.checks),
        access_cut_at=manifest.phase_ended("Remove API routes"),
        compute_stopped_at=stopped,
        quiet_until=quiet_until,
        checks_at=checks_at,
        deadline=stopped + timedelta(seconds=options.deadline_seconds),
    )


def _waiting_for(proof: _Proof, now: datetime) -> tuple[list[str], int]:
    """What the run must still wait for before the checks can give an answer, and how long."""
    validation, options = proof.validation, proof.run.request.validation
    reasons: list[str] = []
    waits: list[float] = []
    if "endpoints" in validation.checks and now < validation.deadline:
        deleting = _still_deleting(proof.endpoint_states)
        if deleting:
            reasons.append(f"endpoint(s) still deleting: {', '.join(deleting)}")
            waits.append(min(options.poll_seconds, (validation.deadline - now).total_seconds()))
    if options.quiet_period_seconds and now < validation.quiet_until:
        reasons.append(f"the quiet period, until {validation.quiet_until:%H:%M:%S} UTC")
        waits.append((validation.quiet_until - now).total_seconds())
    elif validation.checks_at and now < validation.checks_at:
        reasons.append(
            f"CloudWatch to publish the last minutes, until {validation.checks_at:%H:%M:%S}"
        )
        waits.append((validation.checks_at - now).total_seconds())
    return reasons, max(1, math.ceil(min(waits))) if waits else 0


def _not_proven(validation: ShutdownValidation) -> ShutdownNotProven:
    failures = validation.failures()
    shown = [f"{e.check}: {e.subject}: {e.answer}" for e in failures[:10]]
    more = f"; and {len(failures) - 10} more" if len(failures) > 10 else ""
    return ShutdownNotProven(
        f"the service is not proven down, {len(failures)} check(s) failed: "
        + "; ".join(shown)
        + more
        + "; every answer is in the report"
    )


def validate_shutdown(run: RunContext, kit: Toolkit) -> ValidationStatus:
    """One poll: wait while endpoints delete or the quiet period runs, then run every check."""
    with running_phase(kit, run, PHASE) as (manifest, journal):
        if manifest.validation is None or manifest.validation.settled_at is not None:
            manifest.validation = _start(run, manifest)
        validation = manifest.validation
        validation.polls += 1
        validation.evidence.clear()
        validation.skipped.clear()
        proof = _Proof(manifest, validation, kit, run)
        reasons, wait = _waiting_for(proof, kit.now())
        validation.waiting_for = reasons
        if reasons:
            return ValidationStatus(
                settled=False, wait_seconds=wait, summary="waiting for " + "; ".join(reasons)
            )
        for name in validation.checks:
            _CHECKS[name](proof)
        validation.settled_at = kit.now()
        failures = validation.failures()
        journal.record(
            "validate shutdown",
            f"service/{run.service}",
            "failed" if failures or not validation.evidence else "ok",
            detail=f"{len(validation.evidence)} answer(s), {len(failures)} against the shutdown",
        )
        if failures:
            raise _not_proven(validation)
        if not validation.evidence:
            raise ShutdownNotProven(
                "no check could give an answer, so nothing is proven: "
                + "; ".join(f"{name}: {why}" for name, why in validation.skipped.items())
            )
    counts = {"Answers": len(validation.evidence), "Skipped checks": len(validation.skipped)}
    return ValidationStatus(
        settled=True,
        summary=f"proven down: {len(validation.evidence)} answer(s) from "
        f"{len(validation.checks) - len(validation.skipped)} check(s), none against the shutdown",
        counts=counts,
    )
