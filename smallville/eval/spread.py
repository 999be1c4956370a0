"""How news travels, read from the event log alone: who first held each seeded fact, when, and from whom.

Owns the log's side of the diffusion study. A resident *holds* a fact from its first memory that carries it
(`Fact.carried_by`, the scenario's evidence words). Where that memory came from says who passed it on:

- the holder's seeded thought: the origin (`source` "");
- a conversation: the partner, when a line the partner said carries the fact (or when no single line does
  and the talk as a whole does); "self" when only the resident's own lines carry it (it raised the news
  before anyone told it: invented, or a small model's lucky guess);
- an observation: whom it was about, else "?"; an inner voice: "inner voice"; a plan or reflection: "self";
- a memo or planning thought a resident wrote of a talk (stored with its transcript: the transcript comes
  first when it carries the fact too): the partner of that talk.

From the holdings come the awareness curve (residents holding the fact at each game hour) and the cascade
(who told whom, and when), each step with the tick the replay can jump to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from smallville.agents.memory import TALK_MEMO, TALK_PLAN
from smallville.core import events as ev
from smallville.world.scenario import Fact

ORIGIN = ""
SELF = "self"
UNKNOWN = "?"


@dataclass(frozen=True)
class Holding:
    """When and how one resident came to hold one fact."""

    who: str
    t: int  # when it heard it: the talk's start for a conversation, else when the memory was stored
    memory: int  # that memory's id in the resident's stream
    tag: str  # the memory's tag: seed, conversation, observation, ...
    source: str  # who passed it on (see the module's docstring)
    convo: int | None = None  # the conversation it came through, if one
    line: str = ""  # the line that carried it, if one did
    stored: int = -1  # when the memory was stored (a talk's memory waits for its rating)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TalkIndex:
    """The conversations of a log that were held (a start with at least one line said: a talk cut off by
    sleep is logged as started but has no lines and leaves no memory), their lines, and which of them each
    `conversation` memory records.

    A memory is stored when it is rated, which can be hours after the talk, so it is matched by order: the
    k-th conversation memory a resident keeps of another is of their k-th talk (each held talk leaves one
    memory on each side, kept in the order the talks happened)."""

    def __init__(self, events: Sequence[ev.Event]):
        self.lines: dict[int, list[ev.Say]] = defaultdict(list)
        for e in events:
            if isinstance(e, ev.Say):
                self.lines[e.convo].append(e)
        self.held: list[ev.Converse] = [e for e in events if isinstance(e, ev.Converse) and self.lines.get(e.convo)]
        by_pair: dict[frozenset[str], list[ev.Converse]] = defaultdict(list)
        for c in self.held:
            by_pair[frozenset((c.who, c.to))].append(c)
        self._of: dict[tuple[str, int], ev.Converse] = {}
        kept: dict[tuple[str, str], int] = defaultdict(int)
        for e in events:
            if isinstance(e, ev.Remember) and e.tag == "conversation" and e.subject is not None:
                k = kept[(e.who, e.subject)]
                kept[(e.who, e.subject)] += 1
                talks = by_pair.get(frozenset((e.who, e.subject)), [])
                if k < len(talks) and talks[k].t <= e.t:
                    self._of[(e.who, e.id)] = talks[k]

    def convo_of(self, memory: ev.Remember) -> tuple[int, int] | None:
        """(start tick, id) of the conversation a `conversation` memory records, if it is known."""
        talk = self._of.get((memory.who, memory.id))
        return (talk.t, talk.convo) if talk else None


def holdings(events: Sequence[ev.Event], fact: Fact, talks: TalkIndex | None = None) -> dict[str, Holding]:
    """Each resident that came to hold `fact`, with the first memory that carries it (the first stored:
    memories are stored in the order residents come to have them)."""
    talks = talks or TalkIndex(events)
    held: dict[str, Holding] = {}
    for e in events:
        if not isinstance(e, ev.Remember) or e.who in held or not fact.carried_by(e.text):
            continue
        held[e.who] = _holding(e, fact, talks)
    return held


def _holding(memory: ev.Remember, fact: Fact, talks: TalkIndex) -> Holding:
    base: dict[str, Any] = {"who": memory.who, "t": memory.t, "memory": memory.id, "tag": memory.tag,
                            "stored": memory.t}
    if memory.tag == "seed":
        return Holding(**base, source=ORIGIN)
    if memory.tag == "conversation":
        found = talks.convo_of(memory)
        convo = found[1] if found else None
        if found:
            base["t"] = found[0]
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
    if memory.tag in (TALK_MEMO, TALK_PLAN):
        return Holding(**base, source=memory.subject or UNKNOWN)
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
