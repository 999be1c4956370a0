"""What one resident's mind holds between thoughts: the memory stream, today's plans, the memories waiting
to be rated or stored, what it last saw of each thing, the places it knows, and its social timers; and
`Minds`, the residents' minds together as the thought scheduler and the apply step share them.

Owns the per-resident cognitive state and its JSON form (the memory vectors travel separately, see
`smallville.agents.mind`). A stream is only changed at fixed points of a tick, never by a thought in
flight: while any thought that reads it is running (`readers` > 0), new memories wait in `held` and the
accesses retrievals made wait in the thought's result. That is what lets thoughts run concurrently and
still give byte-identical logs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from smallville.agents.memory import Kind, MemoryStream
from smallville.agents.prompts.planning import Schedule, Span
from smallville.agents.settings import AgentSettings
from smallville.core.clock import Clock
from smallville.world.residents import Resident
from smallville.world.town import Town

SpanRow = tuple[int, int, str]


@dataclass(frozen=True)
class PlannedAction:
    """One 5-15 minute action of the current block, with its place (an object's or an arena's address)."""

    start: int  # day minute
    minutes: int
    action: str
    address: str
    state: str = ""  # what the object at `address` shows meanwhile ('': the action)
    spare: str = ""  # another object of the arena for the action, when the one at `address` is full

    @property
    def end(self) -> int:
        return self.start + self.minutes


@dataclass
class NewMemory:
    """A memory on its way into the stream: unrated in the inbox, rated (with its vector) in `held`."""

    description: str
    kind: Kind
    tag: str
    created: int
    subject: str | None = None
    # ids of earlier memories; a negative one counts back from this memory when it is stored (-1: the one
    # stored just before it), for memories stored together whose ids are not known yet (a talk's memo)
    evidence: tuple[int, ...] = ()
    importance: int = 0
    vector: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "kind": self.kind, "tag": self.tag, "created": self.created,
                "subject": self.subject, "evidence": list(self.evidence), "importance": self.importance,
                "vector": self.vector}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NewMemory:
        return cls(d["description"], d["kind"], d["tag"], int(d["created"]), d.get("subject"),
                   tuple(int(e) for e in d.get("evidence", ())), int(d.get("importance", 0)), d.get("vector"))


def spans_of(schedule: Schedule | None) -> list[SpanRow]:
    return [] if schedule is None else [(s.start, s.minutes, s.activity) for s in schedule.spans]


def schedule_of(rows: list[SpanRow] | list[list[Any]]) -> Schedule | None:
    return Schedule(tuple(Span(int(a), int(b), str(c)) for a, b, c in rows)) if rows else None


@dataclass
class ResidentMind:
    resident: Resident
    stream: MemoryStream
    known: list[str]  # arena addresses this resident knows (spatial memory), in the order learnt
    day0: int = -1  # tick of the midnight of the waking day the plans below belong to
    planned_day0: int = -1  # the day0 a day plan has been made (or is being made) for
    wake_at: int = 0  # the tick the resident wakes next (while asleep)
    asleep: bool = True
    day_plan: Schedule | None = None
    hourly: Schedule | None = None
    steps: list[PlannedAction] = field(default_factory=list)  # the current block's actions
    block_start: int = -1  # day minute of the block `steps` belong to
    version: int = 0  # bumped by each re-plan: a block prepared for an older schedule is dropped
    yesterday: str = ""
    inbox: list[NewMemory] = field(default_factory=list)
    held: list[NewMemory] = field(default_factory=list)
    touches: list[tuple[list[int], int]] = field(default_factory=list)  # retrieved (ids, tick), not yet marked
    readers: int = 0  # thoughts in flight that read the stream (restored from the jobs, not saved)
    seen: dict[str, str] = field(default_factory=dict)  # subject -> the last thing perceived of it
    place_memo: dict[str, str] = field(default_factory=dict)  # activity (lower case) -> arena address
    scores: dict[str, int] = field(default_factory=dict)  # observation text -> the importance it was given
    steps_memo: dict[str, list[list[Any]]] = field(default_factory=dict)  # today's decompositions, see planner
    engaged: bool = False  # in (or about to start) a conversation
    talk_until: int = -1
    social_after: int = 0  # no new conversation before this tick
    reflecting: bool = False
    blocks_pending: int = 0  # block preparations in flight for the current schedule (version)
    replanned_at: int = -10**9  # tick of the last re-plan
    react_after: int = 0  # no decision to react to a sight before this tick
    currently: str = ""  # what occupies the resident, as revised this morning ('': the persona's own)

    @property
    def name(self) -> str:
        return self.resident.name

    def revise(self, currently: str) -> None:
        """What occupies the resident now (the morning's status): every prompt's persona says it from now on."""
        if currently:
            self.currently = currently
            self.resident = self.resident.model_copy(update={"currently": currently})

    def step_at(self, minute: int) -> PlannedAction | None:
        return next((s for s in self.steps if s.start <= minute < s.end), None)

    # -- state ------------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "stream": self.stream.state(), "known": list(self.known), "day0": self.day0,
            "planned_day0": self.planned_day0, "wake_at": self.wake_at, "asleep": self.asleep,
            "day_plan": spans_of(self.day_plan), "hourly": spans_of(self.hourly),
            "steps": [[s.start, s.minutes, s.action, s.address, *([s.state, s.spare] if s.state or s.spare else [])]
                      for s in self.steps],
            "block_start": self.block_start, "version": self.version, "yesterday": self.yesterday,
            "inbox": [m.to_dict() for m in self.inbox], "held": [m.to_dict() for m in self.held],
            "touches": [[ids, tick] for ids, tick in self.touches],
            "seen": dict(sorted(self.seen.items())), "place_memo": dict(sorted(self.place_memo.items())),
            "scores": dict(sorted(self.scores.items())),
            "steps_memo": dict(sorted(self.steps_memo.items())),
            "engaged": self.engaged, "talk_until": self.talk_until, "social_after": self.social_after,
            "reflecting": self.reflecting, "blocks_pending": self.blocks_pending,
            "replanned_at": self.replanned_at, "react_after": self.react_after, "currently": self.currently,
        }

    @classmethod
    def from_state(cls, resident: Resident, state: dict[str, Any], vectors: np.ndarray, dim: int) -> ResidentMind:
        mind = cls(resident, MemoryStream.from_state(state["stream"], vectors, dim), list(state["known"]))
        for key in ("day0", "planned_day0", "wake_at", "block_start", "version", "talk_until", "social_after",
                    "blocks_pending", "replanned_at"):
            setattr(mind, key, int(state[key]))
        for key in ("asleep", "engaged", "reflecting"):
            setattr(mind, key, bool(state[key]))
        mind.day_plan, mind.hourly = schedule_of(state["day_plan"]), schedule_of(state["hourly"])
        mind.steps = [PlannedAction(int(a), int(b), str(c), str(d), *map(str, rest))
                      for a, b, c, d, *rest in state["steps"]]
        # absent from checkpoints written before the morning's status and reactions
        mind.react_after = int(state.get("react_after", 0))
        mind.revise(str(state.get("currently", "")))
        mind.yesterday = str(state["yesterday"])
        mind.inbox = [NewMemory.from_dict(d) for d in state["inbox"]]
        mind.held = [NewMemory.from_dict(d) for d in state["held"]]
        mind.touches = [([int(i) for i in ids], int(tick)) for ids, tick in state["touches"]]
        mind.seen, mind.place_memo = dict(state["seen"]), dict(state["place_memo"])
        mind.scores = {str(k): int(v) for k, v in state["scores"].items()}
        mind.steps_memo = {str(k): list(v) for k, v in state["steps_memo"].items()}
        return mind


class Minds:
    """The residents' minds together, with what they think in (town, clock, settings) and the counters the
    run reports (`stats`). The one state the thought scheduler (`smallville.agents.mind`) and the apply
    step (`smallville.agents.apply`) both work on, so that neither reaches into the other."""

    def __init__(self, town: Town, clock: Clock, settings: AgentSettings, residents: dict[str, ResidentMind]):
        self.town, self.clock, self.settings = town, clock, settings
        self.residents = residents  # by name, in the residents file's order
        self.order = list(residents)
        self.rank = {name: i for i, name in enumerate(self.order)}  # a resident's place in the residents file
        self.stats: Counter[str] = Counter()

    def __getitem__(self, name: str) -> ResidentMind:
        return self.residents[name]

    def in_order(self, names: Iterable[str]) -> list[str]:
        """`names` once each, in the residents file's order: how anything naming several residents is
        walked, so that what it emits never follows the order in which thoughts finished or a set iterates."""
        return sorted(set(names), key=self.rank.__getitem__)

    def ticks(self, minutes: float) -> int:
        return self.clock.ticks(minutes)


def starting_places(resident: Resident, town: Town) -> list[str]:
    """The arenas a resident knows at the start: `knows`, plus home and workplace (a resident always knows
    where they live and work, even where the source data forgot it)."""
    places = [resident.home, *([resident.workplace] if resident.workplace else []), *resident.knows]
    out: list[str] = []
    for sector, arena in places:
        address = town.arena(sector, arena).address
        if address not in out:
            out.append(address)
    return out


def place_label(address: str) -> str:
    """'the Ville:Hobbs Cafe:cafe' -> 'Hobbs Cafe: cafe' (what a prompt shows)."""
    parts = address.split(":")
    return ": ".join(parts[1:3]) if len(parts) >= 3 else address
