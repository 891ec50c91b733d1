"""The runbook's phases, one module each; every phase is one function the handlers call."""
