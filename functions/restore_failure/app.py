"""Report restore failure: INCIDENT with what came back and what did not."""

from sunset.context import RestoreFailureEvent
from sunset.handler import handler_for
from sunset.phases.restore_report import report_restore_failure

lambda_handler = handler_for(RestoreFailureEvent, report_restore_failure)
