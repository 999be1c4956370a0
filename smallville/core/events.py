"""Typed events: everything that happens in the town, as the save records it.

Owns the event vocabulary and its wire form. The event log is the single source of truth: the live
window, the replay and the evaluation fold these same events. Each event is one JSON object per line,
`{"k": kind, "t": tick, ...}`; msgspec gives typed, fast and byte-stable encoding (fields in declared
order), which the determinism tests rely on. Any change to a kind's fields bumps `SCHEMA_VERSION`.
"""

from __future__ import annotations

from typing import Any

import msgspec

SCHEMA_VERSION = 2


class Event(msgspec.Struct, frozen=True, tag_field="k"):
    t: int  # the tick at which it happened


class ClockMark(Event, frozen=True, tag="clock"):
    """A game-minute mark: the log shows how far the town got even when nothing else happened."""


class Spawned(Event, frozen=True, tag="spawned"):
    who: str
    x: int
    y: int
    home: str  # the arena address of the resident's home


class Walk(Event, frozen=True, tag="walk"):
    """A resident sets off: at tick t+i it stands on path[i]; it arrives at t+len(path)-1."""

    who: str
    to: str  # destination address
    path: tuple[tuple[int, int], ...]


class Act(Event, frozen=True, tag="act"):
    """A resident starts doing something at a place until a tick (walking there first if needed)."""

    who: str
    action: str
    at: str  # address
    emoji: str
    until: int


class ObjectState(Event, frozen=True, tag="object"):
    """An object's state changes ('idle' is the state of an unused object)."""

    at: str  # object address
    state: str


# -- the minds (schema 2): what residents think, each event names the resident it belongs to --------------


class Plan(Event, frozen=True, tag="plan"):
    """A plan made: `level` is "day" (broad chunks), "hourly" (blocks; also a re-plan from now), or
    "actions" (the 5-15 minute steps of one block). Spans are (day minute, minutes, activity), day minutes
    counted from the midnight of the resident's waking day; `day` is that midnight's tick."""

    who: str
    level: str
    day: int
    spans: tuple[tuple[int, int, str], ...]
    reason: str = ""  # why a re-plan happened


class Remember(Event, frozen=True, tag="memory"):
    """A memory added to a resident's stream (its id is its position there)."""

    who: str
    id: int
    kind: str  # event | chat | thought
    tag: str  # observation, conversation, plan, reflection, seed, inner_voice
    text: str
    importance: int
    evidence: tuple[int, ...] = ()
    subject: str | None = None


class Retrieve(Event, frozen=True, tag="retrieve"):
    """Memories that came to mind for a query, with their scores (recency, importance, relevance, total)."""

    who: str
    purpose: str
    query: str
    ids: tuple[int, ...]
    scores: tuple[tuple[float, float, float, float], ...]


class Say(Event, frozen=True, tag="say"):
    """One utterance of a conversation."""

    who: str
    to: str
    text: str
    convo: int
    end: bool = False


class Converse(Event, frozen=True, tag="converse"):
    """A conversation starts (its lines follow as `say` events) or is declined (`lines` 0)."""

    convo: int
    who: str  # who started it
    to: str
    lines: int
    reason: str = ""


class Reflect(Event, frozen=True, tag="reflect"):
    """A reflection: the questions asked and the insights drawn (each becomes a `memory` event, tag
    "reflection", whose evidence ids are the memories it cites: the reflection tree)."""

    who: str
    questions: tuple[str, ...]
    insights: tuple[str, ...]


class Fallback(Event, frozen=True, tag="fallback"):
    """A cognitive step used its default instead of a model answer (counted, never silent)."""

    who: str
    step: str
    reason: str = ""


AnyEvent = (ClockMark | Spawned | Walk | Act | ObjectState
            | Plan | Remember | Retrieve | Say | Converse | Reflect | Fallback)
KINDS: tuple[str, ...] = tuple(sorted(c.__struct_config__.tag for c in AnyEvent.__args__))

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


def encode(event: Event) -> bytes:
    """One event as a JSON line (with the trailing newline)."""
    return _encoder.encode(event) + b"\n"


def encode_many(events: list[Event]) -> bytes:
    return b"".join(_encoder.encode(e) + b"\n" for e in events)


def decode(line: bytes) -> Event:
    """Parse one line. Raises `msgspec.DecodeError` or `msgspec.ValidationError`."""
    return _decoder.decode(line)


def to_dict(event: Event) -> dict:
    """JSON-safe dict form (for `inspect --json`, reports and checkpoints)."""
    return msgspec.json.decode(_encoder.encode(event))


def from_dict(data: dict[str, Any]) -> Event:
    """The event `to_dict` gave. Raises `msgspec.ValidationError`."""
    return msgspec.convert(data, AnyEvent)
