"""SNS: publishing notices with the attributes subscribers filter on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

# SNS refuses a message over 256 KiB of UTF-8, message attributes included. (moto 5.2 checks
# only the message, and counts characters, not bytes: a message it takes may fail on AWS.)
MESSAGE_LIMIT_BYTES = 262_144
_ATTRIBUTE_TYPE = "String"


def attributes_size(attributes: Mapping[str, str]) -> int:
    """The bytes SNS counts for string message attributes: each name, type and value."""
    return sum(
        len(name.encode("utf-8")) + len(_ATTRIBUTE_TYPE) + len(value.encode("utf-8"))
        for name, value in attributes.items()
    )


def publish(
    sns: Any,
    topic_arn: str,
    subject: str,
    message: str,
    attributes: Mapping[str, str],
    *,
    structure: Literal["json"] | None = None,
) -> dict[str, Any]:
    """Publish one message. With structure="json", `message` is a JSON object of one message
    per protocol ("default", "email", "sqs", ...) and each subscriber gets its protocol's."""
    return dict(
        sns.publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=message,
            MessageAttributes={
                name: {"DataType": _ATTRIBUTE_TYPE, "StringValue": value}
                for name, value in attributes.items()
            },
            **({"MessageStructure": structure} if structure else {}),
        )
    )
