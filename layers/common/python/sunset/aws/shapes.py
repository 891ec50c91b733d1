"""Turn a recorded describe output back into the input of a create call.

A capture is kept verbatim (describe output), but a create call rejects read-only fields such as
ARNs, statuses and creation times. Rather than keep a hand-written list per call, which would go
stale with every new API field, Sunset asks botocore which members the operation's input shape
has and keeps exactly those, at every level of nesting.
"""

from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape


def _fit(value: Any, shape: Shape) -> Any:
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        fitted = {
            name: _fit(item, shape.members[name])
            for name, item in value.items()
            if name in shape.members and item is not None
        }
        # An empty structure (say VpcConfig: {} for a model outside any VPC) means "not set"
        # in a describe output, but fails a create call's required members: leave it out.
        return {
            name: item
            for name, item in fitted.items()
            if item != {} or not isinstance(shape.members[name], StructureShape)
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_fit(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _fit(item, shape.value) for key, item in value.items()}
    return value


def create_input(client: Any, operation: str, recorded: dict[str, Any]) -> dict[str, Any]:
    """The members of `recorded` that `operation` (say "CreateModel") accepts, nested included."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    fitted = _fit(recorded, shape)
    return fitted if isinstance(fitted, dict) else {}
