"""The scene: what the window shows of the town at a moment, folded from the event log (no pygame here).

Owns the reducer that both the live window and the replay use (ARCHITECTURE: the same events, folded the
same way, give the same picture): where each resident stands and which way it faces (from `spawned` and
`walk`, whose paths say where a walker is at every tick), what it is doing (`act`: the action, its emoji
and place), what it says (`say`, shown as a speech bubble for a few game minutes), whom it talks to, and
the state of objects in use. `Timeline` keeps a copy of the scene at a fixed interval of a save (the
replay's: every 30 game minutes) so that a jump to any moment folds at most that much of the log.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from smallville.core.events import Act, Converse, Event, ObjectState, Say, Spawned, Walk

#: Game seconds a speech bubble stays up (a line is spoken in 20; readers need longer).
BUBBLE_SECONDS = 150
Tile = tuple[int, int]


def _facing(a: Tile, b: Tile, default: str) -> str:
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == dy == 0:
        return default
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


@dataclass
class Figure:
    """A resident as drawn: position (a walk path from a tick), doing, saying."""

    name: str
    x: int
    y: int
    home: str = ""
    path: tuple[Tile, ...] = ()
    t0: int = 0  # the tick at which the resident stands on path[0]
    facing: str = "down"
    action: str = ""
    emoji: str = ""
    at: str = ""
    until: int = 0
    saying: str = ""
    said_at: int = -1
    talking_to: str = ""
    convo: int = -1

    def tile(self, tick: int) -> Tile:
        if not self.path:
            return self.x, self.y
        return self.path[max(0, min(tick - self.t0, len(self.path) - 1))]

    def point(self, tick: float) -> tuple[float, float]:
        """Where it stands at a fractional tick, between path tiles (smooth walking)."""
        if not self.path:
            return float(self.x), float(self.y)
        i = max(0.0, min(tick - self.t0, len(self.path) - 1.0))
        lo = int(i)
        hi = min(lo + 1, len(self.path) - 1)
        f = i - lo
        (ax, ay), (bx, by) = self.path[lo], self.path[hi]
        return ax + (bx - ax) * f, ay + (by - ay) * f

    def walking(self, tick: float) -> bool:
        return bool(self.path) and self.t0 <= tick < self.t0 + len(self.path) - 1

    def facing_at(self, tick: float) -> str:
        if not self.walking(tick):
            return self.facing
        i = int(tick - self.t0)
        return _facing(self.path[i], self.path[i + 1], self.facing)

    def bubble(self, tick: int, tick_seconds: int) -> str:
        """The line it is saying at `tick`, if any."""
        if self.saying and 0 <= tick - self.said_at <= BUBBLE_SECONDS // max(1, tick_seconds):
            return self.saying
        return ""


@dataclass
class Scene:
    """The town at `tick`: every figure and the objects' states (those not idle)."""

    tick: int = 0
    figures: dict[str, Figure] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)
    talks: int = 0  # conversations started so far

    def copy(self) -> Scene:
        return copy.deepcopy(self)

    def apply(self, event: Event) -> None:
        """Fold one event in (events come in log order; `tick` follows them)."""
        self.tick = max(self.tick, event.t)
        if isinstance(event, Spawned):
            self.figures[event.who] = Figure(event.who, event.x, event.y, home=event.home)
            return
        if isinstance(event, ObjectState):
            if event.state == "idle":
                self.objects.pop(event.at, None)
            else:
                self.objects[event.at] = event.state
            return
        if isinstance(event, Converse):
            if event.lines:
                self.talks += 1
                for a, b in ((event.who, event.to), (event.to, event.who)):
                    if a in self.figures:
                        self.figures[a].talking_to, self.figures[a].convo = b, event.convo
            return
        who = getattr(event, "who", None)
        figure = self.figures.get(who) if isinstance(who, str) else None
        if figure is None:
            return
        if isinstance(event, Walk):
            here = figure.tile(event.t)
            figure.facing = figure.facing_at(event.t)
            figure.x, figure.y = here
            figure.path, figure.t0 = tuple(tuple(p) for p in event.path), event.t  # type: ignore[misc]
        elif isinstance(event, Act):
            figure.action, figure.emoji, figure.at, figure.until = event.action, event.emoji, event.at, event.until
            if not event.action.startswith(("greeting", "talking", "chatting")) and figure.talking_to:
                figure.talking_to, figure.convo = "", -1
        elif isinstance(event, Say):
            figure.saying, figure.said_at = event.text, event.t
            if event.end:
                for name in (event.who, event.to):
                    if name in self.figures and self.figures[name].convo == event.convo:
                        self.figures[name].talking_to, self.figures[name].convo = "", -1


class Timeline:
    """A save's events in order, with a scene kept every `every` ticks: `scene_at(t)` folds from the
    nearest kept scene at or before t."""

    def __init__(self, events: Sequence[Event], every: int):
        self.events = list(events)
        self.ticks = [e.t for e in self.events]
        if any(b < a for a, b in zip(self.ticks, self.ticks[1:], strict=False)):
            raise ValueError("the events are not in tick order")
        self.every = max(1, every)
        self.first = self.ticks[0] if self.ticks else 0
        self.last = self.ticks[-1] if self.ticks else 0
        self._kept: list[tuple[int, int, Scene]] = []  # (tick, index of the next event, scene)
        scene, i = Scene(tick=self.first), 0
        for mark in range(self.first, self.last + self.every, self.every):
            i = self._fold(scene, i, mark)
            scene.tick = mark
            self._kept.append((mark, i, scene.copy()))
        self._marks = [m for m, _, _ in self._kept]

    def _fold(self, scene: Scene, i: int, until: int) -> int:
        """Apply events with tick <= until, from index i; the index after the last applied."""
        end = bisect.bisect_right(self.ticks, until, lo=i)
        for event in self.events[i:end]:
            scene.apply(event)
        return end

    def scene_at(self, tick: int) -> Scene:
        tick = max(self.first, min(tick, self.last))
        k = max(0, bisect.bisect_right(self._marks, tick) - 1)
        _, i, kept = self._kept[k]
        scene = kept.copy()
        self._fold(scene, i, tick)
        scene.tick = tick
        return scene

    def between(self, after: int, upto: int) -> Iterable[Event]:
        """Events with after < t <= upto (to move a scene forward while playing)."""
        lo, hi = bisect.bisect_right(self.ticks, after), bisect.bisect_right(self.ticks, upto)
        return self.events[lo:hi]
