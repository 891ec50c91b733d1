"""SNS: publishing notices with the attributes subscribers filter on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def publish(
    sns: Any, topic_arn: str, subject: str, message: str, attributes: Mapping[str, str]
) -> dict[str, Any]:
    return dict(
        sns.publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=message,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            },
        )
    )
