"""Validate shutdown: prove the service is down, with evidence; one poll per invocation."""

from sunset.handler import phase_handler
from sunset.phases.validate import validate_shutdown

lambda_handler = phase_handler(validate_shutdown)
