"""Begin rollback: record why the run failed and open its rollback."""

from sunset.context import FailureEvent
from sunset.handler import handler_for
from sunset.phases.restore import begin_rollback

lambda_handler = handler_for(FailureEvent, begin_rollback)
