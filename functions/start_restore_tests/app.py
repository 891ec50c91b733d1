"""Start restore tests: a throw-away copy of every snapshot."""

from sunset.handler import phase_handler
from sunset.phases.restore_test import start_restore_tests

lambda_handler = phase_handler(start_restore_tests)
