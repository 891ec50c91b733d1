"""Announce: tell stakeholders what is about to happen, before anything changes."""

from __future__ import annotations

from sunset import notices
from sunset.context import RunContext
from sunset.journal import Toolkit, running_phase
from sunset.phases.results import PhaseResult


def announce(run: RunContext, kit: Toolkit) -> PhaseResult:
    """Publish the ANNOUNCED notice: what, when, why, how long, how it comes back, whom to call."""
    with running_phase(kit, run, "Announce") as (manifest, journal):
        message_id = journal.notify(
            kit.notifier, notices.announced(run, manifest.require_inventory())
        )
    return PhaseResult(phase="Announce", summary=f"ANNOUNCED sent as message {message_id}")
