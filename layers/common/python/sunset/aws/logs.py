"""CloudWatch Logs: the service's log groups and the events in them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code


def log_groups(logs: Any, prefix: str | None = None) -> Iterator[dict[str, Any]]:
    kwargs = {"logGroupNamePrefix": prefix} if prefix else {}
    for page in logs.get_paginator("describe_log_groups").paginate(**kwargs):
        yield from page["logGroups"]


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
