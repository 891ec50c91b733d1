"""The boto3 clients a run uses, created lazily so a phase only pays for what it touches."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

import boto3
import botocore.session
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
    """One boto3 client per AWS service, sharing a session and a retry policy.

    The session is opened at the first client asked for: a target's clients (`assume`) assume
    the role then, so a step that never calls the target never assumes it."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        region: str | None = None,
        open_session: Callable[[], tuple[boto3.Session, float]] | None = None,
    ) -> None:
        self._given = session
        self._region = region
        # Opens the session, returning it with when its credentials expire (an assumed role).
        self._open_session = open_session
        self.expires_at: float | None = None
        # API Gateway's management quotas are per account and Region, like this session.
        self._api_gateway_pacer = api_gateway_pacer()
        # The clients of the roles this session assumes, by (role, Region, session name).
        self._assumed: dict[tuple[str, str, str], AwsClients] = {}

    @cached_property
    def _session(self) -> boto3.Session:
        if self._open_session is None:
            return self._given or boto3.Session()
        session, self.expires_at = self._open_session()
        return session

    def assume(self, role_arn: str, region: str, session_name: str) -> AwsClients:
        """The clients of `role_arn` in `region`: a target's account, called with the role's
        credentials. Kept for the life of the process while the credentials have more than
        ASSUMED_MARGIN_SECONDS left (a step runs at most 15 minutes), assumed again after.

        `session_name` shows in the target account's CloudTrail as who made each call."""
        key = (role_arn, region, session_name)
        cached = self._assumed.get(key)
        if cached is not None and (
            cached.expires_at is None or cached.expires_at - time.time() > ASSUMED_MARGIN_SECONDS
        ):
            return cached
        clients = AwsClients(
            region=region,
            open_session=lambda: self._assumed_session(role_arn, region, session_name),
        )
        self._assumed[key] = clients
        return clients

    def _assumed_session(
        self, role_arn: str, region: str, session_name: str
    ) -> tuple[boto3.Session, float]:
        credentials = self.sts.assume_role(
            RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=ASSUMED_SECONDS
        )["Credentials"]
        # A botocore session of its own (credentials are per session), sharing this one's
        # loader: the service models are read and parsed once per process, not once per role.
        core = botocore.session.get_session()
        core.register_component("data_loader", self._session._session.get_component("data_loader"))
        session = session_as(credentials, region, core)
        return session, credentials["Expiration"].timestamp()

    @property
    def region(self) -> str:
        """The region every client of this session calls."""
        return self._region or str(self._session.region_name)

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

    @cached_property
    def sts(self) -> Any:
        # AssumeRole, for the targets' clients (assume).
        return self._client("sts")


def session_as(
    credentials: dict[str, Any], region: str, core: botocore.session.Session
) -> boto3.Session:
    """A session on `core` that signs with an AssumeRole answer's `credentials`."""
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
        botocore_session=core,
    )


# An assumed role's credentials last an hour (the default maximum a role allows); they are
# assumed again when less than 20 minutes are left, more than the longest step (15 minutes).
ASSUMED_SECONDS = 3_600
ASSUMED_MARGIN_SECONDS = 1_200


# One AwsClients per Region for the life of the process (the Lambda execution environment).
_SHARED: dict[str | None, AwsClients] = {}


def shared_clients(region: str | None) -> AwsClients:
    """The process's clients for `region`: building a session and its clients loads and parses
    botocore's service models, which cost more than most of Sunset's steps if paid again on
    every invocation."""
    clients = _SHARED.get(region)
    if clients is None:
        clients = _SHARED[region] = AwsClients(boto3.Session(region_name=region))
    return clients


def forget_assumed_roles() -> None:
    """Drop every role's clients the shared ones assumed. For the sandbox, whose moto forgets
    its credentials between runs: moto would run a call made with forgotten credentials in its
    default account, Sunset's own, instead of the target's."""
    for clients in _SHARED.values():
        clients._assumed.clear()
