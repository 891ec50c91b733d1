"""Which AWS failures the state machine retries, and as what (sunset.aws.errors.retry_as)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from sunset.aws.clients import AwsClients
from sunset.aws.errors import retry_as
from sunset.errors import AwsThrottled, AwsTransient


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (_client_error("ThrottlingException", 400), AwsThrottled),
        (_client_error("RequestLimitExceeded", 503), AwsThrottled),
        (_client_error("InternalFailure", 500), AwsTransient),
        (_client_error("ServiceUnavailable", 503), AwsTransient),
        (_client_error("SomethingNew", 502), AwsTransient),
        (ReadTimeoutError(endpoint_url="https://x"), AwsTransient),
        (ConnectTimeoutError(endpoint_url="https://x"), AwsTransient),
        (EndpointConnectionError(endpoint_url="https://x"), AwsTransient),
        # retrying cannot help these: they fail the step at once
        (_client_error("AccessDeniedException", 400), None),
        (_client_error("ValidationException", 400), None),
        (_client_error("ResourceNotFound", 404), None),
        (NoCredentialsError(), None),
        (ValueError("not AWS"), None),
    ],
)
def test_each_failure_is_retried_as_what_it_is(failure: BaseException, expected: object) -> None:
    assert retry_as(failure) is expected


def test_the_sdk_makes_one_attempt_so_a_step_is_retried_in_one_place() -> None:
    client = AwsClients(boto3.Session(region_name="us-east-1")).sagemaker
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    probes = AwsClients(boto3.Session(region_name="us-east-1")).sagemaker_runtime
    assert probes.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
