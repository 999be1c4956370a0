"""The fake server's answer sources: what its completions and embeddings say when nothing goes wrong.

Owns
- `Answers`: a function (messages, schema) -> JSON text that writes schema answers (the agents' scripted
  model, the games' stand-in players, a test's own writer); without one a server writes `minimal_instance`;
- `SOURCES`: the short names a server in another process is told (`--answers scripted`). A function cannot
  cross into a child process; a name from this explicit table can, and a reader can follow it to its code
  (a dotted `module:function` string could name anything and no reader could);
- `requested_schema`: the JSON schema a chat request asks its answer to fit, from `response_format` or
  from the prompt;
- `embedding`: a deterministic unit vector for a text (a hash of it), so equal texts get equal vectors.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

Answers = Callable[[Sequence[dict[str, Any]], dict[str, Any]], str]
"""Writes the JSON text of a schema answer from the request's messages and the schema."""


def _scripted() -> Answers:
    from smallville.testing import scripted

    return scripted.answer


def _standin() -> Answers:
    from smallville.games import standin

    return standin.answer


# loaders rather than the functions: a server for the inference tests should not import the agents or the games
SOURCES: dict[str, Callable[[], Answers]] = {"scripted": _scripted, "standin": _standin}
"""The answer sources a fake server in its own process can use, by name."""


def source_named(name: str) -> Answers:
    """The answer source registered as `name`."""
    if name not in SOURCES:
        raise ValueError(f"no answer source {name!r}; one of {sorted(SOURCES)}")
    return SOURCES[name]()


def name_of(answers: Answers) -> str:
    """The name `answers` is registered under, for a server in another process."""
    for name, load in SOURCES.items():
        if load() is answers:
            return name
    raise ValueError(f"{answers!r} is not a registered answer source (one of {sorted(SOURCES)}): a server in its "
                     "own process can only be told a name; register it in SOURCES or use FakeServer")


def requested_schema(request: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """The JSON schema the answer must fit, from `response_format` (either form) or from the prompt; and
    whether it came from the prompt (then the answer is fenced, as chat models write it)."""
    fmt = request.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            return (fmt.get("json_schema") or {}).get("schema") or {}, False
        if fmt.get("type") == "json_object":
            return fmt.get("schema") or {}, False
    decoder = json.JSONDecoder()
    for message in request.get("messages") or []:
        text = str(message.get("content", "")) if isinstance(message, dict) else ""
        start = text.find('{"')
        while start != -1:
            try:
                obj, _ = decoder.raw_decode(text, start)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and "properties" in obj:
                return obj, True
            start = text.find('{"', start + 1)
    return None, False


def schema_answer(messages: Sequence[dict[str, Any]], schema: dict[str, Any], answers: Answers | None) -> str:
    """The JSON text answering `schema`: the answer source's, else the minimal valid instance."""
    if answers is not None:
        return answers(messages, schema)
    return json.dumps(minimal_instance(schema, schema.get("$defs", {})))


def minimal_instance(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A small value that fits `schema` (the subset pydantic emits: refs, unions, enums, bounds, arrays)."""
    if "$ref" in schema:
        return minimal_instance(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and "type" not in schema and "anyOf" not in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return minimal_instance(options[0], defs)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return minimal_instance(merged, defs)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal_instance(props[k], defs) for k in schema.get("required", []) if k in props}
    if kind == "array":
        if "prefixItems" in schema:
            return [minimal_instance(s, defs) for s in schema["prefixItems"]]
        return [minimal_instance(schema.get("items", {}), defs) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        value = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else 0)
        value = min(value, schema.get("maximum", value))
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            value = schema["exclusiveMaximum"] - 1
        return math.ceil(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    text = {"date-time": "2023-02-13T08:00:00", "date": "2023-02-13", "time": "08:00:00"}.get(schema.get("format", ""))
    return text or "x" * max(1, schema.get("minLength", 1))


def embedding(text: str, dim: int) -> list[float]:
    """A unit vector of `dim` numbers drawn from a hash of `text`."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[j % 32] + j) % 251 / 125.0 - 1.0 for j in range(dim)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]
