"""Typed events: everything that happens in the town, as the save records it.

Owns the event vocabulary and its wire form. The event log is the single source of truth: the live
window, the replay and the evaluation fold these same events. Each event is one JSON object per line,
`{"k": kind, "t": tick, ...}`; msgspec gives typed, fast and byte-stable encoding (fields in declared
order), which the determinism tests rely on. Any change to a kind's fields bumps `SCHEMA_VERSION`.
"""

from __future__ import annotations

import msgspec

SCHEMA_VERSION = 1


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


AnyEvent = ClockMark | Spawned | Walk | Act | ObjectState
KINDS: tuple[str, ...] = tuple(sorted(c.__struct_config__.tag for c in AnyEvent.__args__))  # type: ignore[attr-defined]

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
    """JSON-safe dict form (for `inspect --json` and reports)."""
    return msgspec.json.decode(_encoder.encode(event))
