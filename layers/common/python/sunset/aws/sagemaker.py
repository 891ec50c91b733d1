"""SageMaker: endpoints, their configs and models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code, error_message, retry_as, without_metadata
from sunset.aws.shapes import create_input
from sunset.observability import logger
from sunset.tags import as_tag_list, tag_dict


def list_endpoints(sagemaker: Any) -> Iterator[dict[str, Any]]:
    """Every endpoint summary (name, arn, status) in the region."""
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        yield from page["Endpoints"]


def model_names(variants: list[dict[str, Any]]) -> list[str]:
    """The models an endpoint config's production variants serve, each once, sorted."""
    return sorted({v["ModelName"] for v in variants if v.get("ModelName")})


def instant(value: Any) -> datetime | None:
    """A timestamp of a SageMaker answer as a datetime, whether botocore parsed it or a
    manifest's JSON carried it as text; None when there is none."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if isinstance(moment, datetime) else None


def endpoint_summaries(sagemaker: Any) -> dict[str, dict[str, Any]]:
    """Every endpoint in the region by name (ListEndpoints: name, arn, status, creation and
    last-modified times), 100 a page. Authoritative, unlike Search: what proves an endpoint
    gone, and what stop compares with the capture before it deletes anything."""
    return {summary["EndpointName"]: summary for summary in list_endpoints(sagemaker)}


def search_endpoints(sagemaker: Any) -> dict[str, dict[str, Any]]:
    """Every endpoint in the region by name, as Search returns it: its description (config
    name, variants, status, last-modified time) and its tags, 100 endpoints a call where
    DescribeEndpoint and ListTags take two calls each.

    Search reads an index that can lag a change. Nothing destructive trusts it: Stop reads
    what exists with ListEndpoints and each endpoint's protect tag with ListTags, and deletes
    an endpoint only when ListEndpoints shows it unmodified since the capture (reading it again
    with DescribeEndpoint otherwise)."""
    found: dict[str, dict[str, Any]] = {}
    pages = sagemaker.get_paginator("search").paginate(
        Resource="Endpoint", PaginationConfig={"PageSize": 100}
    )
    for page in pages:
        for result in page.get("Results", []):
            endpoint = result.get("Endpoint")
            if endpoint:
                found[endpoint["EndpointName"]] = endpoint
    return found


def search_models(sagemaker: Any, names: set[str]) -> dict[str, dict[str, Any]]:
    """The models among `names` that Search finds, by name, each as DescribeModel answers
    (ModelArn, containers, role, VPC, creation time), 100 models a call.

    Search pages through every model of the region, newest first, and an account may hold
    many more models than the service: it stops once it has them all, or after a page for
    every ten names (one call more per ten names than describing each, at worst). What it
    does not answer is the caller's to describe with DescribeModel:
    - a model it did not find: its index lagging, or the page bound reached;
    - a record without what DescribeModel always answers (arn, creation time, a container);
    - everything, when Search itself is refused (denied, or a parameter it does not take):
      it only saves calls, so it never stops a backup that DescribeModel can make.
    A model deleted since the index saw it would be returned all the same; Verify backups
    lists the models before anything is removed. Three names or fewer are left to
    DescribeModel too: a page would cost as much."""
    if len(names) <= _DESCRIBE_AT_MOST:
        return {}
    found: dict[str, dict[str, Any]] = {}
    pages = sagemaker.get_paginator("search").paginate(
        Resource="Model",
        SortBy="CreationTime",
        SortOrder="Descending",
        PaginationConfig={"PageSize": 100, "MaxItems": 100 * -(-len(names) // 10)},
    )
    try:
        for page in pages:
            for result in page.get("Results", []):
                model = (result.get("Model") or {}).get("Model") or {}
                if model.get("ModelName") in names and _complete_model(model):
                    found[model["ModelName"]] = {k: v for k, v in model.items() if k != "Tags"}
            if len(found) == len(names):
                break
    except ClientError as exc:
        if retry_as(exc) is not None:
            raise  # throttled or AWS-side: the step is retried
        logger.warning(
            "Search (Resource=Model) refused: the models are described one by one",
            extra={"error_code": error_code(exc), "error_message": error_message(exc)},
        )
    return found


def _complete_model(model: dict[str, Any]) -> bool:
    """Whether a Search record holds what DescribeModel always answers."""
    has_container = bool(model.get("PrimaryContainer") or model.get("Containers"))
    return bool(model.get("ModelArn") and model.get("CreationTime") and has_container)


def described_with_tags(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """One endpoint as Search would return it (its description and its tags), read directly
    with DescribeEndpoint and ListTags; None when it does not exist. For an endpoint Search
    does not return yet."""
    description = describe_endpoint(sagemaker, name)
    tags = description and tags_of_existing(sagemaker, description["EndpointArn"])
    if description is None or tags is None:
        return None
    return description | {"Tags": as_tag_list(tags)}


def creation_times(sagemaker: Any, kind: str, names: set[str]) -> dict[str, Any]:
    """{name: CreationTime} of the endpoint configs (`kind` "EndpointConfig") or models
    ("Model") among `names` that exist. Both are immutable, so one that exists with its
    captured creation time is unchanged. A few are described one by one; more are listed,
    100 a page, which costs less than a call each once the account's share is large."""
    if len(names) <= _DESCRIBE_AT_MOST:
        find = find_endpoint_config if kind == "EndpointConfig" else find_model
        described = {name: find(sagemaker, name) for name in names}
        return {name: d["CreationTime"] for name, d in described.items() if d is not None}
    operation, key, name_key = _LISTS[kind]
    pages = sagemaker.get_paginator(operation).paginate(PaginationConfig={"PageSize": 100})
    return {
        item[name_key]: item["CreationTime"]
        for page in pages
        for item in page[key]
        if item[name_key] in names
    }


# Below this many names, describing each costs no more than listing a typical account's share.
_DESCRIBE_AT_MOST = 3
_LISTS = {
    "EndpointConfig": ("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName"),
    "Model": ("list_models", "Models", "ModelName"),
}


def tags_of(sagemaker: Any, arn: str) -> dict[str, str]:
    tags: list[dict[str, str]] = []
    token: str | None = None
    while True:
        page = sagemaker.list_tags(ResourceArn=arn, **({"NextToken": token} if token else {}))
        tags.extend(page.get("Tags", []))
        token = page.get("NextToken")
        if not token:
            return tag_dict(tags)


def _is_missing(exc: ClientError) -> bool:
    # SageMaker answers a missing endpoint with ValidationException "Could not find endpoint".
    return error_code(exc) in {"ValidationException", "ResourceNotFound"} and (
        "could not find" in error_message(exc).lower()
    )


def probe_endpoint(runtime: Any, name: str) -> tuple[bool, str]:
    """Invoke the endpoint with an empty JSON body, as a client would: (whether SageMaker says
    there is no such endpoint, what came back). Anything else, a model error included, is an
    answer from something still there."""
    try:
        response = runtime.invoke_endpoint(
            EndpointName=name, ContentType="application/json", Body=b"{}"
        )
    except ClientError as exc:
        message = error_message(exc)
        # InvokeEndpoint says "Endpoint <name> of account <id> not found." (ValidationError).
        gone = error_code(exc) == "ValidationError" and "not found" in message.lower()
        return gone, f"{error_code(exc)}: {message}"
    body = response["Body"].read(200).decode("utf-8", errors="replace")
    return False, f"answered: {body}"


def tags_of_existing(sagemaker: Any, arn: str) -> dict[str, str] | None:
    """The resource's tags, or None when it was deleted meanwhile."""
    try:
        return tags_of(sagemaker, arn)
    except ClientError as exc:
        if _is_missing(exc) or error_code(exc) == "ValidationException":
            return None
        raise


def describe_endpoint(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """The endpoint's description, or None when it does not exist."""
    try:
        return without_metadata(sagemaker.describe_endpoint(EndpointName=name))
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise


def describe_endpoint_config(sagemaker: Any, name: str) -> dict[str, Any]:
    return without_metadata(sagemaker.describe_endpoint_config(EndpointConfigName=name))


def describe_model(sagemaker: Any, name: str) -> dict[str, Any]:
    return without_metadata(sagemaker.describe_model(ModelName=name))


def delete_endpoint(sagemaker: Any, name: str) -> dict[str, Any]:
    """Delete the endpoint only; its endpoint config and models stay for a restore."""
    return dict(sagemaker.delete_endpoint(EndpointName=name))


def find_endpoint_config(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """The endpoint config, or None when it no longer exists."""
    try:
        return describe_endpoint_config(sagemaker, name)
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise


def find_model(sagemaker: Any, name: str) -> dict[str, Any] | None:
    try:
        return describe_model(sagemaker, name)
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise


def create_model(sagemaker: Any, captured: dict[str, Any], tags: list[dict[str, str]]) -> dict:
    """Re-create a model from its captured DescribeModel output."""
    params = create_input(sagemaker, "CreateModel", captured)
    return dict(sagemaker.create_model(**params, Tags=tags))


def create_endpoint_config(
    sagemaker: Any, captured: dict[str, Any], tags: list[dict[str, str]]
) -> dict[str, Any]:
    """Re-create an endpoint config from its captured DescribeEndpointConfig output."""
    params = create_input(sagemaker, "CreateEndpointConfig", captured)
    return dict(sagemaker.create_endpoint_config(**params, Tags=tags))


def create_endpoint(
    sagemaker: Any, name: str, config_name: str, tags: list[dict[str, str]]
) -> dict[str, Any]:
    return dict(
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config_name, Tags=tags)
    )
