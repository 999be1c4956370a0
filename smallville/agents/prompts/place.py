"""Where an action happens, and what it does to the object used.

Owns the place-choice prompt, asked level by level down the resident's known address tree (sector, then
arena, then object, as in Park et al. 2023), and the object-state prompt ("coffee machine: brewing coffee"),
for one use or (`render_object_states`) for all the uses of a block's actions in one call.

The options at each level are the resident's KNOWN addresses at call time (checked against the map by the
caller), and the answer model is built from them: `choice` is a Literal of exactly those strings, so a
grammar-constrained model cannot name a place that does not exist. `check` still maps a near miss (other
case, a typo, a part of the name; e.g. from a replay or a prompt-mode endpoint) to the closest known
option and rejects what is not close to any. A level with one option needs no call (`only_option`).

Prompt sizes: a choice ~40-90 tokens in (persona line, action, ~5-12 options), answer ~10-20; object state
~45 tokens in, answer <= ~15; a block's object states ~50 + ~10 per use in, ~12 per use out.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from smallville.agents.prompts.common import (
    AnswerRejected,
    Step,
    bounded_text,
    clean_text,
    closest,
    count_fallback,
    has_words,
    numbered,
    one_of,
    shorten,
)
from smallville.inference.base import Message

Level = Literal["sector", "arena", "object"]
PLACE = Step("place", max_tokens=48, temperature=0.3)
OBJECT_STATE = Step("object_state", max_tokens=32)

_ASK = {
    "sector": "Which area of town do you go to for this?",
    "arena": "Which room or spot in {within} do you use?",
    "object": "Which thing in {within} do you use?",
}


class PlaceChoice(BaseModel):
    choice: str


@lru_cache(maxsize=1024)
def _model(options: tuple[str, ...]) -> type[PlaceChoice]:
    return create_model("PlaceChoice", __base__=PlaceChoice, choice=(one_of(options), ...))


def answer_model(options: Sequence[str]) -> type[PlaceChoice]:
    """`{"choice": <one of options>}`, built once per option list (so its schema is shared too)."""
    opts = tuple(dict.fromkeys(options))
    if not opts:
        raise ValueError("a place choice needs at least one option")
    return _model(opts)


def only_option(options: Sequence[str]) -> str | None:
    """The answer without a call when there is nothing to choose."""
    opts = list(dict.fromkeys(options))
    return opts[0] if len(opts) == 1 else None


def render(level: Level, name: str, action: str, options: Sequence[str], *, within: str = "",
           here: str = "") -> list[Message]:
    """`within`: the chosen sector (for arenas) or arena (for objects); `here`: where the resident is now
    (people prefer not to walk across town for a small thing)."""
    where = f" You are at {here}." if here else ""
    question = _ASK[level].format(within=within or "there")
    return [Message("user", f"{name} is about to: {shorten(action, 100)}.{where}\n{question}\n"
                            f"Options: {'; '.join(dict.fromkeys(options))}.")]


def check(answer: PlaceChoice, options: Sequence[str], level: Level = "sector") -> PlaceChoice:
    """The answer as one of `options` exactly, or `AnswerRejected` when it names none of them."""
    known = closest(str(answer.choice), list(dict.fromkeys(options)))
    if known is None:
        raise AnswerRejected(PLACE.name, f"{level} {answer.choice!r} is not among the known {level}s")
    return answer_model(options)(choice=known)


def fallback(options: Sequence[str], preferred: Sequence[str] = (), level: Level = "sector",
             reason: str = "") -> PlaceChoice:
    """The first of `preferred` that is an option (the caller passes e.g. where the resident is, their
    workplace, their home), else the first option."""
    count_fallback(PLACE.name, reason or f"default {level}")
    opts = list(dict.fromkeys(options))
    pick = next((p for p in preferred if p in opts), opts[0])
    return answer_model(opts)(choice=pick)


# -- object state ---------------------------------------------------------------------------------------


class ObjectState(BaseModel):
    state: bounded_text(40)  # type: ignore[valid-type]


def render_object_state(name: str, action: str, thing: str) -> list[Message]:
    return [Message("user", f"{name} uses the {thing} to: {shorten(action, 100)}.\n"
                            f"In a few words, what is the {thing} doing or how is it now? (e.g. 'brewing coffee')")]


def _state(text: str, thing: str) -> str:
    """A few words of state, without a repeated 'the <thing> is' in front ('' when wordless)."""
    text = clean_text(text, 40)
    lower = text.lower()
    for prefix in (f"the {thing.lower()} is ", f"{thing.lower()} is ", f"the {thing.lower()}: ", f"{thing.lower()}: "):
        if lower.startswith(prefix):
            text = text[len(prefix):].strip()
            break
    return text.rstrip(".") if has_words(text) else ""


def check_object_state(answer: ObjectState, thing: str) -> ObjectState:
    """A few words of state, without a repeated 'the <thing> is' in front; rejected when wordless."""
    text = _state(answer.state, thing)
    if not text:
        raise AnswerRejected(OBJECT_STATE.name, f"no state in {answer.state!r}")
    return ObjectState(state=text)


def fallback_object_state(action: str = "", reason: str = "") -> ObjectState:
    count_fallback(OBJECT_STATE.name, reason or "generic state")
    return ObjectState(state="in use" if action else "idle")


# -- the object states of a block's actions, in one call ------------------------------------------------

#: What an object shows when its state is not asked (the economy profile) or could not be had.
IN_USE = "in use"
Uses = Sequence[tuple[str, str]]  # (action, the object's kind)


class ObjectStates(BaseModel):
    states: list[bounded_text(40)]  # type: ignore[valid-type]


@lru_cache(maxsize=32)
def states_model(n: int) -> type[ObjectStates]:
    """Exactly n states (built once per n)."""
    if n < 1:
        raise ValueError("object states need at least one use")
    # an annotation built at run time (see `common.one_of`)
    states: Any = list[bounded_text(40)]  # type: ignore[misc]
    return create_model("ObjectStates", __base__=ObjectStates, states=(states, Field(min_length=n, max_length=n)))


def states_step(n: int) -> Step:
    """The call settings for n states: room for each and the JSON around them."""
    return Step(OBJECT_STATE.name, max_tokens=16 + 14 * n, temperature=OBJECT_STATE.temperature)


def render_object_states(name: str, uses: Uses) -> list[Message]:
    """What each object shows while `name` uses it for an action (the paper's object state, one call a block)."""
    listed = numbered([f"{shorten(action, 80)} (the {thing})" for action, thing in uses], None)
    return [Message("user", f"{name} is about to do these things, each with the thing named:\n{listed}\n"
                            f"In a few words each, what does the thing show while {name} uses it (e.g. 'brewing "
                            f"coffee' for a coffee machine)? One per line, in order.")]


def check_object_states(answer: ObjectStates, uses: Uses) -> ObjectStates:
    """One state per use, each as `check_object_state` keeps it; a missing or wordless one is `IN_USE`;
    rejected when none has words."""
    got = [_state(str(s), thing) for s, (_, thing) in zip(answer.states, uses, strict=False)]
    if not any(got):
        raise AnswerRejected(OBJECT_STATE.name, "no state has words")
    got += [""] * (len(uses) - len(got))
    return states_model(len(uses))(states=[s or IN_USE for s in got])


def fallback_object_states(uses: Uses, reason: str = "") -> ObjectStates:
    count_fallback(OBJECT_STATE.name, reason or "in use")
    return states_model(len(uses))(states=[IN_USE] * len(uses))
