"""The boto3 clients a run uses, created lazily so a phase only pays for what it touches."""

from __future__ import annotations

from functools import cache, cached_property
from typing import Any

import boto3
from botocore.config import Config

from sunset.aws.pacing import api_gateway_pacer

# One attempt per call: the state machine retries the whole step, with backoff and jitter, on
# AwsThrottled and AwsTransient (sunset.handler), and every step reads the state again before it
# changes anything. An SDK retry under it would multiply the attempts (3 x 5) and hide them from
# the execution history. botocore reads `max_attempts` as the number of RETRIES (1 gives two
# attempts); `total_max_attempts` counts the first one too.
_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, user_agent_extra="sunset")
# Validate shutdown invokes endpoints that should be gone: one attempt each, and no longer than
# SageMaker's own 60 s limit on a model's answer, so a live one cannot hold the phase past its
# function's timeout.
_PROBE_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=5,
    read_timeout=65,
    user_agent_extra="sunset",
)


class AwsClients:
    """One boto3 client per AWS service, sharing a session and a retry policy."""

    def __init__(self, session: boto3.Session | None = None) -> None:
        self._session = session or boto3.Session()
        # API Gateway's management quotas are per account and Region, like this session.
        self._api_gateway_pacer = api_gateway_pacer()

    @property
    def region(self) -> str:
        """The region every client of this session calls."""
        return str(self._session.region_name)

    def credentials(self) -> Any:
        """The session's credentials, to sign requests that no boto3 client makes (probes)."""
        return self._session.get_credentials()

    def _client(self, name: str, config: Config = _CONFIG) -> Any:
        return self._session.client(name, config=config)

    @cached_property
    def sagemaker(self) -> Any:
        return self._client("sagemaker")

    @cached_property
    def sagemaker_runtime(self) -> Any:
        return self._client("sagemaker-runtime", _PROBE_CONFIG)

    @cached_property
    def autoscaling(self) -> Any:
        return self._client("application-autoscaling")

    @cached_property
    def http_apis(self) -> Any:
        client = self._client("apigatewayv2")
        self._api_gateway_pacer.attach(client)
        return client

    @cached_property
    def rest_apis(self) -> Any:
        client = self._client("apigateway")
        self._api_gateway_pacer.attach(client)
        return client

    @cached_property
    def ec2(self) -> Any:
        return self._client("ec2")

    @cached_property
    def rds(self) -> Any:
        return self._client("rds")

    @cached_property
    def logs(self) -> Any:
        return self._client("logs")

    @cached_property
    def tagging(self) -> Any:
        return self._client("resourcegroupstaggingapi")

    @cached_property
    def cloudwatch(self) -> Any:
        return self._client("cloudwatch")

    @cached_property
    def sns(self) -> Any:
        return self._client("sns")

    @cached_property
    def s3(self) -> Any:
        return self._client("s3")

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @cached_property
    def stepfunctions(self) -> Any:
        return self._client("stepfunctions")


@cache
def shared_clients(region: str | None) -> AwsClients:
    """One AwsClients per region for the life of the process (the Lambda execution
    environment): building a session and its clients loads and parses botocore's service
    models, which cost more than most of Sunset's steps if paid again on every invocation."""
    return AwsClients(boto3.Session(region_name=region))
