"""What every Lambda handler shares: parse the event, build the toolkit, call one phase."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel

from sunset.artifacts import ArtifactStore
from sunset.aws.clients import AwsClients
from sunset.aws.errors import error_code
from sunset.context import RunContext, StepEvent
from sunset.errors import THROTTLING_CODES, AwsThrottled
from sunset.journal import Toolkit
from sunset.notices import Notifier
from sunset.observability import logger, tracer
from sunset.runs import RunsTable
from sunset.settings import StepSettings

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def toolkit_from_env(environ: Mapping[str, str]) -> Toolkit:
    settings = StepSettings.from_env(environ)
    aws = AwsClients()
    return Toolkit(
        aws=aws,
        store=ArtifactStore(aws.s3, settings.artifacts_bucket),
        runs=RunsTable(aws.dynamodb, settings.runs_table),
        notifier=Notifier(aws.sns, settings.topic_arn),
        lock_ttl_seconds=settings.lock_ttl_seconds,
    )


def phase_handler(phase: Callable[[RunContext, Toolkit], BaseModel]) -> Handler:
    """A Lambda handler for a phase that takes {"run": RunContext} and returns a summary."""

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        step = StepEvent.model_validate(event)
        logger.append_keys(run_id=step.run.run_id, service_name=step.run.service)
        with throttling_as_retryable():
            return phase(step.run, toolkit_from_env(os.environ)).model_dump(mode="json")

    return handler


@contextmanager
def throttling_as_retryable() -> Iterator[None]:
    """Report a throttled read as AwsThrottled, the error name the ASL retries with backoff."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in THROTTLING_CODES:
            raise AwsThrottled(str(exc)) from exc
        raise
