"""Tag rules: which resources belong to a service, which are protected, how copies are marked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sunset.manifest import PROTECT_TAG

RUN_ID_TAG = "sunset:run-id"
SERVICE_TAG = "sunset:service"
SOURCE_TAG = "sunset:source"
RESTORE_TEST_TAG = "sunset:restore-test"


def tag_dict(tag_list: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """Turn AWS's [{"Key": k, "Value": v}] lists into a plain dict."""
    return {tag["Key"]: tag.get("Value", "") for tag in tag_list or ()}


def matches_selector(tags: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    """A resource belongs to the service when every selector tag is present with its value."""
    return bool(selector) and all(tags.get(key) == value for key, value in selector.items())


def is_protected(tags: Mapping[str, str]) -> bool:
    """sunset:protect=true (any case) keeps a resource out of every action."""
    return tags.get(PROTECT_TAG, "").strip().lower() == "true"


def backup_tags(run_id: str, service: str, source: str) -> dict[str, str]:
    """The tags every snapshot or copy Sunset creates carries, so it can be traced to its run."""
    return {RUN_ID_TAG: run_id, SERVICE_TAG: service, SOURCE_TAG: source}


def settable(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags a create call may set: `aws:` ones (CloudFormation's, say) are AWS's own."""
    return {key: value for key, value in tags.items() if not key.lower().startswith("aws:")}


def as_tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]
