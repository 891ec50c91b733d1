"""EC2: EBS volumes and their snapshots."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sunset.tags import as_tag_list


def volumes_with_tags(ec2: Any, tags: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """Volumes carrying every one of `tags` (server-side filter: one call per page)."""
    if not tags:
        return
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
    for page in ec2.get_paginator("describe_volumes").paginate(Filters=filters):
        yield from page["Volumes"]


def volumes_by_id(ec2: Any, volume_ids: list[str]) -> list[dict[str, Any]]:
    """The named volumes that exist; a missing id is simply absent from the answer."""
    if not volume_ids:
        return []
    filters = [{"Name": "volume-id", "Values": volume_ids}]
    found: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_volumes").paginate(Filters=filters):
        found.extend(page["Volumes"])
    return found


def create_snapshot(
    ec2: Any, volume_id: str, description: str, tags: Mapping[str, str]
) -> dict[str, Any]:
    return dict(
        ec2.create_snapshot(
            VolumeId=volume_id,
            Description=description,
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": as_tag_list(tags)}],
        )
    )


def snapshots(ec2: Any, snapshot_ids: list[str]) -> list[dict[str, Any]]:
    if not snapshot_ids:
        return []
    found: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_snapshots").paginate(SnapshotIds=snapshot_ids):
        found.extend(page["Snapshots"])
    return found


def snapshots_tagged(ec2: Any, tags: Mapping[str, str]) -> list[dict[str, Any]]:
    """This account's snapshots carrying every one of `tags`."""
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
    found: list[dict[str, Any]] = []
    paginator = ec2.get_paginator("describe_snapshots")
    for page in paginator.paginate(OwnerIds=["self"], Filters=filters):
        found.extend(page["Snapshots"])
    return found


def volume(ec2: Any, volume_id: str) -> dict[str, Any] | None:
    found = volumes_by_id(ec2, [volume_id])
    return found[0] if found else None


def create_volume_from_snapshot(
    ec2: Any, snapshot_id: str, zone: str, tags: Mapping[str, str]
) -> dict[str, Any]:
    return dict(
        ec2.create_volume(
            SnapshotId=snapshot_id,
            AvailabilityZone=zone,
            TagSpecifications=[{"ResourceType": "volume", "Tags": as_tag_list(tags)}],
        )
    )


def delete_volume(ec2: Any, volume_id: str) -> dict[str, Any]:
    return dict(ec2.delete_volume(VolumeId=volume_id))
