"""What every Lambda handler shares: parse the event, build the toolkit, call the domain."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError
from pydantic import BaseModel

from sunset.artifacts import ArtifactStore
from sunset.aws.clients import shared_clients
from sunset.aws.errors import NO_ANSWER, retry_as
from sunset.context import RunContext, StepEvent
from sunset.journal import TimeBudget, Toolkit
from sunset.notices import Notifier
from sunset.observability import logger
from sunset.request import Target
from sunset.runs import RunsTable
from sunset.settings import StepSettings

if TYPE_CHECKING:  # 35 ms of imports at every cold start, for a type only
    from aws_lambda_powertools.utilities.typing import LambdaContext

Handler = Callable[[dict[str, Any], "LambdaContext"], dict[str, Any]]
Event = TypeVar("Event", bound=BaseModel)


def toolkit_from_env(
    environ: Mapping[str, str], time_left: Callable[[], float] | None = None
) -> Toolkit:
    settings = StepSettings.from_env(environ)
    aws = shared_clients(environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"))
    return Toolkit(
        aws=aws,
        store=ArtifactStore(aws.s3, settings.artifacts_bucket),
        runs=RunsTable(aws.dynamodb, settings.runs_table),
        notifier=Notifier(aws.sns, settings.topic_arn),
        lock_ttl_seconds=settings.lock_ttl_seconds,
        execute_api_endpoint=settings.execute_api_endpoint,
        budget=TimeBudget(time_left) if time_left else TimeBudget(),
    )


def target_of(event: BaseModel) -> Target | None:
    """The account and Region where the run's service lives, if not Sunset's own: every step
    of the run then calls the service's resources there (Toolkit.in_target)."""
    request = getattr(getattr(event, "run", None), "request", None)
    target = getattr(request, "target", None)
    return target if isinstance(target, Target) else None


@contextmanager
def aws_failures_as_retryable() -> Iterator[None]:
    """Report a throttled call as AwsThrottled and a passing failure as AwsTransient: the error
    names the ASL retries with backoff and jitter. The SDK itself makes one attempt per call
    (sunset.aws.clients), so a step is retried in one place only."""
    try:
        yield
    except (ClientError, *NO_ANSWER) as exc:
        retryable = retry_as(exc)
        if retryable is not None:
            raise retryable(str(exc)) from exc
        raise


def handler_for(event_model: type[Event], call: Callable[[Event, Toolkit], BaseModel]) -> Handler:
    """A Lambda handler: parse the event into `event_model`, call `call`, return its dump."""

    # log_event=False pins event logging off, whatever POWERTOOLS_LOGGER_LOG_EVENT says: events
    # carry approval task tokens, which answer for a person (tests/integration/
    # test_no_secrets_logged.py). The one line logged per step says how it ended.
    @logger.inject_lambda_context(clear_state=True, log_event=False)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        parsed = event_model.model_validate(event)
        run_id = getattr(parsed, "run_id", None) or getattr(
            getattr(parsed, "run", None), "run_id", None
        )
        logger.append_keys(run_id=run_id)
        with aws_failures_as_retryable():
            kit = toolkit_from_env(
                os.environ, lambda: context.get_remaining_time_in_millis() / 1000
            )
            target = target_of(parsed)
            if target is not None and run_id is not None:
                restore_id = getattr(getattr(parsed, "restore", None), "restore_id", None)
                kit = kit.in_target(target, restore_id or run_id)
            result = call(parsed, kit).model_dump(mode="json")
        logger.info("step done", extra={"outcome": result.get("summary") or result.get("status")})
        return result

    return handler


def phase_handler(phase: Callable[[RunContext, Toolkit], BaseModel]) -> Handler:
    """A handler for a phase that takes {"run": RunContext} and returns a summary."""
    return handler_for(StepEvent, lambda step, kit: phase(step.run, kit))
