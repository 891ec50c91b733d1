"""Reading AWS errors the same way everywhere."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", exc))


def request_id(response: Any) -> str | None:
    """The AWS request id of a response (or of a ClientError's response)."""
    if isinstance(response, ClientError):
        response = response.response
    metadata = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
    return metadata.get("RequestId")


def without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    """A describe output as it should be recorded: the response minus transport details."""
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}
