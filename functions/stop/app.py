"""Stop endpoints: delete SageMaker endpoints, optionally stop databases."""

from sunset.handler import phase_handler
from sunset.phases.stop import stop_compute

lambda_handler = phase_handler(stop_compute)
