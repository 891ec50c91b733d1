"""The published JSON Schema of the execution inputs, and the ready-to-paste inputs in events/."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from sunset import schema
from sunset.errors import InvalidRequest
from sunset.request import parse_recommission, parse_request

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SCHEMAS = ROOT / "docs" / "schema"


def _schema(name: str) -> dict[str, object]:
    return dict(json.loads((SCHEMAS / f"{name}.schema.json").read_text()))


@pytest.mark.parametrize("name", sorted(schema.MODELS))
def test_the_committed_schema_is_what_the_model_says(name: str) -> None:
    committed = (SCHEMAS / f"{name}.schema.json").read_text()
    assert committed == schema.render(name), (
        f"docs/schema/{name}.schema.json is stale: run .venv/bin/sunset schema --write docs/schema"
    )


@pytest.mark.parametrize(
    "event", sorted(p.name for p in EVENTS.glob("*.json")), ids=lambda name: name[:-5]
)
def test_every_ready_to_paste_input_is_valid_for_the_model_and_the_schema(event: str) -> None:
    # Given an input people paste into the console
    data = json.loads((EVENTS / event).read_text())
    # Then its machine accepts it, and so does the schema people check it with
    if event.startswith("recommission"):
        parse_recommission(data)
        jsonschema.validate(data, _schema("recommission-input"))
    else:
        request = parse_request(data)
        # only the input named for it rehearses; every other one is meant for real
        assert request.dry_run == ("dry-run" in event)
        jsonschema.validate(data, _schema("decommission-input"))


@pytest.mark.parametrize(
    "malformed",
    [
        "unknown-field.json",
        "wrong-type.json",
        "missing-service.json",
        "bad-service-name.json",
        "dry-run-not-a-boolean.json",
    ],
)
def test_the_schema_refuses_what_it_can_see_is_wrong(malformed: str) -> None:
    data = json.loads((EVENTS / "malformed" / malformed).read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, _schema("decommission-input"))
    with pytest.raises(InvalidRequest):
        parse_request(data)
