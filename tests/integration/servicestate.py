"""A service's configuration as plain, comparable data: the yardstick of the round-trip tests.

It is read with describe calls straight from the sandbox, independently of Sunset's own
verification code, and normalised only where AWS hands out new identifiers on re-creation
(route ids, REST resource ids, deployment ids of redeployed REST stages): what those ids point
at is compared instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Clients(Protocol):
    """Where the service is read: the sandbox, or a session in a run's target account."""

    def client(self, service_name: str, /) -> Any: ...


@dataclass
class ServiceShape:
    """Which resources make up the service under test."""

    endpoints: list[str]
    http_apis: list[str] = field(default_factory=list)
    rest_apis: list[str] = field(default_factory=list)
    db_instances: list[str] = field(default_factory=list)
    db_clusters: list[str] = field(default_factory=list)


def _endpoints(sandbox: Clients, names: list[str]) -> dict[str, Any]:
    sagemaker = sandbox.client("sagemaker")
    scaling = sandbox.client("application-autoscaling")
    found: dict[str, Any] = {}
    for name in names:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"]
        )
        models = {
            variant["ModelName"]: sagemaker.describe_model(ModelName=variant["ModelName"])
            for variant in config["ProductionVariants"]
        }
        resource_ids = [
            f"endpoint/{name}/variant/{v['VariantName']}" for v in config["ProductionVariants"]
        ]
        targets = scaling.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=resource_ids
        )["ScalableTargets"]
        policies = [
            policy
            for resource_id in resource_ids
            for policy in scaling.describe_scaling_policies(
                ServiceNamespace="sagemaker", ResourceId=resource_id
            )["ScalingPolicies"]
        ]
        tags = sagemaker.list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"]
        found[name] = {
            "status": endpoint["EndpointStatus"],
            "config": config["EndpointConfigName"],
            "variants": sorted(config["ProductionVariants"], key=lambda v: v["VariantName"]),
            "models": {
                model: {
                    "image": description.get("PrimaryContainer", {}).get("Image"),
                    "data": description.get("PrimaryContainer", {}).get("ModelDataUrl"),
                    "role": description.get("ExecutionRoleArn"),
                }
                for model, description in models.items()
            },
            "tags": sorted((t["Key"], t["Value"]) for t in tags),
            "autoscaling": sorted(
                (t["ResourceId"], t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"])
                for t in targets
            ),
            "policies": sorted(
                (
                    p["ResourceId"],
                    p["PolicyName"],
                    p["PolicyType"],
                    repr(p.get("TargetTrackingScalingPolicyConfiguration")),
                )
                for p in policies
            ),
        }
    return found


def _http_api(sandbox: Clients, api_id: str) -> dict[str, Any]:
    http = sandbox.client("apigatewayv2")
    integrations = {
        i["IntegrationId"]: (
            i["IntegrationType"],
            i.get("IntegrationUri"),
            i.get("PayloadFormatVersion"),
        )
        for i in http.get_integrations(ApiId=api_id)["Items"]
    }
    routes = http.get_routes(ApiId=api_id)["Items"]
    authorizers = {
        r["AuthorizerId"]: http.get_authorizer(ApiId=api_id, AuthorizerId=r["AuthorizerId"])
        for r in routes
        if r.get("AuthorizerId")
    }
    mappings = []
    for domain in http.get_domain_names()["Items"]:
        for mapping in http.get_api_mappings(DomainName=domain["DomainName"])["Items"]:
            if mapping["ApiId"] == api_id:
                mappings.append(
                    (domain["DomainName"], mapping.get("ApiMappingKey"), mapping["Stage"])
                )
    return {
        "routes": sorted(
            (
                r["RouteKey"],
                integrations.get(r.get("Target", "").removeprefix("integrations/")),
                r.get("AuthorizationType"),
                repr(
                    {
                        k: v
                        for k, v in authorizers.get(r.get("AuthorizerId", ""), {}).items()
                        if k not in {"AuthorizerId", "ResponseMetadata"}
                    }
                ),
            )
            for r in routes
        ),
        "stages": sorted(
            (
                s["StageName"],
                s.get("AutoDeploy"),
                repr(s.get("StageVariables")),
                s.get("DeploymentId"),
                repr(s.get("DefaultRouteSettings")),
            )
            for s in http.get_stages(ApiId=api_id)["Items"]
        ),
        "mappings": sorted(mappings),
    }


def _rest_api(sandbox: Clients, api_id: str) -> dict[str, Any]:
    rest = sandbox.client("apigateway")
    resources = rest.get_resources(restApiId=api_id, embed=["methods"])["items"]
    methods = {}
    for resource in resources:
        for verb, method in (resource.get("resourceMethods") or {}).items():
            integration = method.get("methodIntegration") or {}
            methods[f"{verb} {resource['path']}"] = {
                "authorization": method.get("authorizationType"),
                "api_key": method.get("apiKeyRequired"),
                "parameters": method.get("requestParameters"),
                "responses": sorted((method.get("methodResponses") or {}).keys()),
                "integration": {
                    key: integration.get(key)
                    for key in ("type", "httpMethod", "uri", "credentials", "requestTemplates")
                },
                "integration_responses": sorted(
                    (code, repr(answer.get("responseTemplates")))
                    for code, answer in (integration.get("integrationResponses") or {}).items()
                ),
            }
    stages = rest.get_stages(restApiId=api_id)["item"]

    def serves_a_removal(stage: dict[str, Any]) -> bool:
        # A stage left on the deployment Sunset made with the routes gone answers nothing.
        deployment = rest.get_deployment(restApiId=api_id, deploymentId=stage["deploymentId"])
        return str(deployment.get("description", "")).startswith("Sunset run ")

    return {
        "paths": sorted(r["path"] for r in resources),
        "methods": methods,
        "stages": sorted(
            (s["stageName"], repr(s.get("variables")), serves_a_removal(s)) for s in stages
        ),
    }


def service_state(sandbox: Clients, shape: ServiceShape) -> dict[str, Any]:
    """Everything a round trip must give back, as data that compares with ==."""
    rds = sandbox.client("rds")
    return {
        "endpoints": _endpoints(sandbox, shape.endpoints),
        "http_apis": {api: _http_api(sandbox, api) for api in shape.http_apis},
        "rest_apis": {api: _rest_api(sandbox, api) for api in shape.rest_apis},
        "db_instances": {
            db: rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0][
                "DBInstanceStatus"
            ]
            for db in shape.db_instances
        },
        "db_clusters": {
            cluster: rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0][
                "Status"
            ]
            for cluster in shape.db_clusters
        },
    }
