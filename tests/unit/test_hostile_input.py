"""Bad input at scale: malformed and hostile execution inputs, thrown at Prepare by hypothesis.

Every one must be refused with InvalidRequest naming the field, before Prepare makes a single
AWS call; and nothing at all that JSON can carry may make Prepare fail any other way.
"""

from __future__ import annotations

import copy
import re
import string
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sunset.errors import InvalidRequest
from sunset.phases.prepare import prepare
from sunset.request import SERVICE_NAME_PATTERN, DecommissionRequest, parse_duration, parse_request
from tests.conftest import execution_arn

VALID: dict[str, Any] = {
    "service": "chat-assistant",
    "selector": {"tags": {"app": "chat-assistant"}},
    "reason": "Replaced by chat-v2",
}
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What JSON can carry, nested a little.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Strings people (or attackers) put where a name goes.
HOSTILE_TEXT = st.sampled_from(
    [
        "x; rm -rf /",
        "../../etc/passwd",
        "chat\x00assistant",
        "<script>alert(1)</script>",
        "${jndi:ldap://example.com/a}",
        "'; DROP TABLE runs; --",
        "сhat-assistant",  # a Cyrillic "с"
        "chat-assistant\u202e",  # a right-to-left override
        "chat-assistant\n",
        "CHAT-ASSISTANT",
        "-chat",
        "chat-",
        "a" * 64,
        "🤖",
        "",
        # names of the zone database's folders and files, not zones: "America" made ZoneInfo
        # raise IsADirectoryError, which crashed Prepare instead of refusing the input
        "America",
        "Etc",
        "zone.tab",
    ]
) | st.text(min_size=1, max_size=80)
NOT_A_STRING = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.lists(st.text(), max_size=2)
    | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)
)
NOT_AN_INT = (
    st.none()
    | st.booleans()
    | st.floats()
    | st.text(max_size=10)
    | st.lists(st.integers(), max_size=2)
)
NOT_A_BOOL = (
    st.none()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.lists(st.booleans(), max_size=2)
)
NOT_AN_OBJECT = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.lists(st.integers(), max_size=2)
)


def _int_outside(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(max_value=low - 1) | st.integers(min_value=high + 1)


def _not_a_zone(name: str) -> bool:
    # Not "no slash": GMT, EST, Zulu and Japan are zones too.
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return True
    return False


def _not_a_duration(value: object) -> bool:
    return not isinstance(value, str) or parse_duration(value) is None


# Field path -> values that field must refuse, whatever the rest of the input says.
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "service": NOT_A_STRING
    | HOSTILE_TEXT.filter(lambda s: not re.fullmatch(SERVICE_NAME_PATTERN, s)),
    "selector": NOT_AN_OBJECT,
    "selector.tags": NOT_AN_OBJECT
    | st.dictionaries(st.text(min_size=1, max_size=5), st.just("x"), min_size=11, max_size=12),
    "reason": NOT_A_STRING
    | st.text(min_size=2_001, max_size=2_100)
    | st.sampled_from(["", " ", "\t\n"]),
    "contacts": NOT_A_STRING.filter(lambda v: not isinstance(v, list))
    | st.lists(st.just("ml@example.com"), min_size=51, max_size=52)
    | st.lists(st.sampled_from(["", "ab", "x" * 255]), min_size=1, max_size=3),
    "expected_downtime": (NOT_A_STRING | HOSTILE_TEXT)
    .filter(lambda v: v is not None)
    .filter(_not_a_duration),
    "notice_seconds": NOT_AN_INT | _int_outside(0, 2_592_000),
    "timezone": NOT_A_STRING | HOSTILE_TEXT.filter(_not_a_zone),
    "dry_run": NOT_A_BOOL,
    "on_failure": NOT_A_STRING | HOSTILE_TEXT,
    "stop_databases": NOT_A_BOOL,
    "approval": NOT_AN_OBJECT,
    "approval.required": NOT_A_BOOL,
    "approval.timeout_seconds": NOT_AN_INT | _int_outside(1, 31_536_000),
    "backup.poll_seconds": NOT_AN_INT | _int_outside(1, 3_600),
    "backup.deadline_seconds": NOT_AN_INT | _int_outside(1, 604_800),
    "backup.restore_test": NOT_A_BOOL,
    "validation.checks": st.just([])
    | st.lists(HOSTILE_TEXT, min_size=1, max_size=3).filter(
        lambda names: any(
            n not in {"endpoints", "routes", "probes", "traffic", "logs"} for n in names
        )
    ),
    "validation.quiet_period_seconds": NOT_AN_INT | _int_outside(0, 86_400),
    "validation.grace_seconds": NOT_AN_INT | _int_outside(0, 300),
    "validation.error_patterns": st.sampled_from([["("], ["[a-"], ["*"], [""], ["x" * 257]])
    | st.lists(st.just("ERROR"), min_size=21, max_size=22),
    "resources.sagemaker_endpoints": st.lists(
        st.sampled_from(["", "a b", "x;y", "é", "a\nb", "x" * 257]), min_size=1, max_size=3
    ),
    "resources.log_groups": NOT_AN_OBJECT.filter(lambda v: not isinstance(v, list)),
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """VALID with `path` set to `value`, intermediate objects created as needed."""
    data = copy.deepcopy(VALID)
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return data


def _refused(raw: object) -> str:
    try:
        parse_request(raw)
    except InvalidRequest as exc:
        return str(exc)
    raise AssertionError(f"accepted: {raw!r}")


@EXAMPLES
@given(st.data())
def test_every_bad_value_is_refused_naming_its_field(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(sorted(INVALID)))
    value = data.draw(INVALID[path])
    message = _refused(_with(path, value))
    assert message.startswith("invalid request: ")
    assert f"{path}" in message, message


@EXAMPLES
@given(
    st.sampled_from(["", "selector", "approval", "backup", "validation", "resources"]),
    st.text(alphabet=string.ascii_letters + string.digits + "_-$.", min_size=1, max_size=30),
)
def test_an_unknown_field_at_any_level_is_refused_by_its_name(where: str, name: str) -> None:
    fields = (
        DecommissionRequest.model_fields
        if not where
        else DecommissionRequest.model_fields[where].annotation.model_fields
    )
    if name in fields or "." in name:
        return
    path = f"{where}.{name}" if where else name
    data = copy.deepcopy(VALID)
    (data.setdefault(where, {}) if where else data)[name] = "x"
    assert f"{path}: unknown field" in _refused(data)


@EXAMPLES
@given(st.sets(st.sampled_from(["service", "selector", "reason"]), min_size=1))
def test_each_missing_required_field_is_named(missing: set[str]) -> None:
    data = {key: value for key, value in VALID.items() if key not in missing}
    message = _refused(data)
    for field in missing:
        assert f"{field}: field required" in message


@EXAMPLES
@given(JSON)
def test_anything_json_can_carry_is_a_request_or_an_invalid_request(raw: Any) -> None:
    # Whatever arrives, Prepare answers with a request or a readable refusal, never a crash
    # (TypeError, KeyError, a pydantic error leaking out) that would hide the reason.
    try:
        parse_request(raw)
    except InvalidRequest as exc:
        assert str(exc).startswith("invalid request: ") or "must be a JSON object" in str(exc)


@EXAMPLES
@given(st.dictionaries(st.sampled_from(sorted(VALID) + ["approval", "backup", "dry_run"]), JSON))
def test_known_fields_with_any_json_are_a_request_or_an_invalid_request(
    raw: dict[str, Any],
) -> None:
    try:
        parse_request({**VALID, **raw})
    except InvalidRequest as exc:
        assert str(exc).startswith("invalid request: ")


class _Tripwire:
    """Stands in for every client and store: touching it at all fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Prepare touched {name} before refusing a bad input")


@EXAMPLES
@given(st.data())
def test_prepare_refuses_before_any_aws_call(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(sorted(INVALID)))
    raw = _with(path, data.draw(INVALID[path]))
    started = datetime(2026, 11, 26, tzinfo=UTC)
    try:
        prepare(raw, "run-1", started, execution_arn("run-1"), _Tripwire())
    except InvalidRequest as exc:
        assert path in str(exc)
    else:
        raise AssertionError(f"Prepare accepted {raw!r}")


@EXAMPLES
@given(st.text(min_size=1, max_size=5_000), st.sampled_from(["", "selector.tags"]))
def test_a_hostile_key_is_named_on_one_short_line(key: str, where: str) -> None:
    # Given a key of any length and any characters, as an unknown field or as a tag key whose
    # value is too long
    data = copy.deepcopy(VALID)
    if where:
        data["selector"]["tags"] = {key: "v" * 257}
    elif key in DecommissionRequest.model_fields:
        return
    else:
        data[key] = "x"
    # When
    message = _refused(data)
    # Then the refusal is one line, short, and still names where the problem is
    assert "\n" not in message and "\r" not in message
    assert len(message) < 250, message
    assert message.startswith(f"invalid request: {where}" if where else "invalid request: ")
