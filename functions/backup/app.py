"""Back up: snapshots and captured configuration, recorded in the manifest."""

from sunset.handler import phase_handler
from sunset.phases.backup import back_up

lambda_handler = phase_handler(back_up)
