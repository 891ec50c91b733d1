"""Verify restore: compare the service with its capture."""

from sunset.context import RestoreStepEvent
from sunset.handler import handler_for
from sunset.phases.verify_restore import verify_restore

lambda_handler = handler_for(RestoreStepEvent, verify_restore)
