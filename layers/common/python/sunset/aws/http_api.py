"""API Gateway v2 (HTTP APIs): APIs, routes, integrations, authorizers, stages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code, without_metadata
from sunset.aws.shapes import create_input


def _items(call: Callable[..., dict[str, Any]], **kwargs: Any) -> Iterator[dict[str, Any]]:
    # apigatewayv2 has no boto3 paginators for most list calls: follow NextToken by hand.
    token: str | None = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        yield from page.get("Items", [])
        token = page.get("NextToken")
        if not token:
            return


def list_apis(http_apis: Any) -> Iterator[dict[str, Any]]:
    """Every API Gateway v2 API (HTTP and WebSocket), tags included."""
    return _items(http_apis.get_apis)


def get_api(http_apis: Any, api_id: str) -> dict[str, Any] | None:
    try:
        return without_metadata(http_apis.get_api(ApiId=api_id))
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return None
        raise


def routes(http_apis: Any, api_id: str) -> list[dict[str, Any]]:
    return list(_items(http_apis.get_routes, ApiId=api_id))


def integrations(http_apis: Any, api_id: str) -> list[dict[str, Any]]:
    return list(_items(http_apis.get_integrations, ApiId=api_id))


def stages(http_apis: Any, api_id: str) -> list[dict[str, Any]]:
    return list(_items(http_apis.get_stages, ApiId=api_id))


def authorizers_of(http_apis: Any, api_id: str, api_routes: list[dict[str, Any]]) -> list[dict]:
    """The authorizers the routes use, read one by one.

    GetAuthorizers would list unused ones too, but moto does not implement it; the ones routes
    reference are exactly what a restore of those routes needs.
    """
    ids = sorted({r["AuthorizerId"] for r in api_routes if r.get("AuthorizerId")})
    return [
        without_metadata(http_apis.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id))
        for authorizer_id in ids
    ]


def delete_route(http_apis: Any, api_id: str, route_id: str) -> dict[str, Any]:
    return dict(http_apis.delete_route(ApiId=api_id, RouteId=route_id))


class DomainMappings:
    """Every custom-domain API mapping in the region, read on first use: GetDomainNames, then
    GetApiMappings per domain. A phase that looks at many APIs reads them once, not once per
    API (the benchmark read every domain name once per API and phase)."""

    def __init__(self, http_apis: Any) -> None:
        self._http_apis = http_apis
        self._by_api: dict[str, list[dict[str, Any]]] | None = None

    def of(self, api_id: str) -> list[dict[str, Any]]:
        """The mappings that point at the API, each with its DomainName added."""
        if self._by_api is None:
            self._by_api = {}
            for domain in _items(self._http_apis.get_domain_names):
                name = domain["DomainName"]
                for mapping in _items(self._http_apis.get_api_mappings, DomainName=name):
                    mapped = {**mapping, "DomainName": name}
                    self._by_api.setdefault(str(mapping.get("ApiId")), []).append(mapped)
        return list(self._by_api.get(api_id, []))


def api_mappings_of(http_apis: Any, api_id: str) -> list[dict[str, Any]]:
    """The custom-domain mappings that point at one API, each with its DomainName added."""
    return DomainMappings(http_apis).of(api_id)


def delete_api_mapping(http_apis: Any, domain: str, mapping_id: str) -> dict[str, Any]:
    return dict(http_apis.delete_api_mapping(DomainName=domain, ApiMappingId=mapping_id))


def delete_stage(http_apis: Any, api_id: str, stage: str) -> dict[str, Any]:
    return dict(http_apis.delete_stage(ApiId=api_id, StageName=stage))


def create_integration(http_apis: Any, api_id: str, captured: dict[str, Any]) -> dict[str, Any]:
    params = create_input(http_apis, "CreateIntegration", captured)
    return dict(http_apis.create_integration(**{**params, "ApiId": api_id}))


def create_authorizer(http_apis: Any, api_id: str, captured: dict[str, Any]) -> dict[str, Any]:
    params = create_input(http_apis, "CreateAuthorizer", captured)
    return dict(http_apis.create_authorizer(**{**params, "ApiId": api_id}))


def create_route(http_apis: Any, api_id: str, route: dict[str, Any]) -> dict[str, Any]:
    """Create a route from its captured form (targets and authorizers already mapped)."""
    params = create_input(http_apis, "CreateRoute", route)
    return dict(http_apis.create_route(**{**params, "ApiId": api_id}))


def create_stage(http_apis: Any, api_id: str, captured: dict[str, Any]) -> dict[str, Any]:
    params = create_input(http_apis, "CreateStage", captured)
    return dict(http_apis.create_stage(**{**params, "ApiId": api_id}))


def deployment_exists(http_apis: Any, api_id: str, deployment_id: str) -> bool:
    try:
        http_apis.get_deployment(ApiId=api_id, DeploymentId=deployment_id)
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return False
        raise
    return True


def create_deployment(http_apis: Any, api_id: str, stage: str, description: str) -> dict:
    return dict(http_apis.create_deployment(ApiId=api_id, StageName=stage, Description=description))


def create_api_mapping(http_apis: Any, api_id: str, captured: dict[str, Any]) -> dict[str, Any]:
    params = create_input(http_apis, "CreateApiMapping", captured)
    return dict(http_apis.create_api_mapping(**{**params, "ApiId": api_id}))


def authorizer_exists(http_apis: Any, api_id: str, authorizer_id: str) -> bool:
    try:
        http_apis.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return False
        raise
    return True
