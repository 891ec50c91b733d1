"""Restart compute: re-create endpoints, start databases; one poll of the wait loop."""

from sunset.context import RestoreStepEvent
from sunset.handler import handler_for
from sunset.phases.restore import restart_compute

lambda_handler = handler_for(RestoreStepEvent, restart_compute)
