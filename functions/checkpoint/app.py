"""Checkpoint: the gate before anything is removed."""

from sunset.handler import phase_handler
from sunset.phases.verify import pass_checkpoint

lambda_handler = phase_handler(pass_checkpoint)
