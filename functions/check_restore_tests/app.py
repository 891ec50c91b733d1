"""Check restore tests: one poll of the restored copies."""

from sunset.handler import phase_handler
from sunset.phases.restore_test import check_restore_tests

lambda_handler = phase_handler(check_restore_tests)
