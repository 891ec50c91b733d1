"""Announce: send the ANNOUNCED notice."""

from sunset.handler import phase_handler
from sunset.phases.announce import announce

lambda_handler = phase_handler(announce)
