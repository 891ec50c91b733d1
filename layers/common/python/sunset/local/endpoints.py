"""SageMaker endpoints that take their time to come up or go away, as on AWS, or fail to.

moto creates an endpoint already InService and deletes one at once, which would leave the
waiting loops of a restore and of Validate shutdown, their deadlines and their failure paths
untested. Through `Sandbox.endpoints` a test chooses how many reads a new endpoint stays
Creating for (or a deleted one Deleting), and which endpoints end Failed. A read is a
DescribeEndpoint of it, or a ListEndpoints or Search that lists every endpoint:

    sb.endpoints.hold(polls=3)          # every endpoint created from now on: Creating, 3 reads
    sb.endpoints.fail("chat-llm")       # this endpoint ends Failed (after the hold)
    sb.endpoints.hold_deletion(polls=2) # every endpoint deleted from now on: Deleting, 2 reads
    sb.endpoints.freeze_search()        # Search's index stops: it answers as it does next

SageMaker Search reads an index that can lag a change; moto's never does. A frozen Search is
the worst case of that lag, for tests that must show Sunset acts on what is, not on the index.

Two more gaps of moto's Search are filled here, so that call counts match AWS's:
- it answers every match in one response, where SageMaker pages at MaxResults (10 unless
  said, 100 at most): Search pages here, so a test's own Search without MaxResults gets 10;
- it knows no Resource "Model" (ValidationException): here it answers each model as SageMaker
  does, newest first, its description and tags in a ModelDashboardModel.
"""

from __future__ import annotations

import copy
from typing import Any


class EndpointControl:
    def __init__(self) -> None:
        self.polls = 0
        self.deletion_polls = 0
        self._deleting: dict[str, int] = {}
        self._failing: set[str] = set()
        self._creating: dict[str, int] = {}
        self._originals: list[tuple[type, str, Any]] = []
        self._freeze = False
        self._frozen: Any = None

    def hold(self, polls: int) -> None:
        """Every endpoint created from now on stays Creating for `polls` describe reads."""
        self.polls = polls

    def hold_deletion(self, polls: int) -> None:
        """Every endpoint deleted from now on stays Deleting for `polls` describe reads."""
        self.deletion_polls = polls

    def fail(self, endpoint_name: str) -> None:
        """This endpoint, when created, ends Failed instead of InService."""
        self._failing.add(endpoint_name)

    def freeze_search(self) -> None:
        """Search (Resource=Endpoint) answers every call from now on as it answers the next."""
        self._freeze = True
        self._frozen = None

    def install(self) -> None:
        from moto.core.responses import ActionResult
        from moto.sagemaker.models import SageMakerModelBackend
        from moto.sagemaker.responses import SageMakerResponse

        control = self
        create = SageMakerModelBackend.create_endpoint
        describe = SageMakerModelBackend.describe_endpoint
        delete = SageMakerModelBackend.delete_endpoint
        listing = SageMakerModelBackend.list_endpoints
        searching = SageMakerModelBackend.search

        def delete_endpoint(backend: Any, endpoint_name: str) -> Any:
            endpoint = backend.endpoints.get(endpoint_name)
            if endpoint is None or control.deletion_polls <= 0:
                return delete(backend, endpoint_name)
            endpoint.endpoint_status = "Deleting"
            control._deleting[endpoint_name] = control.deletion_polls
            return None

        def create_endpoint(backend: Any, endpoint_name: str, *args: Any, **kwargs: Any) -> Any:
            endpoint = create(backend, endpoint_name, *args, **kwargs)
            if control.polls > 0 or endpoint_name in control._failing:
                endpoint.endpoint_status = "Creating"
                control._creating[endpoint_name] = control.polls
            return endpoint

        def advance(backend: Any, endpoint_name: str) -> None:
            """One read of the endpoint: a held creation or deletion moves one step on."""
            if endpoint_name in control._deleting:
                left = control._deleting[endpoint_name] - 1
                control._deleting[endpoint_name] = left
                if left < 0:
                    # The deletion is over: the next read finds no endpoint, as on AWS.
                    del control._deleting[endpoint_name]
                    delete(backend, endpoint_name)
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

        def describe_endpoint(backend: Any, endpoint_name: str) -> Any:
            advance(backend, endpoint_name)
            return describe(backend, endpoint_name)

        def list_endpoints(backend: Any, *args: Any, **kwargs: Any) -> Any:
            for endpoint_name in [*control._deleting, *control._creating]:
                advance(backend, endpoint_name)
            return listing(backend, *args, **kwargs)

        def search(backend: Any, resource: Any = None, *args: Any, **kwargs: Any) -> Any:
            if resource == "Model" and not kwargs.get("search_expression"):
                return {"Results": models_found(backend)}
            if resource != "Endpoint":
                return searching(backend, resource, *args, **kwargs)
            if control._frozen is not None:
                return copy.deepcopy(control._frozen)
            for endpoint_name in [*control._deleting, *control._creating]:
                advance(backend, endpoint_name)
            found = searching(backend, resource, *args, **kwargs)
            if control._freeze:
                control._frozen = copy.deepcopy(found)
            return found

        def paged_search(response: Any) -> Any:
            """Search a page at a time, MaxResults (10 unless said, 100 at most) a page."""
            found = response.sagemaker_backend.search(
                resource=response._get_param("Resource"),
                search_expression=response._get_param("SearchExpression"),
            )
            start = int(response._get_param("NextToken") or 0)
            end = start + min(int(response._get_param("MaxResults") or 10), 100)
            results = found["Results"]
            if response._get_param("Resource") == "Model":
                if response._get_param("SortOrder") == "Ascending":
                    results = results[::-1]  # models_found answers newest first
            page = {"Results": results[start:end]}
            if end < len(results):
                page["NextToken"] = str(end)
            return ActionResult(page)

        for owner, name, replacement in (
            (SageMakerModelBackend, "create_endpoint", create_endpoint),
            (SageMakerModelBackend, "describe_endpoint", describe_endpoint),
            (SageMakerModelBackend, "delete_endpoint", delete_endpoint),
            (SageMakerModelBackend, "list_endpoints", list_endpoints),
            (SageMakerModelBackend, "search", search),
            (SageMakerResponse, "search", paged_search),
        ):
            self._originals.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, replacement)

    def uninstall(self) -> None:
        while self._originals:
            owner, name, original = self._originals.pop()
            setattr(owner, name, original)


def models_found(backend: Any) -> list[dict[str, Any]]:
    """Search (Resource=Model) as SageMaker answers it, newest first: each model's description
    and tags in a ModelDashboardModel. moto's Search knows no Model resource."""
    newest_first = sorted(backend._models.values(), key=lambda m: m.creation_time, reverse=True)
    return [
        {"Model": {"Model": {**copy.deepcopy(model.response_object), "Tags": list(model.tags)}}}
        for model in newest_first
    ]
