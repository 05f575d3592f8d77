"""The schema of Gradescope's ``results.json`` (its autograder specification), and a validator.

``validate`` uses ``jsonschema`` when it is installed (the ``test`` extra has
it) and otherwise a small validator for the subset of JSON Schema used here:
``type``, ``enum``, ``required``, ``properties``, ``additionalProperties: false``,
``items`` and ``minimum``.
"""
from __future__ import annotations

from typing import Any

VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
OUTPUT_FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}

TEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["score", "max_score", "status", "name", "number", "output", "output_format", "tags", "visibility"],
    "properties": {
        "score": {"type": "number"},
        "max_score": {"type": "number", "minimum": 0},
        "status": {"enum": ["passed", "failed"]},
        "name": {"type": "string"},
        "number": {"type": "string"},
        "output": {"type": "string"},
        "output_format": OUTPUT_FORMAT,
        "tags": {"type": "array", "items": {"type": "string"}},
        "visibility": VISIBILITY,
        "extra_data": {"type": "object"},
    },
}

RESULTS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["score", "execution_time", "output", "output_format", "visibility", "stdout_visibility",
                 "extra_data", "tests", "leaderboard"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "integer", "minimum": 0},
        "output": {"type": "string"},
        "output_format": OUTPUT_FORMAT,
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": TEST},
        "leaderboard": {"type": "array", "items": {
            "type": "object", "required": ["name", "value"],
            "properties": {"name": {"type": "string"}, "value": {"type": ["number", "string"]},
                           "order": {"enum": ["asc", "desc"]}}}},
    },
}


class SchemaError(AssertionError):
    pass


def validate(document: Any, schema: dict = RESULTS) -> None:
    """Raise :class:`SchemaError` (an AssertionError) when ``document`` does not follow ``schema``."""
    try:
        import jsonschema
    except ImportError:
        problems = list(hand_validate(document, schema))
        if problems:
            raise SchemaError("; ".join(problems))
        return
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as error:
        raise SchemaError(f"{'/'.join(map(str, error.absolute_path))}: {error.message}") from None


_TYPES = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
}


def hand_validate(value: Any, schema: dict, where: str = "$"):
    """Every problem of ``value`` against ``schema``, as ``where: what`` strings."""
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[kind](value) for kind in kinds):
            yield f"{where}: expected {' or '.join(kinds)}, got {type(value).__name__}"
            return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{where}: {value!r} is not one of {schema['enum']}"
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        yield f"{where}: {value} is below {schema['minimum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                yield f"{where}: missing {key!r}"
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                yield from hand_validate(item, properties[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                yield f"{where}: unexpected {key!r}"
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from hand_validate(item, schema["items"], f"{where}[{index}]")
