"""Discover resources: find everything that belongs to the service."""

from sunset.handler import phase_handler
from sunset.phases.discover import discover

lambda_handler = phase_handler(discover)
