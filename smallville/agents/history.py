"""A resident's mind as it was at a moment, read back from the event log (no pygame here).

Owns what the inspector shows beside the persona: today's plan (the broad chunks, the hourly blocks and the
block's current actions), the latest memories with their importance, reflections with the memories they
cite, and the relationships formed in conversation (with whom, how often, the last thing said). Built from
`plan`, `memory`, `retrieve`, `converse` and `say` events with tick <= the moment, so a replay shows a resident exactly
as it was then: nothing it learnt later leaks in. `memories_at` and `accesses_at` serve the interview as of a
moment; `personas_of` reads the personas a save was made with.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smallville.config import resolve_path
from smallville.core.events import Converse, Event, Plan, Remember, Retrieve, Say
from smallville.world.datafile import read_data_file
from smallville.world.residents import Resident, ResidentsFile


@dataclass
class Talk:
    """Conversations with one other resident, up to the moment."""

    other: str
    times: int = 0
    last_t: int = 0
    last_line: str = ""


@dataclass
class MindAt:
    """What the inspector shows of one resident at one tick."""

    name: str
    tick: int
    day_plan: list[tuple[int, int, str]] = field(default_factory=list)  # (day minute, minutes, activity)
    hourly: list[tuple[int, int, str]] = field(default_factory=list)
    actions: list[tuple[int, int, str]] = field(default_factory=list)
    replanned: str = ""  # why the hourly plan shown was re-made, if it was
    memories: list[Remember] = field(default_factory=list)  # newest first
    reflections: list[tuple[Remember, list[Remember]]] = field(default_factory=list)  # (insight, cited), newest first
    talks: list[Talk] = field(default_factory=list)  # most talked-with first
    memory_count: int = 0


class History:
    """Every resident's plans, memories and talks from a log, indexed by tick."""

    def __init__(self, events: Sequence[Event]):
        self._memories: dict[str, list[Remember]] = defaultdict(list)
        self._plans: dict[str, list[Plan]] = defaultdict(list)
        self._talk_events: dict[str, list[Event]] = defaultdict(list)
        self._memory_ticks: dict[str, list[int]] = {}
        self._plan_ticks: dict[str, list[int]] = {}
        self._talk_ticks: dict[str, list[int]] = {}
        self._retrievals: dict[str, list[Retrieve]] = defaultdict(list)
        self._retrieval_ticks: dict[str, list[int]] = {}
        for event in events:
            self.add(event)

    def add(self, event: Event) -> None:
        """Fold one more event in (a live run's log grows; events arrive in tick order)."""
        for who, store, ticks in self._targets(event):
            store[who].append(event)
            ticks.setdefault(who, []).append(event.t)

    def _targets(self, event: Event) -> list[tuple[str, dict, dict]]:
        if isinstance(event, Remember):
            return [(event.who, self._memories, self._memory_ticks)]
        if isinstance(event, Plan):
            return [(event.who, self._plans, self._plan_ticks)]
        if isinstance(event, Retrieve):
            return [(event.who, self._retrievals, self._retrieval_ticks)]
        if (isinstance(event, Converse) and event.lines) or isinstance(event, Say):
            return [(event.who, self._talk_events, self._talk_ticks), (event.to, self._talk_events, self._talk_ticks)]
        return []

    def memories_at(self, name: str, tick: int) -> list[Remember]:
        """The resident's memories made at or before `tick`, oldest first."""
        end = bisect.bisect_right(self._memory_ticks.get(name, []), tick)
        return self._memories.get(name, [])[:end]

    def accesses_at(self, name: str, tick: int) -> list[tuple[int, tuple[int, ...]]]:
        """(tick, memory ids) of the resident's retrievals at or before `tick` (what marked them accessed)."""
        end = bisect.bisect_right(self._retrieval_ticks.get(name, []), tick)
        return [(r.t, tuple(r.ids)) for r in self._retrievals.get(name, [])[:end]]

    def mind_at(self, name: str, tick: int, recent: int = 12, reflections: int = 5) -> MindAt:
        mind = MindAt(name, tick)
        memories = self.memories_at(name, tick)
        mind.memory_count = len(memories)
        mind.memories = list(reversed(memories[-recent:]))
        by_id = {m.id: m for m in memories}
        insights = [m for m in memories if m.tag == "reflection"]
        mind.reflections = [(m, [by_id[i] for i in m.evidence if i in by_id])
                            for m in reversed(insights[-reflections:])]
        end = bisect.bisect_right(self._plan_ticks.get(name, []), tick)
        for plan in self._plans.get(name, [])[:end]:
            spans = [tuple(s) for s in plan.spans]
            if plan.level == "day":
                mind.day_plan, mind.hourly, mind.actions, mind.replanned = spans, [], [], ""  # type: ignore[assignment]
            elif plan.level == "hourly":
                mind.hourly, mind.replanned = spans, plan.reason  # type: ignore[assignment]
            elif plan.level == "actions":
                mind.actions = spans  # type: ignore[assignment]
        end = bisect.bisect_right(self._talk_ticks.get(name, []), tick)
        talks: dict[str, Talk] = {}
        for event in self._talk_events.get(name, [])[:end]:
            if isinstance(event, Converse):
                other = event.to if event.who == name else event.who
                talk = talks.setdefault(other, Talk(other))
                talk.times += 1
                talk.last_t = event.t
            elif isinstance(event, Say):
                other = event.to if event.who == name else event.who
                talk = talks.setdefault(other, Talk(other))
                talk.last_line, talk.last_t = f"{event.who.split()[0]}: {event.text}", event.t
        mind.talks = sorted(talks.values(), key=lambda t: (-t.times, -t.last_t, t.other))
        return mind


def personas_of(manifest: Mapping[str, Any], configured: str) -> dict[str, Resident]:
    """The residents (with their personas) of the file a save's manifest names, else the configured one.
    Raises a `SmallvilleError` naming the file when it cannot be read."""
    path = resolve_path(manifest.get("residents", {}).get("path") or configured)
    found = read_data_file(path, ResidentsFile, "residents", "residents", "resident", "name").residents
    return {r.name: r for r in found}
