"""The AWS clients a run uses, created lazily so a phase only pays for what it touches.

They are botocore clients, made from a botocore session: boto3's own import adds s3transfer
and its resource layer, which no step uses, and cost every cold start about 0.13 s (half of
boto3's import; docs/PERFORMANCE.md). The clients are the same objects boto3 would hand out.
"""

from __future__ import annotations

from functools import cache, cached_property
from typing import Any

from botocore.config import Config
from botocore.session import Session

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


def botocore_session(session: Any = None, region: str | None = None) -> Session:
    """A botocore session: `session` itself, the one under a boto3.Session, or a new one."""
    if session is None:
        session = Session()
        if region:
            session.set_config_variable("region", region)
    # boto3.Session keeps its botocore session in `_session` and has no public accessor.
    return session if isinstance(session, Session) else session._session  # noqa: SLF001


class AwsClients:
    """One client per AWS service, sharing a botocore session and a retry policy.

    `session` may be a botocore or a boto3 session (tests and the CLI hold boto3 ones)."""

    def __init__(self, session: Any = None) -> None:
        self._session = botocore_session(session)

    @property
    def region(self) -> str:
        """The region every client of this session calls."""
        return str(self._session.get_config_variable("region"))

    def credentials(self) -> Any:
        """The session's credentials, to sign requests that no client makes (probes)."""
        return self._session.get_credentials()

    def _client(self, name: str, config: Config = _CONFIG) -> Any:
        return self._session.create_client(name, config=config)

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
        return self._client("apigatewayv2")

    @cached_property
    def rest_apis(self) -> Any:
        return self._client("apigateway")

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
    return AwsClients(botocore_session(region=region))
