"""The rule everything destructive stands on, written once.

No resource is removed or stopped unless its backup or captured configuration is recorded in the
run's manifest first. Every phase that removes or stops calls `require_recoverable` immediately
before the change; a missing record stops the run before anything is lost.
"""

from __future__ import annotations

from sunset.errors import SunsetError
from sunset.manifest import Manifest, ResourceKind


class NotRecoverable(SunsetError):
    """A destructive step was about to act on a resource with no recorded backup."""


def missing_backup(manifest: Manifest, kind: ResourceKind, resource_id: str) -> str | None:
    """Why `resource_id` may not be touched yet, or None when its backup is recorded."""
    backups = manifest.backups
    recorded = {
        "sagemaker-endpoint": lambda: resource_id in backups.endpoints,
        "http-api": lambda: resource_id in backups.http_apis,
        "rest-api": lambda: resource_id in backups.rest_apis,
        "ebs-volume": lambda: backups.snapshot_for("ebs", resource_id) is not None,
        "rds-instance": lambda: backups.snapshot_for("rds-instance", resource_id) is not None,
        "rds-cluster": lambda: backups.snapshot_for("rds-cluster", resource_id) is not None,
        "log-group": lambda: True,  # log groups are read, never changed
    }[kind]
    if recorded():
        return None
    return f"{kind} {resource_id} has no backup or captured configuration in the manifest"


def require_recoverable(manifest: Manifest, kind: ResourceKind, resource_id: str) -> None:
    reason = missing_backup(manifest, kind, resource_id)
    if reason:
        raise NotRecoverable(f"refusing to change it: {reason}; nothing was done to it")
