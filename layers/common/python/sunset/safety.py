"""The rule everything destructive stands on, written once.

No resource is removed or stopped unless its backup (a snapshot, or its captured configuration)
is recorded in the run's manifest AND verified: the snapshot is complete and matches its source,
the capture is complete and matches what is live. The checkpoint state before "Remove API
routes" applies the rule to the whole inventory (`gate`), and every destructive phase applies it
again to each resource (`require_recoverable`) immediately before changing it.

A dry run applies the same rule to its plan: a configuration is captured and verified for real
(both only read), and a snapshot must be planned before the change it protects.
"""

from __future__ import annotations

from sunset.errors import SunsetError
from sunset.manifest import CAPTURED, SNAPSHOT_ACTION, Manifest, ResourceKind


class NotRecoverable(SunsetError):
    """A destructive step was about to act on a resource without a verified backup."""


def missing_backup(
    manifest: Manifest,
    kind: ResourceKind,
    resource_id: str,
    planned: set[tuple[str, str]] | None = None,
) -> str | None:
    """Why `resource_id` may not be touched yet, or None when its backup is verified.

    `planned`: the dry run's planned changes, for a caller that asks of many resources."""
    if kind == "log-group":
        return None  # log groups are read, never changed
    if manifest.request.dry_run and kind in SNAPSHOT_ACTION:
        # A dry run takes no snapshot, so none can be verified: what the rule asks of it is
        # that the snapshot a real run would take comes first in the plan. Nothing is changed
        # in a dry run, so nothing rests on this.
        if planned is None:
            planned = planned_changes(manifest)
        if (SNAPSHOT_ACTION[kind], resource_id) in planned:
            return None
        return f"{kind} {resource_id} has no snapshot in the plan"
    verification = manifest.backups.verification_for(kind, resource_id)
    if verification is None:
        return f"{kind} {resource_id} has no verified backup in the manifest"
    if not verification.verified:
        failed = ", ".join(check.name for check in verification.failures())
        return f"{kind} {resource_id}: backup {verification.backup} failed verification ({failed})"
    if manifest.request.backup.restore_test and verification.backup != CAPTURED:
        passed = any(
            t.snapshot_id == verification.backup and t.result == "passed"
            for t in manifest.backups.restore_tests
        )
        if not passed:
            return (
                f"{kind} {resource_id}: snapshot {verification.backup} has no passed restore test"
            )
    return None


def gate(manifest: Manifest) -> list[str]:
    """Every reason the run may not go on to remove anything; empty when the gate is open."""
    inventory = manifest.require_inventory()
    # Indexed once: asked of every resource, a scan of the actions each would be quadratic.
    planned = planned_changes(manifest)
    return [
        reason
        for kind, resource_id in inventory.backed_up_resources()
        if (reason := missing_backup(manifest, kind, resource_id, planned))
    ]


def planned_changes(manifest: Manifest) -> set[tuple[str, str]]:
    """The (action, resource) pairs a dry run has planned; empty for a real run."""
    return {(a.action, a.resource) for a in manifest.actions if a.result == "planned"}


def require_recoverable(
    manifest: Manifest,
    kind: ResourceKind,
    resource_id: str,
    planned: set[tuple[str, str]] | None = None,
) -> None:
    reason = missing_backup(manifest, kind, resource_id, planned)
    if reason:
        raise NotRecoverable(f"refusing to change it: {reason}; nothing was done to it")
