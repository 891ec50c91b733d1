"""Prepare: validate the request and lock the service."""

import os
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from sunset.handler import toolkit_from_env
from sunset.observability import logger, tracer
from sunset.phases.prepare import prepare


class PrepareEvent(BaseModel):
    run_id: str
    started_at: datetime
    input: Any = None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = PrepareEvent.model_validate(event)
    run = prepare(step.input, step.run_id, step.started_at, toolkit_from_env(os.environ))
    return run.model_dump(mode="json")
