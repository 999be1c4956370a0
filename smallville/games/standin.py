"""Stand-in players: answers to the game's prompts known in advance, for tests and the benchmark.

Owns `answer(messages, schema)` (the fake server's `answers="smallville.games.standin:answer"` hook) and
`StandInModel`, the same answers as an in-process `LanguageModel`. Never used for a real game. What a stand-in
says is written into the prompt, so a test knows every answer before the game is played: a player whose
background holds `stand-in: 42` reports 42 in round 1 and half its previous number each later round (42, 21,
10.5: a known mean per round); `stand-in: garbage` answers something that is not JSON, `stand-in: 150` a number
out of range (both invalid after the re-asks), `stand-in: none` a reply with no number (two-call), and
`stand-in: fail` makes the in-process model's call fail (the fake server's own fault modes do that over HTTP).
Without a marker the number comes from a hash of the rules and the first question (the same for every
player of a plain variant).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from smallville.games.calls import add_usage, current_place
from smallville.inference.base import AnswerInvalid, CallOptions, EndpointUnavailable, Message

T = TypeVar("T", bound=BaseModel)
_MARK = re.compile(r"stand-in: (\S+)")
_ROUNDS = re.compile(r"The winning number of round \d+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _spec(messages: Sequence[dict[str, Any]], given: str | None = None) -> str:
    if given is not None:
        return given
    system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
    found = _MARK.search(system)
    if found:
        return found.group(1).rstrip(".;,")
    first = next((str(m.get("content", "")) for m in messages if m.get("role") == "user"), "")
    digest = hashlib.blake2b(f"{system}|{first}".encode(), digest_size=8).digest()
    return str(int.from_bytes(digest, "little") % 101)


def number_for(messages: Sequence[dict[str, Any]], given: str | None = None) -> float | str:
    """The stand-in's number this round (halved each round after the first), or its fault ("garbage", ...);
    `given`: the spec itself, else the prompt's marker."""
    spec = _spec(messages, given)
    try:
        base = float(spec)
    except ValueError:
        return spec
    rounds_before = sum(len(_ROUNDS.findall(str(m.get("content", "")))) for m in messages if m.get("role") == "user")
    return base / 2 ** min(rounds_before, 60) if rounds_before else base


def answer(messages: Sequence[dict[str, Any]], schema: dict[str, Any], given: str | None = None) -> str:
    """The JSON text a stand-in answers with (see the module docstring)."""
    title = str(schema.get("title", ""))
    if title == "Extracted":  # the second call of two-call parsing: read the number in the reply
        system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
        reply = system.partition("\n\n")[2]
        found = _NUMBER.search(reply)
        return json.dumps({"number": float(found.group()) if found else None})
    said = number_for(messages, given)
    if said == "garbage":
        return "I would rather not say {"
    if said == "none":
        said = 0.0
    if isinstance(said, str):
        return json.dumps({"number": 0.0})
    out: dict[str, Any] = {"number": said}
    if "reasoning" in (schema.get("properties") or {}):
        out = {"reasoning": "A stand-in does not think.", "number": said}
    return json.dumps(out)


def reply_text(messages: Sequence[dict[str, Any]], given: str | None = None) -> str:
    """A free-text reply (two-call parsing's first call)."""
    said = number_for(messages, given)
    if said in ("none", "garbage"):
        return "I cannot decide on a number."
    if isinstance(said, str):
        return "My number is 0."
    return f"Thinking it over, I report {said:g}."


class StandInModel:
    """The stand-ins in-process: `latency_s` per call plus up to `jitter_s` (from `order_seed`, so calls complete
    in a shuffled order), tokens counted as the fake server counts them (characters / 4). `specs[i]`, when
    given, is player i's stand-in (found through the call's place), for variants whose prompt holds no
    background."""

    def __init__(self, latency_s: float = 0.0, jitter_s: float = 0.0, order_seed: int = 0,
                 specs: Sequence[str] | None = None):
        self.latency_s, self.jitter_s = latency_s, jitter_s
        self._order = random.Random(order_seed)
        self.specs = list(specs) if specs is not None else None
        self.calls = 0

    def _given(self) -> str | None:
        place = current_place()
        return self.specs[place.agent] if self.specs is not None and place is not None else None

    def __repr__(self) -> str:
        return f"StandInModel(latency_s={self.latency_s}, jitter_s={self.jitter_s})"

    async def _wait(self, raw: list[dict[str, Any]]) -> None:
        self.calls += 1
        delay = self.latency_s + self._order.random() * self.jitter_s
        if delay:
            await asyncio.sleep(delay)
        if number_for(raw, self._given()) == "fail":
            raise EndpointUnavailable("the stand-in's call failed", "standin")

    async def complete_model(self, messages: Sequence[Message], answer_model: type[T], options: CallOptions) -> T:
        raw = [{"role": m.role, "content": m.content} for m in messages]
        await self._wait(raw)
        text = answer(raw, answer_model.model_json_schema(), self._given())
        add_usage(sum(len(m.content) for m in messages) // 4 + 1, len(text) // 4 + 1)
        try:
            return answer_model.model_validate_json(text)
        except ValueError:
            raise AnswerInvalid("the stand-in's answer does not fit", "standin", last_answer=text) from None

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        raw = [{"role": m.role, "content": m.content} for m in messages]
        await self._wait(raw)
        text = reply_text(raw, self._given())
        add_usage(sum(len(m.content) for m in messages) // 4 + 1, len(text) // 4 + 1)
        return text
