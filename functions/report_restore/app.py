"""Report restore: RESTORED or ROLLED_BACK, lock released, report rewritten."""

from sunset.context import RestoreStepEvent
from sunset.handler import handler_for
from sunset.phases.restore_report import finish_restore

lambda_handler = handler_for(RestoreStepEvent, finish_restore)
