"""Report incident: record the failure, send INCIDENT, release the lock."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sunset.context import FailureEvent
from sunset.handler import toolkit_from_env
from sunset.observability import logger, metrics, tracer
from sunset.phases.finish import report_incident


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failure = FailureEvent.model_validate(event)
    return report_incident(failure, toolkit_from_env(os.environ)).model_dump(mode="json")
