"""CloudWatch Logs: the service's log groups and the events in them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code
from sunset.tags import tag_dict


def log_groups(logs: Any, prefix: str | None = None) -> Iterator[dict[str, Any]]:
    kwargs = {"logGroupNamePrefix": prefix} if prefix else {}
    for page in logs.get_paginator("describe_log_groups").paginate(**kwargs):
        yield from page["logGroups"]


def groups_tagged(
    tagging: Any, tags: Mapping[str, str | None]
) -> dict[str, tuple[str, dict[str, str]]]:
    """{name: (arn, tags)} of the log groups carrying every one of `tags` (a None value: the
    key with any value), from the Resource Groups Tagging API: 100 groups a call, where
    ListTagsForResource takes one call per group of the region.

    The type filter is the service alone, "logs": AWS names the type logs:log-group and moto
    logs:loggroup, and log groups are the only tagged logs resource Sunset meets."""
    filters = [
        {"Key": key, **({"Values": [value]} if value is not None else {})}
        for key, value in tags.items()
    ]
    found: dict[str, tuple[str, dict[str, str]]] = {}
    pages = tagging.get_paginator("get_resources").paginate(
        TagFilters=filters, ResourceTypeFilters=["logs"], ResourcesPerPage=100
    )
    for page in pages:
        for mapping in page["ResourceTagMappingList"]:
            arn = str(mapping["ResourceARN"])
            _, _, name = arn.partition(":log-group:")
            if name:
                found[name.removesuffix(":*")] = (arn, tag_dict(mapping.get("Tags")))
    return found


def group_arn(group: dict[str, Any]) -> str:
    # DescribeLogGroups returns the ARN with a trailing ":*"; tagging APIs want it without.
    return str(group["arn"]).removesuffix(":*")


def tags_of(logs: Any, arn: str) -> dict[str, str]:
    try:
        return dict(logs.list_tags_for_resource(resourceArn=arn).get("tags", {}))
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return {}
        raise


def events_between(
    logs: Any, group: str, start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    """Every event of the group in [start, end], across its streams."""
    paginator = logs.get_paginator("filter_log_events")
    pages = paginator.paginate(
        logGroupName=group,
        startTime=int(start.timestamp() * 1000),
        endTime=int(end.timestamp() * 1000),
    )
    for page in pages:
        yield from page.get("events", [])
