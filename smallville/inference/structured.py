"""Structured answers: from a pydantic model to a request, and from a model's reply back to a valid instance.

Owns three things, independent of HTTP:
- the request side: the answer model's JSON schema in the form an endpoint understands (`response_format`
  for `json_schema` / `json_object_schema`, or schema-in-the-prompt for `prompt`);
- the answer side: parsing a reply (code fences, prose around the JSON, empty choices, answers cut by
  `max_tokens`) and validating it, with a problem description a model can act on;
- the loop: ask, validate, and on an invalid answer ask again with the validation error fed back,
  a bounded number of times, then raise `AnswerInvalid` naming the endpoint and carrying the last answer.
The pool supplies the `send` function (which picks the endpoint and does transport retries), so the
same loop serves every endpoint kind and the test fakes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from smallville.inference.base import AnswerInvalid, CallOptions, Message
from smallville.inference.settings import StructuredMode

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_MAX_FEEDBACK_CHARS = 1500  # a validation error longer than this teaches the model nothing more
_MAX_TOKENS_CAP = 8192  # a cut answer is retried with twice the room, up to this
_MAX_OBJECT_STARTS = 64  # "{" positions tried when looking for an object amid prose


@dataclass(frozen=True)
class RawAnswer:
    """What one chat completion returned, before any parsing."""

    text: str
    finish_reason: str | None
    endpoint: str
    choices: int = 1


class AnswerProblem(Exception):
    """A reply that is not a valid answer; `feedback` is what the model is told on the retry."""

    def __init__(self, feedback: str, text: str):
        self.feedback = feedback
        self.text = text
        super().__init__(feedback)


# -- request side -------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def answer_schema(answer: type[BaseModel]) -> dict[str, Any]:
    return answer.model_json_schema()


@lru_cache(maxsize=512)
def schema_hash(answer: type[BaseModel]) -> str:
    """A stable short hash of the answer model's JSON schema (recordings key on it)."""
    text = json.dumps(answer_schema(answer), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema in the subset OpenAI's `strict: true` accepts: closed objects, every property required,
    no defaults. Optional fields stay optional in pydantic, so the answer still validates the same."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("default", None)
            if node.get("type") == "object" or "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(out)
    return out


@lru_cache(maxsize=512)
def shared_response_format(answer: type[BaseModel], mode: StructuredMode) -> dict[str, Any] | None:
    """`response_format`, built once per (model, mode) and shared: read-only for callers (the pool only
    serialises it), which saves rebuilding a schema on every request."""
    schema = answer_schema(answer)
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {
            "name": re.sub(r"[^A-Za-z0-9_-]", "_", answer.__name__)[:64], "schema": strict_schema(schema),
            "strict": True}}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    return None


def response_format(answer: type[BaseModel], mode: StructuredMode) -> dict[str, Any] | None:
    """The `response_format` request field for `mode` (a private copy), or None for `prompt` mode."""
    return copy.deepcopy(shared_response_format(answer, mode))


def schema_instruction(answer: type[BaseModel]) -> str:
    return ("Answer with a single JSON object and nothing else. It must fit this JSON schema:\n"
            + json.dumps(answer_schema(answer), separators=(",", ":")))


def request_messages(messages: Sequence[Message], answer: type[BaseModel], mode: StructuredMode) -> list[Message]:
    """The chat to send: in `prompt` mode the schema goes in as a trailing system message."""
    if mode == "prompt":
        return [*messages, Message("system", schema_instruction(answer))]
    return list(messages)


# -- answer side --------------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    # NaN / Infinity are not JSON (RFC 8259): Python's parser accepts them, but such a value cannot be
    # recorded and replayed as the same answer (pydantic writes it back as null), and no caller wants it.
    raise ValueError(f"{name} is not a JSON number")


# strict=False: llama-cpp-python's grammar lets raw newlines into bounded strings.
_DECODER = json.JSONDecoder(strict=False, parse_constant=_no_constant)


def _has_non_finite(text: str) -> bool:
    """True when the JSON `text` holds a bare NaN / Infinity (cheap: a full parse only if the word occurs)."""
    if "NaN" not in text and "Infinity" not in text:
        return False
    try:
        _DECODER.decode(text.strip())
    except (ValueError, RecursionError):
        return True
    return False


def extract_json(text: str) -> Any:
    """The JSON value in a reply: bare, inside a code fence, or the first object amid prose.
    Raises ValueError when there is none (also for nesting too deep to parse, and for NaN / Infinity)."""
    stripped = text.strip()
    candidates = [stripped]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(stripped)]
    for candidate in candidates:
        try:
            return _DECODER.decode(candidate)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." from a model stuck in a loop
            pass
    start = stripped.find("{")
    # Each failed attempt may scan to the end of the text: bounded, a brace-laden 30k-character reply would
    # hold the event loop for half a second (quadratic). Prose before the answer holds a few braces at most.
    for _ in range(_MAX_OBJECT_STARTS):
        if start == -1:
            break
        try:
            return _DECODER.raw_decode(stripped, start)[0]
        except (ValueError, RecursionError):
            start = stripped.find("{", start + 1)
    raise ValueError("no JSON object found")


def _short(error: ValidationError) -> str:
    lines = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()]
    return "; ".join(lines)[:_MAX_FEEDBACK_CHARS]


def parse_answer(raw: RawAnswer, answer: type[T]) -> T:
    """A validated instance of `answer`, or `AnswerProblem` saying what was wrong."""
    if raw.choices == 0:
        raise AnswerProblem("The server returned no choices.", "")
    if raw.finish_reason == "length":
        raise AnswerProblem("Your answer was cut off by the token limit. Answer again, shorter, as complete JSON.",
                            raw.text)
    if not raw.text.strip():
        raise AnswerProblem("The answer was empty.", raw.text)
    try:  # the common case, a bare JSON object, parsed and validated in one pass by pydantic-core
        value = answer.model_validate_json(raw.text)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors()):
            raise AnswerProblem(f"That JSON does not fit the schema: {_short(exc)}. Answer again with corrected "
                                "JSON.", raw.text) from None
    else:
        if not _has_non_finite(raw.text):  # pydantic-core accepts NaN / Infinity; JSON does not
            return value
        raise AnswerProblem("NaN and Infinity are not JSON numbers. Answer again with finite numbers.", raw.text)
    try:
        data = extract_json(raw.text)
    except ValueError:
        raise AnswerProblem("That was not JSON. Answer with a single JSON object only.", raw.text) from None
    try:
        return answer.model_validate(data)
    except ValidationError as exc:
        raise AnswerProblem(f"That JSON does not fit the schema: {_short(exc)}. Answer again with corrected JSON.",
                            raw.text) from None


def feedback_messages(messages: Sequence[Message], problem: AnswerProblem) -> list[Message]:
    """The chat for a re-ask: the bad answer (if there was one) and what was wrong with it."""
    out = list(messages)
    if problem.text.strip():
        out.append(Message("assistant", problem.text))
    out.append(Message("user", problem.feedback))
    return out


# -- the loop -----------------------------------------------------------------------------------------

SendFn = Callable[[Sequence[Message], type[BaseModel], CallOptions], Awaitable[RawAnswer]]


async def complete_structured(send: SendFn, messages: Sequence[Message], answer: type[T], options: CallOptions,
                              answer_retries: int, on_invalid: Callable[[str, str], None] | None = None) -> T:
    """Ask via `send` until an answer validates; `answer_retries` re-asks at most, then `AnswerInvalid`.

    `send` turns (messages, answer model, options) into a `RawAnswer`, adding the schema in the form its
    endpoint wants. `on_invalid(endpoint, feedback)` is told about each invalid answer (accounting).
    """
    chat = list(messages)
    last: RawAnswer | None = None
    problem: AnswerProblem | None = None
    for _ in range(answer_retries + 1):
        last = await send(chat, answer, options)
        try:
            return parse_answer(last, answer)
        except AnswerProblem as exc:
            problem = exc
            if on_invalid is not None:
                on_invalid(last.endpoint, exc.feedback)
        if last.finish_reason == "length":
            # more room, up to the cap; never less than the caller asked for (a limit above the cap stays)
            room = min(_MAX_TOKENS_CAP, max(options.max_tokens * 2, 16))
            options = replace(options, max_tokens=max(options.max_tokens, room))
        chat = feedback_messages(messages, problem)
    assert last is not None and problem is not None
    raise AnswerInvalid(f"no valid {answer.__name__} after {answer_retries + 1} answer(s): {problem.feedback}",
                        last.endpoint, last_answer=last.text)


async def complete_text_checked(send: Callable[[Sequence[Message], CallOptions], Awaitable[RawAnswer]],
                                messages: Sequence[Message], options: CallOptions, answer_retries: int,
                                on_invalid: Callable[[str, str], None] | None = None) -> str:
    """Free text, never empty: an empty reply or no choices is re-asked, then `AnswerInvalid`.
    A reply cut by `max_tokens` is still text the caller asked a limit for, so it is returned as is."""
    last: RawAnswer | None = None
    for _ in range(answer_retries + 1):
        last = await send(messages, options)
        if last.choices and last.text.strip():
            return last.text
        if on_invalid is not None:
            on_invalid(last.endpoint, "empty answer")
    assert last is not None
    raise AnswerInvalid(f"empty answer after {answer_retries + 1} attempt(s)", last.endpoint, last_answer=last.text)
