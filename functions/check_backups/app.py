"""Check backups: one poll of the snapshots' progress."""

from sunset.handler import phase_handler
from sunset.phases.verify import check_backups

lambda_handler = phase_handler(check_backups)
