"""Discover: find every resource of the service, by tag and by explicit id, and its recent traffic.

Discovery goes service by service, in batches: SageMaker Search for the endpoints and their
tags, and the Resource Groups Tagging API for log groups only (it does not see every kind we
need, and moto's types some resources in its own way). Search and the tagging API read indexes
that can lag a change by seconds: an endpoint created or tagged moments before a run may be
missed, and Stop and Validate read what they act on again. A resource tagged
sunset:protect=true is reported and never acted on. An explicit id that does not exist is an
error: a typo must not turn into a silent partial shutdown.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sunset.aws import cloudwatch, ec2, http_api, logs, rds, rest_api, sagemaker
from sunset.aws.clients import AwsClients
from sunset.context import RunContext
from sunset.errors import InvalidRequest, NothingToDecommission, ResourceNotFound
from sunset.journal import Toolkit, running_phase
from sunset.manifest import (
    PROTECT_TAG,
    DbClusterRecord,
    DbInstanceRecord,
    EndpointRecord,
    HttpApiRecord,
    Impact,
    Inventory,
    LogGroupRecord,
    NotHandled,
    ProtectedResource,
    ResourceKind,
    RestApiRecord,
    VolumeRecord,
)
from sunset.phases.results import PhaseResult
from sunset.request import DecommissionRequest
from sunset.tags import is_protected, matches_selector, tag_dict

IMPACT_WINDOW_DAYS = 7
SAGEMAKER_LOG_PREFIX = "/aws/sagemaker/Endpoints/"


class _Scope:
    """Decides, for one kind of resource, which candidates are in, protected, or missing."""

    def __init__(self, kind: ResourceKind, request: DecommissionRequest, explicit: list[str]):
        self.kind = kind
        self.selector = request.selector.tags
        self.explicit = set(explicit)
        self.seen: set[str] = set()
        self.protected: list[ProtectedResource] = []

    def wants(self, resource_id: str, tags: dict[str, str], implied: bool = False) -> bool:
        """Whether to act on a candidate; `implied` means it belongs by naming convention."""
        named = implied or resource_id in self.explicit
        self.seen.add(resource_id)
        if not (named or matches_selector(tags, self.selector)):
            return False
        if is_protected(tags):
            self.protected.append(ProtectedResource(kind=self.kind, resource_id=resource_id))
            return False
        return True

    def check_all_found(self) -> None:
        missing = sorted(self.explicit - self.seen)
        if missing:
            raise ResourceNotFound(
                f"resources listed explicitly were not found ({self.kind}): {', '.join(missing)}; "
                "check the ids and the region; nothing was changed"
            )


def _endpoints_in_scope(aws: AwsClients, scope: _Scope) -> dict[str, dict[str, Any]]:
    """The endpoints to act on, by name, as Search describes them (with their tags): one call
    per 100 endpoints of the region, where DescribeEndpoint and ListTags take two each."""
    endpoints = sagemaker.search_endpoints(aws.sagemaker)
    # Search's index may not hold an endpoint created seconds ago: ask for a missing explicit
    # one by name before calling it a typo.
    for name in sorted(scope.explicit - endpoints.keys()):
        endpoint = sagemaker.described_with_tags(aws.sagemaker, name)
        if endpoint is not None:
            endpoints[name] = endpoint
    return {
        name: endpoint
        for name, endpoint in endpoints.items()
        if scope.wants(name, tag_dict(endpoint.get("Tags")))
    }


def _endpoints(
    aws: AwsClients, scope: _Scope, configs: dict[str, dict[str, Any]]
) -> list[EndpointRecord]:
    """The endpoints in scope; `configs` collects their endpoint configs' descriptions, one
    DescribeEndpointConfig per config however many endpoints share it."""
    found = []
    for endpoint in _endpoints_in_scope(aws, scope).values():
        name = endpoint["EndpointConfigName"]
        config = configs.get(name) or sagemaker.find_endpoint_config(aws.sagemaker, name)
        if config is not None:  # None: deleted under a live endpoint, Back up reports it
            configs[name] = config
        found.append(_endpoint_record(endpoint, config or {}))
    return found


def _endpoint_record(endpoint: dict[str, Any], config: dict[str, Any]) -> EndpointRecord:
    variants = config.get("ProductionVariants") or endpoint.get("ProductionVariants", [])
    return EndpointRecord(
        name=endpoint["EndpointName"],
        arn=endpoint["EndpointArn"],
        status=endpoint["EndpointStatus"],
        endpoint_config_name=endpoint["EndpointConfigName"],
        variant_names=[v["VariantName"] for v in variants],
        model_names=sagemaker.model_names(variants),
    )


def service_endpoints(aws: AwsClients, request: DecommissionRequest) -> list[EndpointRecord]:
    """The service's endpoints as they are now, protected ones left out (validation); their
    model names are not read."""
    scope = _Scope("sagemaker-endpoint", request, request.resources.sagemaker_endpoints)
    return [_endpoint_record(e, {}) for e in _endpoints_in_scope(aws, scope).values()]


def _http_apis(
    aws: AwsClients, scope: _Scope, not_handled: list[NotHandled]
) -> list[HttpApiRecord]:
    found = []
    for api in http_api.list_apis(aws.http_apis):
        if not scope.wants(api["ApiId"], api.get("Tags", {})):
            continue
        if api.get("ProtocolType") != "HTTP":
            if api["ApiId"] in scope.explicit:
                raise InvalidRequest(
                    f"resources.http_apis: {api['ApiId']} is a {api.get('ProtocolType')} API; "
                    "Sunset removes routes from HTTP and REST APIs only"
                )
            not_handled.append(
                NotHandled(
                    kind=f"{str(api.get('ProtocolType', '')).lower()}-api",
                    resource_id=api["ApiId"],
                    reason="Sunset does not remove WebSocket routes: take it down by hand",
                )
            )
            continue
        routes = http_api.routes(aws.http_apis, api["ApiId"])
        found.append(
            HttpApiRecord(
                api_id=api["ApiId"],
                name=api["Name"],
                api_endpoint=api.get("ApiEndpoint"),
                route_keys=sorted(r["RouteKey"] for r in routes),
            )
        )
    return found


def _rest_apis(aws: AwsClients, scope: _Scope) -> list[RestApiRecord]:
    found = []
    for api in rest_api.list_apis(aws.rest_apis):
        if not scope.wants(api["id"], api.get("tags", {})):
            continue
        resources = rest_api.resources(aws.rest_apis, api["id"])
        found.append(
            RestApiRecord(
                api_id=api["id"],
                name=api["name"],
                stage_names=sorted(
                    s["stageName"] for s in rest_api.stages(aws.rest_apis, api["id"])
                ),
                methods=rest_api.method_keys(resources),
            )
        )
    return found


def _volumes(aws: AwsClients, scope: _Scope) -> list[VolumeRecord]:
    candidates = {v["VolumeId"]: v for v in ec2.volumes_with_tags(aws.ec2, scope.selector)}
    for volume in ec2.volumes_by_id(aws.ec2, sorted(scope.explicit)):
        candidates.setdefault(volume["VolumeId"], volume)
    return [
        VolumeRecord(
            volume_id=volume_id,
            size_gib=volume["Size"],
            volume_type=volume.get("VolumeType", "unknown"),
            availability_zone=volume["AvailabilityZone"],
            encrypted=bool(volume.get("Encrypted")),
            kms_key_id=volume.get("KmsKeyId"),
            state=volume["State"],
        )
        for volume_id, volume in sorted(candidates.items())
        if scope.wants(volume_id, tag_dict(volume.get("Tags")))
    ]


def _databases(
    aws: AwsClients, instances: _Scope, clusters: _Scope
) -> tuple[list[DbInstanceRecord], list[DbClusterRecord]]:
    """Standalone instances, and Aurora clusters (whose members are handled through them).

    A cluster is protected when any of its members is: stopping or restoring a cluster acts
    on every member, so one protected member keeps the whole cluster out of every action.
    """
    found_instances: list[DbInstanceRecord] = []
    protected_members: dict[str, list[str]] = {}
    member_classes: dict[str, str] = {}
    for db in rds.db_instances(aws.rds):
        identifier = db["DBInstanceIdentifier"]
        cluster = db.get("DBClusterIdentifier")
        if cluster:
            if identifier in instances.explicit:
                raise InvalidRequest(
                    f"resources.rds_instances: {identifier} is a member of Aurora cluster "
                    f"{cluster}; list the cluster under resources.rds_clusters"
                )
            if is_protected(tag_dict(db.get("TagList"))):
                protected_members.setdefault(cluster, []).append(identifier)
            member_classes.setdefault(cluster, db.get("DBInstanceClass", ""))
            continue
        if not instances.wants(identifier, tag_dict(db.get("TagList"))):
            continue
        found_instances.append(
            DbInstanceRecord(
                identifier=identifier,
                arn=db["DBInstanceArn"],
                engine=db["Engine"],
                status=db["DBInstanceStatus"],
                allocated_storage_gib=int(db.get("AllocatedStorage", 0)),
                encrypted=bool(db.get("StorageEncrypted")),
                kms_key_id=db.get("KmsKeyId"),
                instance_class=db.get("DBInstanceClass"),
                subnet_group=(db.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
                security_groups=[g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])],
                parameter_group=next(
                    (g["DBParameterGroupName"] for g in db.get("DBParameterGroups", [])), None
                ),
                option_group=next(
                    (g["OptionGroupName"] for g in db.get("OptionGroupMemberships", [])), None
                ),
            )
        )
    found_clusters: list[DbClusterRecord] = []
    for cluster in rds.db_clusters(aws.rds):
        identifier = cluster["DBClusterIdentifier"]
        tags = tag_dict(cluster.get("TagList"))
        members = protected_members.get(identifier, [])
        if members and (
            identifier in clusters.explicit or matches_selector(tags, clusters.selector)
        ):
            tags = {**tags, PROTECT_TAG: "true"}
            instances.protected.extend(
                ProtectedResource(kind="rds-instance", resource_id=m) for m in members
            )
        if not clusters.wants(identifier, tags):
            continue
        found_clusters.append(
            DbClusterRecord(
                identifier=identifier,
                arn=cluster["DBClusterArn"],
                engine=cluster["Engine"],
                status=cluster["Status"],
                encrypted=bool(cluster.get("StorageEncrypted")),
                kms_key_id=cluster.get("KmsKeyId"),
                member_instance_class=member_classes.get(identifier) or None,
                subnet_group=cluster.get("DBSubnetGroup"),
                security_groups=[
                    g["VpcSecurityGroupId"] for g in cluster.get("VpcSecurityGroups", [])
                ],
                parameter_group=cluster.get("DBClusterParameterGroup"),
                members=sorted(
                    m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", [])
                ),
            )
        )
    return found_instances, found_clusters


def _log_groups(
    aws: AwsClients, scope: _Scope, endpoints: list[EndpointRecord]
) -> list[LogGroupRecord]:
    """The service's log groups: those tagged with its selector, its endpoints' own (which
    belong to it even when nobody tagged them) and the explicit ones. Tags come in batches
    from the tagging API, never one call per log group of the region."""
    tagged = logs.groups_tagged(aws.tagging, scope.selector) if scope.selector else {}
    by_convention = {SAGEMAKER_LOG_PREFIX + endpoint.name for endpoint in endpoints}
    named: dict[str, str] = {}
    if by_convention:
        for group in logs.log_groups(aws.logs, SAGEMAKER_LOG_PREFIX):
            if group["logGroupName"] in by_convention:
                named[group["logGroupName"]] = logs.group_arn(group)
    for name in sorted(scope.explicit - tagged.keys()):
        for group in logs.log_groups(aws.logs, name):
            if group["logGroupName"] == name:
                named[name] = logs.group_arn(group)
    # A group found by name carries no tags here: the protected ones are looked up in one go.
    protected = logs.groups_tagged(aws.tagging, {PROTECT_TAG: None}) if named else {}
    found = []
    for name in sorted(tagged.keys() | named.keys()):
        arn, tags = tagged.get(name) or (named[name], protected.get(name, ("", {}))[1])
        if scope.wants(name, tags, implied=name in by_convention):
            found.append(LogGroupRecord(name=name, arn=arn))
    return found


def _impact(aws: AwsClients, inventory: Inventory, now: datetime) -> Impact:
    metrics: dict[str, dict[str, Any]] = {}
    for endpoint in inventory.endpoints:
        for variant in endpoint.variant_names:
            metrics[f"endpoint:{endpoint.name}:{variant}"] = {
                "Namespace": "AWS/SageMaker",
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint.name},
                    {"Name": "VariantName", "Value": variant},
                ],
            }
    for http in inventory.http_apis:
        metrics[f"api:{http.api_id}"] = {
            "Namespace": "AWS/ApiGateway",
            "MetricName": "Count",
            "Dimensions": [{"Name": "ApiId", "Value": http.api_id}],
        }
    for rest in inventory.rest_apis:
        metrics[f"api:{rest.api_id}"] = {
            "Namespace": "AWS/ApiGateway",
            "MetricName": "Count",
            "Dimensions": [{"Name": "ApiName", "Value": rest.name}],
        }
    totals = cloudwatch.sum_metrics(
        aws.cloudwatch, metrics, now - timedelta(days=IMPACT_WINDOW_DAYS), now, period=86_400
    )
    impact = Impact(window_days=IMPACT_WINDOW_DAYS)
    for label, value in totals.items():
        kind, _, rest_of_label = label.partition(":")
        if kind == "endpoint":
            name = rest_of_label.rsplit(":", 1)[0]
            impact.endpoint_invocations[name] = impact.endpoint_invocations.get(name, 0.0) + value
        else:
            impact.api_requests[rest_of_label] = value
    return impact


def find_resources(aws: AwsClients, request: DecommissionRequest, now: datetime) -> Inventory:
    """Everything that belongs to the service, protected resources set aside, with its traffic."""
    explicit = request.resources
    scopes = {
        "endpoints": _Scope("sagemaker-endpoint", request, explicit.sagemaker_endpoints),
        "http": _Scope("http-api", request, explicit.http_apis),
        "rest": _Scope("rest-api", request, explicit.rest_apis),
        "volumes": _Scope("ebs-volume", request, explicit.ebs_volumes),
        "instances": _Scope("rds-instance", request, explicit.rds_instances),
        "clusters": _Scope("rds-cluster", request, explicit.rds_clusters),
        "logs": _Scope("log-group", request, explicit.log_groups),
    }
    endpoint_configs: dict[str, dict[str, Any]] = {}
    endpoints = _endpoints(aws, scopes["endpoints"], endpoint_configs)
    not_handled: list[NotHandled] = []
    db_instances, db_clusters = _databases(aws, scopes["instances"], scopes["clusters"])
    inventory = Inventory(
        endpoints=endpoints,
        http_apis=_http_apis(aws, scopes["http"], not_handled),
        rest_apis=_rest_apis(aws, scopes["rest"]),
        volumes=_volumes(aws, scopes["volumes"]),
        db_instances=db_instances,
        db_clusters=db_clusters,
        log_groups=_log_groups(aws, scopes["logs"], endpoints),
        not_handled=not_handled,
        endpoint_configs=endpoint_configs,
    )
    for scope in scopes.values():
        scope.check_all_found()
        inventory.protected.extend(scope.protected)
    inventory.impact = _impact(aws, inventory, now)
    return inventory


def discover(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Record the service's inventory in the manifest; fail when nothing would be acted on."""
    with running_phase(kit, run, "Discover") as (manifest, _journal):
        inventory = find_resources(kit.aws, run.request, kit.now())
        manifest.inventory = inventory
        if inventory.total() == 0:
            protected = len(inventory.protected)
            raise NothingToDecommission(
                f"no resource of {run.service!r} matched selector {run.request.selector.tags} "
                f"or the explicit ids ({protected} protected resource(s) set aside); "
                "nothing was done"
            )
    counts = {label: n for label, n in inventory.counts().items() if n}
    counts["Protected"] = len(inventory.protected)
    counts["Not handled"] = len(inventory.not_handled)
    summary = f"{inventory.total()} resource(s) in scope, {len(inventory.protected)} protected"
    if inventory.not_handled:
        summary += f", {len(inventory.not_handled)} NOT handled by Sunset (see ANNOUNCED)"
    return PhaseResult(phase="Discover", summary=summary, counts=counts)
