"""How news travels, read from the event log alone: who first held each seeded fact, when, and from whom.

Owns the log's side of the diffusion study. A resident *holds* a fact from its first memory that carries it
(`Fact.carried_by`, the scenario's evidence words). Where that memory came from says who passed it on:

- the holder's seeded thought: the origin (`source` "");
- a conversation: the partner, when a line the partner said carries the fact (or when no single line does
  and the talk as a whole does); "self" when only the resident's own lines carry it (it raised the news
  before anyone told it: invented, or a small model's lucky guess);
- an observation: whom it was about, else "?"; an inner voice: "inner voice"; a plan or reflection: "self".

From the holdings come the awareness curve (residents holding the fact at each game hour) and the cascade
(who told whom, and when), each step with the tick the replay can jump to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from smallville.core import events as ev
from smallville.world.scenario import Fact

ORIGIN = ""
SELF = "self"
UNKNOWN = "?"


@dataclass(frozen=True)
class Holding:
    """When and how one resident came to hold one fact."""

    who: str
    t: int  # the tick of the first memory carrying it
    memory: int  # that memory's id in the resident's stream
    tag: str  # the memory's tag: seed, conversation, observation, ...
    source: str  # who passed it on (see the module's docstring)
    convo: int | None = None  # the conversation it came through, if one
    line: str = ""  # the line that carried it, if one did

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TalkIndex:
    """The conversations of a log: which conversation a `conversation` memory records, and its lines."""

    def __init__(self, events: Iterable[ev.Event]):
        self.started: dict[tuple[frozenset[str], int], int] = {}
        self.lines: dict[int, list[ev.Say]] = defaultdict(list)
        for e in events:
            if isinstance(e, ev.Converse) and e.lines:
                self.started[(frozenset((e.who, e.to)), e.t)] = e.convo
            elif isinstance(e, ev.Say):
                self.lines[e.convo].append(e)

    def convo_of(self, memory: ev.Remember) -> int | None:
        """The conversation a `conversation` memory records (both memories are made the tick it starts)."""
        if memory.subject is None:
            return None
        return self.started.get((frozenset((memory.who, memory.subject)), memory.t))


def holdings(events: Sequence[ev.Event], fact: Fact, talks: TalkIndex | None = None) -> dict[str, Holding]:
    """Each resident that came to hold `fact`, with the first memory that carries it."""
    talks = talks or TalkIndex(events)
    held: dict[str, Holding] = {}
    for e in events:
        if not isinstance(e, ev.Remember) or e.who in held or not fact.carried_by(e.text):
            continue
        held[e.who] = _holding(e, fact, talks)
    return held


def _holding(memory: ev.Remember, fact: Fact, talks: TalkIndex) -> Holding:
    base = {"who": memory.who, "t": memory.t, "memory": memory.id, "tag": memory.tag}
    if memory.tag == "seed":
        return Holding(**base, source=ORIGIN)
    if memory.tag == "conversation":
        convo = talks.convo_of(memory)
        carrying = [s for s in talks.lines.get(convo, []) if fact.carried_by(s.text)] if convo is not None else []
        partner = memory.subject or UNKNOWN
        if not carrying:
            return Holding(**base, source=partner, convo=convo)
        theirs = [s for s in carrying if s.who != memory.who]
        if theirs:
            return Holding(**base, source=theirs[0].who, convo=convo, line=theirs[0].text)
        return Holding(**base, source=SELF, convo=convo, line=carrying[0].text)
    if memory.tag == "observation":
        return Holding(**base, source=memory.subject or UNKNOWN)
    if memory.tag == "inner_voice":
        return Holding(**base, source="inner voice")
    return Holding(**base, source=SELF)


def curve(held: dict[str, Holding], first: int, last: int, step: int) -> list[tuple[int, int]]:
    """(tick, residents holding the fact by then) every `step` ticks from `first`, ending at `last`."""
    if step <= 0:
        raise ValueError("step must be positive")
    ticks = sorted(h.t for h in held.values())
    points, i = [], 0
    marks = [*range(first, last, step), last]
    for mark in marks:
        while i < len(ticks) and ticks[i] <= mark:
            i += 1
        points.append((mark, i))
    return points


def cascade(held: dict[str, Holding]) -> list[tuple[str, str, int]]:
    """(teller, told, tick) for each resident told by another resident, in the order it happened."""
    edges = [(h.source, h.who, h.t) for h in held.values() if h.source in held and h.source != h.who]
    return sorted(edges, key=lambda e: (e[2], e[1]))


def tellings(events: Iterable[ev.Event], fact: Fact) -> list[ev.Say]:
    """Every line that carries the fact, in order (the invitations, for a gathering)."""
    return [e for e in events if isinstance(e, ev.Say) and fact.carried_by(e.text)]
