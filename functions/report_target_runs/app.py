"""Report target runs: record what became of every target's run (targets.json, runs table)."""

from sunset.handler import handler_for
from sunset.phases.targets import TargetsEvent, report_target_runs

lambda_handler = handler_for(TargetsEvent, report_target_runs)
