"""Verify backups: compare every backup with its source, record each comparison."""

from sunset.handler import phase_handler
from sunset.phases.verify import verify_backups

lambda_handler = phase_handler(verify_backups)
