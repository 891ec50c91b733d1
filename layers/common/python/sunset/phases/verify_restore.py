"""Verify restore: the service, as it is now, against what was captured before the shutdown.

Each comparison is a Check (what was expected, what was found) kept in the manifest's restore
record and shown in the report. The values are normalised the way the round trip is judged:
ids that AWS hands out anew (route ids, REST resource ids, deployments) are left out, what they
point at (an integration's URI, an authorizer's name) is compared instead.
"""

from __future__ import annotations

from typing import Any

from sunset.aws import autoscaling, http_api, rds, rest_api, sagemaker
from sunset.aws.clients import AwsClients
from sunset.context import RestoreStepEvent
from sunset.errors import RestoreIncomplete
from sunset.journal import Toolkit, running_phase
from sunset.manifest import Action, Check, EndpointCapture, HttpApiCapture, RestApiCapture
from sunset.phases.cut_access import serves_removal
from sunset.phases.restore import stopped_by_run
from sunset.phases.results import PhaseResult
from sunset.tags import settable


def _variants(config: dict[str, Any] | None) -> list[list[Any]]:
    return sorted(
        [
            v.get("VariantName"),
            v.get("ModelName"),
            v.get("InstanceType"),
            v.get("InitialInstanceCount"),
        ]
        for v in (config or {}).get("ProductionVariants", [])
    )


def _scaling(targets: list[dict[str, Any]], policies: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "targets": sorted(
            [t["ResourceId"], t.get("MinCapacity"), t.get("MaxCapacity")] for t in targets
        ),
        "policies": sorted([p["ResourceId"], p["PolicyName"], p["PolicyType"]] for p in policies),
    }


def endpoint_checks(aws: AwsClients, name: str, capture: EndpointCapture) -> list[Check]:
    """InService, on its captured config and variants, with its tags and its autoscaling."""
    current = sagemaker.describe_endpoint(aws.sagemaker, name) or {}
    config_name = current.get("EndpointConfigName")
    config = sagemaker.find_endpoint_config(aws.sagemaker, config_name) if config_name else None
    tags = sagemaker.tags_of(aws.sagemaker, current["EndpointArn"]) if current else {}
    targets = autoscaling.scalable_targets(
        aws.autoscaling, [t["ResourceId"] for t in capture.scalable_targets]
    )
    policies = [
        policy
        for target in capture.scalable_targets
        for policy in autoscaling.scaling_policies(aws.autoscaling, target["ResourceId"])
    ]
    prefix = f"endpoint {name}"
    wanted_tags = settable(capture.tags)  # a restore cannot set AWS's own aws: tags
    return [
        Check.compare(f"{prefix} status", "InService", current.get("EndpointStatus", "missing")),
        Check.compare(
            f"{prefix} endpoint config",
            capture.endpoint_config["EndpointConfigName"],
            config_name,
        ),
        Check.compare(f"{prefix} variants", _variants(capture.endpoint_config), _variants(config)),
        Check.compare(
            f"{prefix} tags", wanted_tags, {k: v for k, v in tags.items() if k in wanted_tags}
        ),
        Check.compare(
            f"{prefix} autoscaling",
            _scaling(capture.scalable_targets, capture.scaling_policies),
            _scaling(targets, policies),
        ),
    ]


def _routes(
    routes: list[dict[str, Any]],
    integrations: list[dict[str, Any]],
    authorizers: list[dict[str, Any]],
) -> list[list[Any]]:
    uri = {i["IntegrationId"]: i.get("IntegrationUri") for i in integrations}
    names = {a["AuthorizerId"]: a.get("Name") for a in authorizers}
    return sorted(
        [
            r["RouteKey"],
            uri.get(r.get("Target", "").removeprefix("integrations/")),
            r.get("AuthorizationType", "NONE"),
            names.get(r.get("AuthorizerId", "")),
        ]
        for r in routes
    )


def _stages(stages: list[dict[str, Any]]) -> list[list[Any]]:
    return sorted(
        [s["StageName"], bool(s.get("AutoDeploy")), s.get("StageVariables") or {}] for s in stages
    )


def http_api_checks(aws: AwsClients, capture: HttpApiCapture) -> list[Check]:
    """Routes, stages and mappings as captured. Pieces added since the capture are someone
    else's: they are neither compared nor touched."""
    client, api_id = aws.http_apis, capture.api["ApiId"]
    keys = {r["RouteKey"] for r in capture.routes}
    routes = [r for r in http_api.routes(client, api_id) if r["RouteKey"] in keys]
    live = _routes(
        routes,
        http_api.integrations(client, api_id),
        http_api.authorizers_of(client, api_id, routes),
    )
    names = {s["StageName"] for s in capture.stages}
    stages = [s for s in http_api.stages(client, api_id) if s["StageName"] in names]
    pinned = {s["StageName"]: s.get("DeploymentId") for s in stages}
    domains = {m["DomainName"] for m in capture.api_mappings}
    mappings = [m for m in http_api.api_mappings_of(client, api_id) if m["DomainName"] in domains]
    prefix = f"HTTP API {api_id}"
    checks = [
        Check.compare(
            f"{prefix} routes",
            _routes(capture.routes, capture.integrations, capture.authorizers),
            live,
        ),
        Check.compare(f"{prefix} stages", _stages(capture.stages), _stages(stages)),
        Check.compare(
            f"{prefix} domain mappings",
            sorted(
                [m["DomainName"], m.get("ApiMappingKey", ""), m["Stage"]]
                for m in capture.api_mappings
            ),
            sorted([m["DomainName"], m.get("ApiMappingKey", ""), m["Stage"]] for m in mappings),
        ),
    ]
    for stage in capture.stages:
        if stage.get("DeploymentId") and not stage.get("AutoDeploy"):
            checks.append(
                Check(
                    name=f"{prefix} stage {stage['StageName']} is deployed",
                    expected="a deployment",
                    actual=pinned.get(stage["StageName"]),
                    ok=bool(pinned.get(stage["StageName"])),
                )
            )
    return checks


def _methods(resources: list[dict[str, Any]]) -> list[list[Any]]:
    return sorted(
        [
            f"{verb} {resource['path']}",
            method.get("authorizationType"),
            (method.get("methodIntegration") or {}).get("type"),
            (method.get("methodIntegration") or {}).get("uri"),
        ]
        for resource in resources
        for verb, method in (resource.get("resourceMethods") or {}).items()
    )


def rest_api_checks(aws: AwsClients, capture: RestApiCapture) -> list[Check]:
    """The captured methods with their authorization and integration, no tombstone, and every
    captured stage on a deployment that is not the one made with the routes removed."""
    client, api_id = aws.rest_apis, capture.api["id"]
    prefix = f"REST API {api_id}"
    resources = rest_api.resources(client, api_id)
    captured = _methods(capture.resources)
    keys = {method[0] for method in captured}
    checks = [
        Check.compare(
            f"{prefix} methods",
            captured,
            [method for method in _methods(resources) if method[0] in keys],
        )
    ]
    root: dict[str, Any] = next((r for r in resources if r["path"] == "/"), {})
    tombstone = (root.get("resourceMethods") or {}).get(rest_api.TOMBSTONE_METHOD)
    checks.append(
        Check(
            name=f"{prefix} has no Sunset tombstone on its root",
            expected="no tombstone",
            actual="tombstone still there" if rest_api.is_tombstone(tombstone) else "no tombstone",
            ok=not rest_api.is_tombstone(tombstone),
        )
    )
    live = {s["stageName"]: s for s in rest_api.stages(client, api_id)}
    for stage in capture.stages:
        name = stage["stageName"]
        deployment_id = live.get(name, {}).get("deploymentId")
        deployment = rest_api.deployment(client, api_id, deployment_id) if deployment_id else None
        found = (deployment or {}).get("description", "no deployment") if name in live else "gone"
        checks.append(
            Check(
                name=f"{prefix} stage {name} serves the API with its routes",
                expected="a deployment other than the removal's",
                actual=found,
                ok=deployment is not None and not serves_removal(deployment),
            )
        )
    return checks


def database_checks(aws: AwsClients, audit: list[Action]) -> list[Check]:
    """Every database this run stopped is available again."""
    checks = []
    for kind, identifier in stopped_by_run(audit):
        status = rds.database_status(aws.rds, kind, identifier) or "missing"
        checks.append(Check.compare(f"{kind} {identifier} status", "available", status))
    return checks


def verify_restore(event: RestoreStepEvent, kit: Toolkit) -> PhaseResult:
    """Compare the service with its capture; any difference fails the restore, with evidence."""
    run, restore = event.run, event.restore
    with running_phase(kit, run, "Verify restore") as (manifest, journal):
        record = manifest.restore(restore.restore_id)
        audit = kit.runs.audit_entries(run.run_id)
        backups = manifest.backups
        checks: list[Check] = []
        for endpoint in manifest.require_inventory().endpoints:
            if endpoint.name in backups.endpoints:
                checks += endpoint_checks(kit.aws, endpoint.name, backups.endpoints[endpoint.name])
        for http_capture in backups.http_apis.values():
            checks += http_api_checks(kit.aws, http_capture)
        for rest_capture in backups.rest_apis.values():
            checks += rest_api_checks(kit.aws, rest_capture)
        checks += database_checks(kit.aws, audit)
        record.checks = checks
        failed = record.failed_checks()
        journal.record(
            "verify restore",
            f"service/{run.service}",
            "failed" if failed else "ok",
            detail=f"{len(checks)} check(s), {len(failed)} failed",
        )
        if failed:
            raise RestoreIncomplete(
                f"{len(failed)} of {len(checks)} check(s) failed: "
                + "; ".join(check.describe() for check in failed)
            )
    return PhaseResult(
        phase="Verify restore",
        summary=f"{len(checks)} check(s) passed",
        counts={"Checks passed": len(checks)},
    )
