"""Deregistering a scalable target deletes its scaling policies on AWS; moto (5.2) keeps them.

Left as is, a restore would find the policies still there and never put them back, and the
round trip would pass in the sandbox while failing on AWS. While the sandbox runs,
DeregisterScalableTarget also deletes the target's policies, as AWS does.
"""

from __future__ import annotations

from typing import Any


class PoliciesGoWithTheirTarget:
    def __init__(self) -> None:
        self._original: Any = None

    def install(self) -> None:
        from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

        original = ApplicationAutoscalingBackend.deregister_scalable_target
        self._original = original

        def deregister(backend: Any, namespace: str, r_id: str, dimension: str) -> None:
            original(backend, namespace, r_id, dimension)
            for key, policy in list(backend.policies.items()):
                if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
                    namespace,
                    r_id,
                    dimension,
                ):
                    del backend.policies[key]

        ApplicationAutoscalingBackend.deregister_scalable_target = deregister  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

        if self._original is not None:
            ApplicationAutoscalingBackend.deregister_scalable_target = self._original  # type: ignore[method-assign]
            self._original = None
