"""SageMaker InvokeEndpoint that answers only for endpoints that exist and are in service.

moto's sagemaker-runtime answers static data for any endpoint name, even one that was never
created or has just been deleted, so a check that an endpoint no longer serves would pass for
the wrong reason and one that it serves again would pass too early. While the sandbox runs,
InvokeEndpoint looks the endpoint up in moto's SageMaker backend (same account and region):

- missing: ValidationError "Endpoint {name} of account {account} not found.", as AWS says;
- not InService (Creating, Updating, Failed, ...): ValidationError, not in service;
- InService: moto's own answer.

moto (5.2.5) also hands its backend None for the endpoint name: the name is in the request path
(/endpoints/{name}/invocations), and moto's handler reads it from the query string and body
only. The sandbox gives it the name from the path, without which nothing could be looked up.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

_INHERITED = object()


class InvokeEndpointFromTable:
    def __init__(self) -> None:
        self._originals: list[tuple[type, str, Any]] = []

    def install(self) -> None:
        from moto.core.exceptions import JsonRESTError
        from moto.sagemaker.models import sagemaker_backends
        from moto.sagemakerruntime.models import SageMakerRuntimeBackend
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

        # sagemaker-runtime speaks rest-json: botocore takes the error code from the
        # X-Amzn-ErrorType header / "__type", which JsonRESTError sets to `error_type`, and the
        # HTTP status from `code`. AWS answers these with 400.
        class ValidationError(JsonRESTError):
            code = 400

            def __init__(self, message: str) -> None:
                super().__init__("ValidationError", message)

        invoke = SageMakerRuntimeBackend.invoke_endpoint

        def invoke_endpoint(backend: Any, endpoint_name: str, *args: Any, **kwargs: Any) -> Any:
            account = backend.account_id
            endpoints = sagemaker_backends[account][backend.region_name].endpoints
            endpoint = endpoints.get(endpoint_name)
            if endpoint is None:
                raise ValidationError(f"Endpoint {endpoint_name} of account {account} not found.")
            if endpoint.endpoint_status != "InService":
                raise ValidationError(
                    f"Endpoint {endpoint_name} of account {account} is not in service "
                    f"(status: {endpoint.endpoint_status})."
                )
            return invoke(backend, endpoint_name, *args, **kwargs)

        get_params = SageMakerRuntimeResponse._get_params

        def with_endpoint_name(response: Any) -> dict[str, Any]:
            params = get_params(response)
            if params.get("EndpointName") is None:
                name = (getattr(response, "uri_match", None) or {}).get("EndpointName")
                parts = response.path.split("/")
                if name is None and len(parts) > 3 and parts[1] == "endpoints":
                    name = unquote(parts[2])
                if name is not None:
                    params["EndpointName"] = name
            return params

        self._patch(SageMakerRuntimeResponse, "_get_params", with_endpoint_name)
        self._patch(SageMakerRuntimeBackend, "invoke_endpoint", invoke_endpoint)

    def _patch(self, owner: type, name: str, replacement: Any) -> None:
        # _get_params is inherited from BaseResponse: uninstall must remove ours, not set a copy.
        self._originals.append((owner, name, owner.__dict__.get(name, _INHERITED)))
        setattr(owner, name, replacement)

    def uninstall(self) -> None:
        while self._originals:
            owner, name, original = self._originals.pop()
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
