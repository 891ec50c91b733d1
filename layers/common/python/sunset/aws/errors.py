"""Reading AWS errors the same way everywhere."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from sunset.errors import THROTTLING_CODES, TRANSIENT_CODES, AwsThrottled, AwsTransient, SunsetError

# A call that got no answer: no connection, or none in time (botocore's read and connect
# timeouts, a closed connection). Whether a change happened is then unknown.
NO_ANSWER = (ConnectionError, HTTPClientError)


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


def retry_as(exc: BaseException) -> type[SunsetError] | None:
    """The error the state machine retries an AWS failure as: AwsThrottled for a throttled
    call, AwsTransient for a failure on AWS's side or no answer; None when retrying cannot help
    (access denied, a validation error, a missing resource)."""
    if isinstance(exc, NO_ANSWER):
        return AwsTransient
    if not isinstance(exc, ClientError):
        return None
    code = error_code(exc)
    if code in THROTTLING_CODES:
        return AwsThrottled
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
        return AwsTransient
    return None
