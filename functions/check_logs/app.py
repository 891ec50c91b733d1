"""Check logs: error lines in the service's log groups during the run."""

from sunset.handler import phase_handler
from sunset.phases.check_logs import check_logs

lambda_handler = phase_handler(check_logs)
