"""The execution inputs as JSON Schema (docs/schema/), for people who start runs from the Step
Functions console or write them by hand: which fields there are, their types, limits and
defaults. The pydantic models in request.py are the contract; the schemas are drawn from them,
and a test keeps the committed files equal to what the models say.

A schema cannot say everything the models check (a cutoff in the future, notice_seconds and
cutoff not both, the polls fitting one execution's history): Prepare refuses those, naming the
field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sunset.request import DecommissionRequest, RecommissionRequest

MODELS: dict[str, type[BaseModel]] = {
    "decommission-input": DecommissionRequest,
    "recommission-input": RecommissionRequest,
}
TITLES = {
    "decommission-input": "Sunset decommission input (DecommissionStateMachineArn)",
    "recommission-input": "Sunset recommission input (RecommissionStateMachineArn)",
}


def input_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one state machine's execution input."""
    schema = MODELS[name].model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": TITLES[name],
    }


def render(name: str) -> str:
    return json.dumps(input_schema(name), indent=2, ensure_ascii=False) + "\n"


def write_all(folder: Path) -> list[Path]:
    """Write every schema to folder/<name>.schema.json; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in MODELS:
        path = folder / f"{name}.schema.json"
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written
