"""Clean up restore tests: delete the restored copies."""

from sunset.handler import phase_handler
from sunset.phases.restore_test import clean_up_restore_tests

lambda_handler = phase_handler(clean_up_restore_tests)
