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
