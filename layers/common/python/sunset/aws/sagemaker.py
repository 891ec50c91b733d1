"""SageMaker: endpoints, their configs and models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code, error_message, without_metadata
from sunset.aws.shapes import create_input
from sunset.tags import tag_dict


def list_endpoints(sagemaker: Any) -> Iterator[dict[str, Any]]:
    """Every endpoint summary (name, arn, status) in the region."""
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        yield from page["Endpoints"]


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
