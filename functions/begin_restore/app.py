"""Begin restore: validate the recommission input, read the manifest, lock the service."""

from sunset.context import BeginRestoreEvent
from sunset.handler import handler_for
from sunset.phases.restore import begin_recommission

lambda_handler = handler_for(BeginRestoreEvent, begin_recommission)
