"""Report: write the artifacts, send COMPLETED, release the lock."""

from sunset.handler import phase_handler
from sunset.observability import metrics
from sunset.phases.finish import complete

lambda_handler = metrics.log_metrics(phase_handler(complete))
