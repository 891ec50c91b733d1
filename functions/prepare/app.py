"""Prepare: validate the request and lock the service."""

from sunset.context import PrepareEvent
from sunset.handler import handler_for
from sunset.phases.prepare import prepare

lambda_handler = handler_for(
    PrepareEvent,
    lambda event, kit: prepare(
        event.input, event.run_id, event.started_at, event.execution_arn, kit
    ),
)
