"""Snapshots that behave like AWS's: pending for a while, sometimes failing.

moto creates EBS and RDS snapshots already complete, which would leave Sunset's wait loop, its
deadline and its failure path untested. Through `Sandbox.snapshots` a test chooses how many
status reads a new snapshot stays pending for, and which sources' snapshots end in error:

    sb.snapshots.hold(polls=3)          # every new snapshot: pending for 3 status reads
    sb.snapshots.fail("vol-0abc")       # the snapshot of this volume / DB / cluster fails

It also mends one moto gap that would fail an honest verification: moto does not give an EBS
snapshot the KMS key of its (encrypted) volume, as AWS does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_PENDING = {"ebs": "pending", "rds": "creating"}
_DONE = {"ebs": "completed", "rds": "available"}
_BROKEN = {"ebs": "error", "rds": "failed"}


@dataclass
class _Pending:
    family: str
    total: int
    left: int
    fails: bool


class SnapshotControl:
    def __init__(self) -> None:
        self.polls = 0
        self._failing: set[str] = set()
        self._pending: dict[int, tuple[Any, _Pending]] = {}
        self._originals: list[tuple[type, str, Any]] = []

    def hold(self, polls: int) -> None:
        """Every snapshot created from now on stays pending for `polls` status reads."""
        self.polls = polls

    def fail(self, source_id: str) -> None:
        """The snapshot of this volume, DB instance or cluster ends in error (after the hold)."""
        self._failing.add(source_id)

    def reset(self) -> None:
        self.polls = 0
        self._failing.clear()

    # ---------------------------------------------------------------- moto patches
    def _track(self, snapshot: Any, family: str, source_id: str) -> None:
        fails = source_id in self._failing
        if self.polls <= 0 and not fails:
            return
        snapshot.status = _PENDING[family]
        state = _Pending(family, max(self.polls, 0), max(self.polls, 0), fails)
        self._pending[id(snapshot)] = (snapshot, state)
        self._settle(snapshot, state)

    def _settle(self, snapshot: Any, state: _Pending) -> None:
        if state.left > 0:
            if state.family == "ebs":
                done = state.total - state.left
                snapshot.sandbox_progress = f"{100 * done // max(state.total, 1)}%"
            return
        snapshot.status = _BROKEN[state.family] if state.fails else _DONE[state.family]
        snapshot.sandbox_progress = "100%" if not state.fails else "0%"
        self._pending.pop(id(snapshot), None)

    def _advance(self, snapshots: list[Any]) -> None:
        for snapshot in snapshots:
            tracked = self._pending.get(id(snapshot))
            if tracked is None:
                continue
            _, state = tracked
            state.left -= 1
            self._settle(snapshot, state)

    def _patch(self, owner: type, name: str, replacement: Any) -> None:
        self._originals.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, replacement)

    def install(self) -> None:
        from moto.ec2.models.elastic_block_store import EBSBackend, Snapshot
        from moto.rds.models import RDSBackend

        control = self
        create_ebs = EBSBackend.create_snapshot
        describe_ebs = EBSBackend.describe_snapshots
        create_db = RDSBackend.create_db_snapshot
        describe_db = RDSBackend.describe_db_snapshots
        create_cluster = RDSBackend.create_db_cluster_snapshot
        describe_cluster = RDSBackend.describe_db_cluster_snapshots

        def ebs_create(backend: Any, volume_id: str, *args: Any, **kwargs: Any) -> Any:
            snapshot = create_ebs(backend, volume_id, *args, **kwargs)
            snapshot.kms_key_id = snapshot.kms_key_id or snapshot.volume.kms_key_id
            control._track(snapshot, "ebs", volume_id)
            return snapshot

        def ebs_describe(backend: Any, *args: Any, **kwargs: Any) -> Any:
            found = describe_ebs(backend, *args, **kwargs)
            control._advance(found)
            return found

        def db_create(backend: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
            snapshot = create_db(backend, db_instance_identifier, *args, **kwargs)
            if snapshot.snapshot_type == "manual":  # moto's automated ones stay as they are
                control._track(snapshot, "rds", db_instance_identifier)
            return snapshot

        def db_describe(backend: Any, *args: Any, **kwargs: Any) -> Any:
            found = describe_db(backend, *args, **kwargs)
            control._advance(found)
            return found

        def cluster_create(
            backend: Any, db_cluster_identifier: str, *args: Any, **kwargs: Any
        ) -> Any:
            snapshot = create_cluster(backend, db_cluster_identifier, *args, **kwargs)
            control._track(snapshot, "rds", db_cluster_identifier)
            return snapshot

        def cluster_describe(backend: Any, *args: Any, **kwargs: Any) -> Any:
            found = describe_cluster(backend, *args, **kwargs)
            control._advance(found)
            return found

        self._patch(EBSBackend, "create_snapshot", ebs_create)
        self._patch(EBSBackend, "describe_snapshots", ebs_describe)
        self._patch(RDSBackend, "create_db_snapshot", db_create)
        self._patch(RDSBackend, "describe_db_snapshots", db_describe)
        self._patch(RDSBackend, "create_db_cluster_snapshot", cluster_create)
        self._patch(RDSBackend, "describe_db_cluster_snapshots", cluster_describe)
        self._patch(
            Snapshot, "progress", property(lambda s: getattr(s, "sandbox_progress", "100%"))
        )

    def uninstall(self) -> None:
        while self._originals:
            owner, name, original = self._originals.pop()
            setattr(owner, name, original)
