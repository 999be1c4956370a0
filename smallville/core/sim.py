"""The simulation: residents in the town, advanced one tick at a time, emitting events.

Owns `Simulation.step()` and the full state a checkpoint holds. It is pure given its inputs: no wall
clock, no global randomness, no I/O; residents act in the fixed order of the residents file, so the
same seed always gives the same events. Walking costs one tile per tick and needs no decision; a mind
is consulted only when a resident's activity ends. A mind sees the simulation as `core.mind.SimOps` and changes
it only by `emit` and `interrupt`.

Objects are in use from the resident's arrival, not from the start of the walk to them (a coffee machine
across town is not busy because someone set out for it). An object holds one user a tile (a shower one, a
bed two, the cafe's seating six). A resident who arrives at an object that is full ends its activity there
and then, so its mind decides again at once (wait, or use another object); a resident who starts an
activity at an object it already stands at uses it whatever (a mind that asks for it knows).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from smallville.core.clock import Clock
from smallville.core.events import Act, ClockMark, Event, ObjectState, Spawned, Walk
from smallville.core.events import from_dict as event_from_dict
from smallville.core.events import to_dict as event_to_dict
from smallville.core.mind import Activity, ThinkingMind
from smallville.core.mind import Mind as Mind  # the protocol lived here before core.mind: still importable
from smallville.core.rng import Streams
from smallville.core.routine import RoutineMind
from smallville.world.objects import IDLE, ObjectStates
from smallville.world.paths import NoPath, PathFinder
from smallville.world.residents import Resident
from smallville.world.spatial import Occupancy
from smallville.world.town import Arena, Town

log = logging.getLogger(__name__)
Tile = tuple[int, int]


@dataclass
class AgentState:
    name: str
    x: int
    y: int
    action: str = ""
    at: str = ""
    emoji: str = ""
    until: int = 0
    walk_start: int = 0
    path: tuple[Tile, ...] = ()
    using: str = ""  # the object whose state this resident set, released when the activity ends
    bound: str = ""  # the object it walks to use: claimed on arrival
    shows: str = ""  # what that object will show while used (its state)


class Simulation:
    def __init__(self, town: Town, residents: list[Resident], *, seed: int, clock: Clock | None = None,
                 mind: ThinkingMind | None = None):
        self.town = town
        self.residents = residents
        self.clock = clock or Clock()
        self.seed = seed
        self.tick = 0
        self.streams = Streams(seed)
        self.mind: ThinkingMind = mind or RoutineMind(town, self.clock, residents)
        self.mind.bind(self.streams.get)
        self.pathfinder = PathFinder(town.walkable_grid, regions=town.arena_grid)
        self.objects = ObjectStates()
        self.occupancy = Occupancy(town)
        self.agents: list[AgentState] = []
        self._by_name: dict[str, AgentState] = {}
        self._users: dict[str, int] = {}  # object address -> residents using it (derived from agents)
        self.fallbacks: dict[str, int] = {}
        for r in residents:
            self._add(AgentState(r.name, r.spawn[0], r.spawn[1]))
        homes = {r.name: town.arena(*r.home).address for r in residents}
        self._pending: list[Event] = [Spawned(0, a.name, a.x, a.y, homes[a.name]) for a in self.agents]

    def _add(self, agent: AgentState) -> None:
        self.agents.append(agent)
        self._by_name[agent.name] = agent
        if agent.using:
            self._users[agent.using] = self._users.get(agent.using, 0) + 1
        self.occupancy.place(agent.name, (agent.x, agent.y))

    # -- stepping -----------------------------------------------------------------------------------

    def step(self) -> list[Event]:
        """Advance one tick; return what happened during it, in a fixed order."""
        t = self.tick
        events, self._pending = self._pending, []
        if (t * self.clock.tick_seconds) % 60 == 0:
            events.append(ClockMark(t))
        occupancy = self.occupancy
        for a in self.agents:
            if a.path:
                i = t - a.walk_start
                x, y = a.path[i] if i < len(a.path) else a.path[-1]
                if x != a.x or y != a.y:
                    a.x, a.y = x, y
                    occupancy.place(a.name, (x, y))
                if i >= len(a.path) - 1:
                    a.path = ()
                    if a.bound:
                        self._arrive(a, t, events)
            if t >= a.until:
                self._start(a, self.mind.decide(a.name, t), t, events)
        self.tick = t + 1
        return events

    # -- what a mind may do (`core.mind.SimOps`) ---------------------------------------------------------------

    def emit(self, events: Sequence[Event]) -> None:
        """Events a mind produced before this tick's step (they are logged with the tick)."""
        self._pending.extend(events)

    def interrupt(self, who: str) -> None:
        """End `who`'s activity now: the next `step` asks the mind what it does instead (a plan that came,
        a talk that starts)."""
        self._by_name[who].until = self.tick

    def _start(self, a: AgentState, act: Activity, t: int, events: list[Event]) -> None:
        if a.using:
            # An object shared by two residents (a couple's bed) stays in use until both have left it.
            left = self._users[a.using] = self._users[a.using] - 1
            if left == 0:
                del self._users[a.using]
                if self.objects.set(a.using, IDLE):
                    events.append(ObjectState(t, a.using, IDLE))
            a.using = ""
        a.bound = a.shows = ""
        a.action, a.at, a.emoji, a.until = act.action, act.address, act.emoji, act.until
        events.append(Act(t, a.name, act.action, act.address, act.emoji, act.until))
        if not act.address:  # stay where you are (a talk outdoors), even mid-walk
            a.path = ()
            return
        target = self._target(a, act.address)
        if target == (a.x, a.y):
            a.path = ()  # already there: a walk towards the previous place stops
        else:
            try:
                path = self.pathfinder.path((a.x, a.y), target)
            except NoPath as exc:
                self._fallback("no_path", f"{a.name} stays put: {exc}")
                path = [(a.x, a.y)]
            if len(path) > 1:
                a.path, a.walk_start = tuple(path), t
                events.append(Walk(t, a.name, act.address, a.path))
        if not isinstance(self.town.lookup(act.address), Arena):
            a.bound, a.shows = act.address, act.state or act.action
            if not a.path:  # already there: in use now (shared if someone else uses it too)
                self._claim(a, t, events)

    def _claim(self, a: AgentState, t: int, events: list[Event]) -> None:
        a.using, a.bound = a.bound, ""
        self._users[a.using] = self._users.get(a.using, 0) + 1
        if self.objects.set(a.using, a.shows):
            events.append(ObjectState(t, a.using, a.shows))

    def _arrive(self, a: AgentState, t: int, events: list[Event]) -> None:
        """At the object it walked to: use it, or, when someone else uses it, end the activity now so the mind
        decides again this tick (starting the same activity there again then shares the object)."""
        thing = self.town.lookup(a.bound)
        if self._users.get(a.bound, 0) >= max(1, len(thing.tiles)):  # one user a tile
            a.bound = a.shows = ""
            a.until = t
        else:
            self._claim(a, t, events)

    def _target(self, a: AgentState, address: str) -> Tile:
        """A tile of the address to stand on: stay if already there, else a random one of its tiles."""
        try:
            tiles = self.town.tiles_of(address)
        except KeyError:
            self._fallback("unknown_address", f"{a.name} was sent to unknown {address!r}")
            return (a.x, a.y)
        if (a.x, a.y) in tiles:
            return (a.x, a.y)
        return tiles[self.streams.get(f"walk:{a.name}").randrange(len(tiles))]

    def _fallback(self, kind: str, message: str) -> None:
        self.fallbacks[kind] = self.fallbacks.get(kind, 0) + 1
        log.warning("fallback %s: %s", kind, message)

    # -- queries --------------------------------------------------------------------------------------

    def agent(self, name: str) -> AgentState:
        return self._by_name[name]

    def object_state(self, address: str) -> str:
        return self.objects.get(address)

    def users(self, address: str) -> int:
        return self._users.get(address, 0)

    def near(self, name: str, radius: int) -> list[str]:
        """Residents within `radius` of `name`, in the same arena, nearest first."""
        a = self.agent(name)
        return self.occupancy.near((a.x, a.y), radius, exclude=name)

    # -- checkpoints ----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly from this tick, as JSON-safe data."""
        return {
            "tick": self.tick,
            "seed": self.seed,
            "rng": self.streams.state(),
            "objects": self.objects.state(),
            "agents": [asdict(a) for a in self.agents],
            "mind": self.mind.state(),
            "pending": [p.who for p in self._pending if isinstance(p, Spawned)],
            # what the mind emitted for this tick before a stop came in its wait (see GenerativeMind.before_step)
            "emitted": [event_to_dict(p) for p in self._pending if not isinstance(p, Spawned)],
            "fallbacks": dict(sorted(self.fallbacks.items())),
        }

    @classmethod
    def from_state(cls, town: Town, residents: list[Resident], state: dict[str, Any], *,
                   clock: Clock | None = None, mind: ThinkingMind | None = None) -> Simulation:
        sim = cls(town, residents, seed=int(state["seed"]), clock=clock, mind=mind)
        sim.tick = int(state["tick"])
        sim.streams = Streams.from_state(state["rng"])
        sim.mind.bind(sim.streams.get)
        sim.mind.load_state(state["mind"])
        sim.objects = ObjectStates(state["objects"])
        sim.occupancy = Occupancy(town)
        sim.agents, sim._by_name, sim._users = [], {}, {}
        for raw in state["agents"]:
            raw = dict(raw)
            raw["path"] = tuple(tuple(p) for p in raw["path"])
            sim._add(AgentState(**raw))
        pending = set(state.get("pending", []))
        sim._pending = [p for p in sim._pending if isinstance(p, Spawned) and p.who in pending]
        sim._pending += [event_from_dict(e) for e in state.get("emitted", [])]  # emitted after the Spawned ones
        sim.fallbacks = dict(state.get("fallbacks", {}))
        return sim
