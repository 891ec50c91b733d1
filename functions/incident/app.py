"""Report incident: record the failure, send INCIDENT, release the lock."""

from sunset.context import FailureEvent
from sunset.handler import handler_for
from sunset.observability import metrics
from sunset.phases.finish import report_incident

lambda_handler = metrics.log_metrics(handler_for(FailureEvent, report_incident))
