"""Cancel run: an approval rejected or not given in time; CANCELLED, lock released."""

from sunset.context import FailureEvent
from sunset.handler import handler_for
from sunset.phases.approval import cancel_run

lambda_handler = handler_for(FailureEvent, cancel_run)
