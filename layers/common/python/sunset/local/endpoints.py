"""SageMaker endpoints that take their time to come up, as on AWS, or fail to.

moto creates an endpoint already InService, which would leave a restore's wait loop, its
deadline and its failure path untested. Through `Sandbox.endpoints` a test chooses how many
DescribeEndpoint reads a new endpoint stays Creating for, and which endpoints end Failed:

    sb.endpoints.hold(polls=3)          # every endpoint created from now on: Creating, 3 reads
    sb.endpoints.fail("chat-llm")       # this endpoint ends Failed (after the hold)
"""

from __future__ import annotations

from typing import Any


class EndpointControl:
    def __init__(self) -> None:
        self.polls = 0
        self._failing: set[str] = set()
        self._creating: dict[str, int] = {}
        self._originals: list[tuple[type, str, Any]] = []

    def hold(self, polls: int) -> None:
        """Every endpoint created from now on stays Creating for `polls` describe reads."""
        self.polls = polls

    def fail(self, endpoint_name: str) -> None:
        """This endpoint, when created, ends Failed instead of InService."""
        self._failing.add(endpoint_name)

    def install(self) -> None:
        from moto.sagemaker.models import SageMakerModelBackend

        control = self
        create = SageMakerModelBackend.create_endpoint
        describe = SageMakerModelBackend.describe_endpoint

        def create_endpoint(backend: Any, endpoint_name: str, *args: Any, **kwargs: Any) -> Any:
            endpoint = create(backend, endpoint_name, *args, **kwargs)
            if control.polls > 0 or endpoint_name in control._failing:
                endpoint.endpoint_status = "Creating"
                control._creating[endpoint_name] = control.polls
            return endpoint

        def describe_endpoint(backend: Any, endpoint_name: str) -> Any:
            endpoint = backend.endpoints.get(endpoint_name)
            if endpoint is not None and endpoint_name in control._creating:
                left = control._creating[endpoint_name] - 1
                control._creating[endpoint_name] = left
                if left <= 0:
                    del control._creating[endpoint_name]
                    if endpoint_name in control._failing:
                        endpoint.endpoint_status = "Failed"
                        endpoint.failure_reason = "sandbox: the model container did not start"
                    else:
                        endpoint.endpoint_status = "InService"
            return describe(backend, endpoint_name)

        for name, replacement in (
            ("create_endpoint", create_endpoint),
            ("describe_endpoint", describe_endpoint),
        ):
            self._originals.append(
                (SageMakerModelBackend, name, SageMakerModelBackend.__dict__[name])
            )
            setattr(SageMakerModelBackend, name, replacement)

    def uninstall(self) -> None:
        while self._originals:
            owner, name, original = self._originals.pop()
            setattr(owner, name, original)
