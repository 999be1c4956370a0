"""Who came to a gathering a fact announces (Isabella's party), and who had been invited, from the log.

Owns attendance: a guest came if it stood in the gathering's arena at some tick of its time (the fact's
holder is the host, not a guest: `host_there` says whether it was there).
Where a resident is comes from its `act` events (each lasts until the next one) and, when it had to walk
there, from its `walk` (it is there from the walk's last step). Invitations are the lines that carry the
fact, said to someone before the gathering starts: the paper's "invited".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from smallville.core import events as ev
from smallville.core.clock import Clock
from smallville.world.scenario import Fact, Gathering


@dataclass
class Attendance:
    place: str  # the arena's address
    start: int  # ticks
    end: int
    reached: bool  # whether the log goes as far as the gathering's end
    came: dict[str, int] = field(default_factory=dict)  # guest -> first tick seen there
    host_there: bool = False
    invited: dict[str, tuple[str, int]] = field(default_factory=dict)  # resident -> (by whom, tick)

    @property
    def invited_and_came(self) -> list[str]:
        return sorted(set(self.came) & set(self.invited))

    def to_dict(self) -> dict[str, Any]:
        return {"place": self.place, "start": self.start, "end": self.end, "reached": self.reached,
                "host_there": self.host_there,
                "came": dict(sorted(self.came.items())),
                "invited": {k: {"by": by, "t": t} for k, (by, t) in sorted(self.invited.items())},
                "invited_and_came": self.invited_and_came}


def _window(gathering: Gathering, clock: Clock) -> tuple[int, int]:
    zero = clock.time(0)
    start = round((gathering.start - zero).total_seconds() / clock.tick_seconds)
    end = round((gathering.end - zero).total_seconds() / clock.tick_seconds)
    return start, end


def attendance(events: Sequence[ev.Event], fact: Fact, clock: Clock, world: str) -> Attendance | None:
    """Who came to the fact's gathering and who was told of it beforehand (None if it announces none)."""
    gathering = fact.gathering
    if gathering is None:
        return None
    start, end = _window(gathering, clock)
    place = f"{world}:{gathering.place}"
    result = Attendance(place, start, end, reached=bool(events) and events[-1].t >= end - 1)
    arrivals = {(e.who, e.t): e.t + len(e.path) - 1 for e in events if isinstance(e, ev.Walk) and e.path}
    here: dict[str, int] = {}  # resident -> tick from which it is at the place (while its act lasts)

    def leave(who: str, t: int) -> None:
        since = here.pop(who, None)
        if since is not None and since < end and t > start and since < t:
            result.came.setdefault(who, max(since, start))

    for e in events:
        if isinstance(e, ev.Act):
            leave(e.who, e.t)
            if e.at == place or e.at.startswith(place + ":"):
                here[e.who] = arrivals.get((e.who, e.t), e.t)
        elif isinstance(e, ev.Say) and fact.carried_by(e.text) and e.t < start and e.to != fact.holder:
            result.invited.setdefault(e.to, (e.who, e.t))
    last = events[-1].t + 1 if events else 0
    for who in list(here):
        leave(who, last)
    result.host_there = result.came.pop(fact.holder, None) is not None
    return result
