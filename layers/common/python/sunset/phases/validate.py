"""Validate shutdown: prove the service is down, with evidence (docs/validation.md).

"The API said 200 to DeleteEndpoint" is not proof. This phase asks again, the way a client and
an operator would, and keeps every question and answer in the manifest:

- endpoints: DescribeEndpoint finds none of the service's endpoints, and no endpoint carrying
  the service's tags is running (one created during the run would be missed otherwise);
- routes: the captured routes, stages and domain mappings are gone from the HTTP APIs, the
  methods from the REST APIs, and every REST stage serves a deployment made after the removal;
- probes: each removed route's invoke URL answers 404 or 403 (or nothing), and InvokeEndpoint
  on each stopped endpoint fails with not-found;
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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from sunset.aws import cloudwatch, execute_api, http_api, logs, rest_api, sagemaker
from sunset.aws.errors import error_code, error_message
from sunset.context import RunContext
from sunset.errors import ShutdownNotProven
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
# Probes run in parallel, each bounded in time, and their number is bounded, so that the phase
# ends well inside the function's timeout however many routes the service had.
MAX_PROBES = 200
PROBE_WORKERS = 8
PROBE_TIMEOUT_SECONDS = 5.0
# AWS/SageMaker and AWS/ApiGateway metrics are kept per minute.
METRIC_PERIOD = 60
MAX_FINDINGS = 100
MAX_LINE = 500
# A busy log group can hold millions of events: read a bounded number per group, and say so.
MAX_EVENTS_PER_GROUP = 20_000
# How a log line shows a request, by the kind of log group. SageMaker's serving containers log
# each inference call to /invocations (their health checks go to /ping); Lambda logs one START
# line per invocation. Any other group (API access logs, the service's own logs) is read as one
# line per request, except an access-log line whose status is 4xx: a refused request.
INVOCATION_LINE = re.compile(r"/invocations\b")
LAMBDA_START_LINE = re.compile(r"^START RequestId:")
LAMBDA_LOG_PREFIX = "/aws/lambda/"


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
        """Requests through the APIs stop when the routes are removed; a service without APIs
        has only its endpoints to cut."""
        return self.validation.access_cut_at or self.validation.compute_stopped_at


# ---------------------------------------------------------------------------------- endpoints
def _endpoint_states(proof: _Proof) -> dict[str, dict[str, Any] | None]:
    aws = proof.kit.aws
    return {
        endpoint.name: sagemaker.describe_endpoint(aws.sagemaker, endpoint.name)
        for endpoint in proof.manifest.require_inventory().endpoints
    }


def _still_deleting(states: dict[str, dict[str, Any] | None]) -> list[str]:
    return [name for name, found in states.items() if found and found["EndpointStatus"] == DELETING]


def _check_endpoints(proof: _Proof) -> None:
    aws = proof.kit.aws
    inventory = proof.manifest.require_inventory()
    for endpoint in inventory.endpoints:
        subject = f"sagemaker-endpoint/{endpoint.name}"
        asked = f"DescribeEndpoint {endpoint.name}"
        found = sagemaker.describe_endpoint(aws.sagemaker, endpoint.name)
        if found is None:
            proof.add("endpoints", subject, asked, "not found", True)
            continue
        status = found["EndpointStatus"]
        if is_protected(sagemaker.tags_of(aws.sagemaker, endpoint.arn)):
            answer = f"{status}, tagged sunset:protect=true since discovery: left on purpose"
            proof.add("endpoints", subject, asked, answer, True)
            continue
        answer = f"{status} (config {found.get('EndpointConfigName')})"
        if status == DELETING:
            answer += f": still deleting at the deadline {proof.validation.deadline:%H:%M:%S}"
        proof.add("endpoints", subject, asked, answer + ": the endpoint still exists", False)
    known = {endpoint.name for endpoint in inventory.endpoints}
    others = [e for e in service_endpoints(aws, proof.run.request) if e.name not in known]
    selector = ", ".join(f"{k}={v}" for k, v in proof.run.request.selector.tags.items())
    asked = f"ListEndpoints, tags {selector or '(explicit ids only)'}"
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
    for api_id, capture in proof.manifest.backups.http_apis.items():
        subject = f"http-api/{api_id}"
        if http_api.get_api(aws.http_apis, api_id) is None:
            proof.add("routes", subject, f"GetApi {api_id}", "the API no longer exists", True)
            continue
        captured = {route["RouteKey"] for route in capture.routes}
        left = sorted(captured & {r["RouteKey"] for r in http_api.routes(aws.http_apis, api_id)})
        proof.add(
            "routes",
            subject,
            f"GetRoutes {api_id}",
            f"still there: {', '.join(left)}" if left else f"none of {len(captured)} route(s)",
            not left,
        )
        stages = {s["StageName"] for s in capture.stages}
        live = sorted(stages & {s["StageName"] for s in http_api.stages(aws.http_apis, api_id)})
        proof.add(
            "routes",
            subject,
            f"GetStages {api_id}",
            f"still serving: {', '.join(live)}" if live else f"none of {len(stages)} stage(s)",
            not live,
        )
        if capture.api_mappings:
            mapped = {m["ApiMappingId"] for m in http_api.api_mappings_of(aws.http_apis, api_id)}
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
        left = sorted(captured & live)
        proof.add(
            "routes",
            subject,
            f"GetResources {api_id}",
            f"still there: {', '.join(left)}" if left else f"none of {len(captured)} method(s)",
            not left,
        )
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
                f"{created:%Y-%m-%d %H:%M:%S} UTC)"
                if isinstance(created, datetime)
                else f"deployment {stage.get('deploymentId')} not found"
            )
            if not redeployed:
                answer += ": not redeployed after the removal, the stage still serves the routes"
            proof.add("routes", f"{subject}/stage/{name}", asked, answer, redeployed)


# ------------------------------------------------------------------------------------- probes
def _route_probes(proof: _Proof) -> list[tuple[str, str, str]]:
    """(method, url, route) for every captured route on every captured stage."""
    region = proof.kit.aws.region
    wanted: list[tuple[str, str, str]] = []
    backups = proof.manifest.backups
    for api_id, http in backups.http_apis.items():
        for stage in sorted(s["StageName"] for s in http.stages):
            for route in sorted(r["RouteKey"] for r in http.routes):
                method, path = execute_api.probe_request(route)
                url = execute_api.invoke_url(api_id, region, stage, path)
                wanted.append((method, url, f"{route} (HTTP API {api_id}, stage {stage})"))
    for api_id, rest in backups.rest_apis.items():
        for stage in sorted(s["stageName"] for s in rest.stages):
            for key in rest_api.method_keys(rest.resources):
                method, path = execute_api.probe_request(key)
                url = execute_api.invoke_url(api_id, region, stage, path)
                wanted.append((method, url, f"{key} (REST API {api_id}, stage {stage})"))
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
    prober = execute_api.Prober(
        kit.aws.credentials(), kit.aws.region, kit.execute_api_endpoint, PROBE_TIMEOUT_SECONDS
    )
    with ThreadPoolExecutor(max_workers=PROBE_WORKERS) as pool:
        answers = list(pool.map(lambda probe: prober.send(probe[0], probe[1]), wanted))
    for (method, url, route), answer in zip(wanted, answers, strict=True):
        gone = answer.shows_route_gone()
        proof.add(
            "probes",
            route,
            f"{method} {url} (signed, no body)",
            answer.describe() + ("" if gone else ": the route still answers"),
            gone,
        )
    for endpoint in proof.manifest.require_inventory().endpoints:
        _probe_endpoint(proof, endpoint.name, endpoint.arn)


def _probe_endpoint(proof: _Proof, name: str, arn: str) -> None:
    asked = f"InvokeEndpoint {name} (empty JSON body)"
    subject = f"sagemaker-endpoint/{name}"
    aws = proof.kit.aws
    if sagemaker.describe_endpoint(aws.sagemaker, name) is not None and is_protected(
        sagemaker.tags_of(aws.sagemaker, arn)
    ):
        # Left running on purpose: invoking it would only prove what the STOPPED notice says.
        answer = "not invoked: tagged sunset:protect=true since discovery, left on purpose"
        proof.add("probes", subject, "DescribeEndpoint, ListTags", answer, True)
        return
    try:
        response = aws.sagemaker_runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=b"{}"
        )
    except ClientError as exc:
        message = error_message(exc)
        gone = error_code(exc) == "ValidationError" and "not found" in message.lower()
        answer = f"{error_code(exc)}: {message}"
        proof.add("probes", subject, asked, answer + ("" if gone else ": it answers"), gone)
        return
    body = response["Body"].read(200).decode("utf-8", errors="replace")
    proof.add("probes", subject, asked, f"answered: {body}: the model still serves", False)


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
    # CloudWatch rounds StartTime down to the minute, so the first period may hold requests from
    # before the cut-off: only periods that start in the second of the cut-off or later count
    # (timestamps have whole seconds). The minute of the cut-off itself is covered by the logs
    # check, which reads exact timestamps. Endpoints and APIs have different cut-offs: one
    # query each.
    after: dict[str, float] = {}
    for cut in sorted({cut for _, cut in metrics.values()}):
        start = cut.replace(microsecond=0)
        end = max(validation.quiet_until, start + timedelta(seconds=1))
        batch = {label: metric for label, (metric, at) in metrics.items() if at == cut}
        points = cloudwatch.metric_points(
            proof.kit.aws.cloudwatch, batch, start, end, METRIC_PERIOD
        )
        for label, pairs in points.items():
            after[label] = sum(value for stamp, value in pairs if stamp >= start)
    window = (
        f"from the cut-off until {validation.quiet_until:%H:%M:%S} UTC, Sum per {METRIC_PERIOD} s"
    )
    caveat = " (under two minutes of per-minute metrics: the logs check reads the rest)"
    window += caveat if quiet < 2 * METRIC_PERIOD else ""
    for label, (_, cut) in metrics.items():
        if not label.startswith("Invocations "):
            continue
        total = after[label]
        answer = f"{total:,.0f} invocation(s) after {cut:%H:%M:%S}"
        passed = total == 0
        proof.add(
            "traffic",
            label.removeprefix("Invocations "),
            f"AWS/SageMaker Invocations {window}",
            answer + ("" if passed else ": the model served traffic after it was stopped"),
            passed,
        )
    apis = {label.split(" ", 1)[1] for label in metrics if label.startswith("Count ")}
    for api in sorted(apis):
        labels = [label for label in metrics if label.endswith(f" {api}")]
        count = after[f"Count {api}"]
        refused = sum(after[label] for label in labels if label.startswith("4"))
        failed = sum(after[label] for label in labels if label.startswith("5"))
        answered = max(count - refused, 0.0)
        answer = (
            f"{count:,.0f} request(s) after {metrics[f'Count {api}'][1]:%H:%M:%S}: "
            f"{refused:,.0f} refused (4xx), {failed:,.0f} failed (5xx), "
            f"{answered:,.0f} not refused"
        )
        passed = answered == 0
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
    return "a request line (not a 4xx access-log entry)", lambda line: not _refused(line)


def _refused(line: str) -> bool:
    """An access-log line (JSON) whose status is 4xx: the request was turned away."""
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return isinstance(entry, dict) and str(entry.get("status", "")).startswith("4")


def _scan_group(
    proof: _Proof, scan: _LogScan, group: str, events: Iterable[dict[str, Any]]
) -> tuple[int, int, int]:
    """(events read, error lines, requests after the cut-off) for one log group."""
    cut = proof.validation.compute_stopped_at
    if not group.startswith(SAGEMAKER_LOG_PREFIX):
        cut = proof.access_cut_at
    rule, is_request = request_rule(group)
    read = errors = requests = 0
    for event in events:
        if read >= MAX_EVENTS_PER_GROUP:
            scan.truncated = True
            break
        read += 1
        message = str(event.get("message", ""))
        stamp = datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC)
        pattern = next((p for p, regex in scan.patterns if regex.search(message)), None)
        if pattern is not None:
            errors += 1
            scan.keep(
                LogFinding(
                    log_group=group, pattern=pattern, timestamp=stamp, message=message[:MAX_LINE]
                )
            )
        if stamp > cut and is_request(message):
            requests += 1
            scan.keep(
                LogFinding(
                    log_group=group,
                    pattern=f"{rule} after {cut:%H:%M:%S}",
                    timestamp=stamp,
                    message=message[:MAX_LINE],
                    kind="request",
                )
            )
    scan.scanned += read
    return read, errors, requests


def _check_logs(proof: _Proof) -> None:
    patterns = proof.run.request.validation.error_patterns
    scan = _LogScan([(pattern, re.compile(pattern)) for pattern in patterns])
    groups = [group.name for group in proof.manifest.require_inventory().log_groups]
    start, end = proof.run.started_at, proof.kit.now()
    unreadable: list[str] = []
    for group in groups:
        asked = f"FilterLogEvents {group} from {start:%H:%M:%S} to {end:%H:%M:%S} UTC"
        try:
            events = logs.events_between(proof.kit.aws.logs, group, start, end)
            read, errors, requests = _scan_group(proof, scan, group, events)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            unreadable.append(f"{group}: no longer exists")
            proof.add("logs", group, asked, "the log group no longer exists: nothing logs", True)
            continue
        answer = f"{read} event(s): {errors} error line(s), {requests} request(s) after the cut-off"
        if errors or requests:
            answer += "; the lines are in the report"
        proof.add("logs", group, asked, answer, not (errors or requests))
    proof.manifest.log_check = LogCheck(
        window_start=start,
        window_end=end,
        log_groups=groups,
        patterns=patterns,
        events_scanned=scan.scanned,
        findings=scan.findings,
        truncated=scan.truncated,
        unreadable=unreadable,
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
    from sunset.errors import ManifestError

    stopped = manifest.phase_ended("Stop endpoints")
    if stopped is None:
        raise ManifestError(f"run {run.run_id} has no finished Stop endpoints phase to validate")
    options = run.request.validation
    return ShutdownValidation(
        checks=list(options.checks),
        access_cut_at=manifest.phase_ended("Remove API routes"),
        compute_stopped_at=stopped,
        quiet_until=stopped + timedelta(seconds=options.quiet_period_seconds),
        deadline=stopped + timedelta(seconds=options.deadline_seconds),
    )


def _waiting_for(proof: _Proof, now: datetime) -> tuple[list[str], int]:
    """What the run must still wait for before the checks can give an answer, and how long."""
    validation, options = proof.validation, proof.run.request.validation
    reasons: list[str] = []
    waits: list[float] = []
    if "endpoints" in validation.checks and now < validation.deadline:
        deleting = _still_deleting(_endpoint_states(proof))
        if deleting:
            reasons.append(f"endpoint(s) still deleting: {', '.join(deleting)}")
            waits.append(min(options.poll_seconds, (validation.deadline - now).total_seconds()))
    if now < validation.quiet_until:
        reasons.append(f"the quiet period, until {validation.quiet_until:%H:%M:%S} UTC")
        waits.append((validation.quiet_until - now).total_seconds())
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
            "failed" if failures else "ok",
            detail=f"{len(validation.evidence)} answer(s), {len(failures)} against the shutdown",
        )
        if failures:
            raise _not_proven(validation)
    counts = {"Answers": len(validation.evidence), "Skipped checks": len(validation.skipped)}
    return ValidationStatus(
        settled=True,
        summary=f"proven down: {len(validation.evidence)} answer(s) from "
        f"{len(validation.checks) - len(validation.skipped)} check(s), none against the shutdown",
        counts=counts,
    )
