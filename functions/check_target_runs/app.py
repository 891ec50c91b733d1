"""Check target runs: how each target's run stands, and how long to wait before asking again."""

from sunset.handler import handler_for
from sunset.phases.targets import TargetsEvent, check_target_runs

lambda_handler = handler_for(TargetsEvent, check_target_runs)
