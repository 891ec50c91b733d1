"""Start target runs: one run of the decommission machine per target of a run with several."""

from sunset.handler import handler_for
from sunset.phases.targets import StartTargetsEvent, start_target_runs

lambda_handler = handler_for(StartTargetsEvent, start_target_runs)
