"""Sunset: decommission an AI service on AWS safely, prove it is down, bring it back."""

__version__ = "0.1.0"
