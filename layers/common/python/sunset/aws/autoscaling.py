"""Application Auto Scaling for SageMaker endpoint variants."""

from __future__ import annotations

from typing import Any

from sunset.aws.shapes import create_input

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def variant_resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def scalable_targets(autoscaling: Any, resource_ids: list[str]) -> list[dict[str, Any]]:
    """The registered targets among `resource_ids`, 50 ids a call (the API's limit): one call
    covers the variants of many endpoints."""
    paginator = autoscaling.get_paginator("describe_scalable_targets")
    targets: list[dict[str, Any]] = []
    for first in range(0, len(resource_ids), _IDS_PER_CALL):
        chunk = resource_ids[first : first + _IDS_PER_CALL]
        for page in paginator.paginate(ServiceNamespace=NAMESPACE, ResourceIds=chunk):
            targets.extend(page["ScalableTargets"])
    return targets


_IDS_PER_CALL = 50


def scaling_policies(autoscaling: Any, resource_id: str) -> list[dict[str, Any]]:
    paginator = autoscaling.get_paginator("describe_scaling_policies")
    policies: list[dict[str, Any]] = []
    for page in paginator.paginate(ServiceNamespace=NAMESPACE, ResourceId=resource_id):
        policies.extend(page["ScalingPolicies"])
    return policies


def deregister_target(autoscaling: Any, target: dict[str, Any]) -> dict[str, Any]:
    """Deregistering a target also deletes its scaling policies (captured beforehand)."""
    return dict(
        autoscaling.deregister_scalable_target(
            ServiceNamespace=target["ServiceNamespace"],
            ResourceId=target["ResourceId"],
            ScalableDimension=target["ScalableDimension"],
        )
    )


def register_target(autoscaling: Any, captured: dict[str, Any]) -> dict[str, Any]:
    """Register a scalable target again, with its captured capacity limits.

    The captured RoleARN is the service-linked role, which Application Auto Scaling uses by
    itself; naming it would need iam:PassRole for nothing.
    """
    params = create_input(autoscaling, "RegisterScalableTarget", captured)
    params.pop("RoleARN", None)
    return dict(autoscaling.register_scalable_target(**params))


def put_policy(autoscaling: Any, captured: dict[str, Any]) -> dict[str, Any]:
    """Put a captured scaling policy back (PutScalingPolicy creates or replaces by name)."""
    return dict(
        autoscaling.put_scaling_policy(**create_input(autoscaling, "PutScalingPolicy", captured))
    )
