"""The door between the simulation and the residents' minds, typed on both sides.

Owns the protocols that let `Simulation` and the run code above it talk to any mind without knowing which
(the routine habits of `core.routine` or the generative agents of `smallville.agents`), and what a mind
may see and do of the simulation in return:

- `Mind`: what `Simulation.step` and its checkpoints call (decide the next `Activity`, bind the random
  streams, state as JSON-safe data).
- `ThinkingMind`: a `Mind` plus everything the drive loop, the window's control and the monitor's status
  writer call: the work before each tick (`before_step`), the stop's `settle`, `cancel`, the models
  (`attach`), the vectors of a checkpoint, the inner voice (`plant`) and the figures shown while it runs.
  A mind that never thinks gets the trivial answers from `Thoughtless`, so callers never probe with getattr.
- `SimOps`: the simulation as a mind sees it. Reads (the tick, the town, where a resident is and what it
  does, who is near, an object's state and how many use it) and exactly two ways to change it: `emit`
  events and `interrupt` a resident's activity. A mind never writes the simulation's fields.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from smallville.core.events import Event
from smallville.core.rng import Stream
from smallville.inference.base import Embedder, LanguageModel
from smallville.world.scenario import Scenario
from smallville.world.town import Town


@dataclass(frozen=True)
class Activity:
    """What a resident starts doing, where, and until which tick (a mind's decision)."""

    action: str
    address: str  # an arena's or an object's address ('' stays where it is)
    emoji: str
    until: int  # tick at which it ends
    state: str = ""  # what the object at `address` shows while used ('': the action itself)


# -- what a mind sees of the simulation, and may do to it ----------------------------------------------------


class AgentView(Protocol):
    """A resident in the town, read-only: where it stands and what it is doing."""

    @property
    def x(self) -> int: ...
    @property
    def y(self) -> int: ...
    @property
    def action(self) -> str: ...
    @property
    def using(self) -> str: ...
    @property
    def until(self) -> int: ...


class SimOps(Protocol):
    """The simulation as cognition uses it: reads, plus the two named operations that change it."""

    @property
    def tick(self) -> int: ...
    @property
    def town(self) -> Town: ...
    def agent(self, name: str) -> AgentView: ...
    def near(self, name: str, radius: int) -> list[str]: ...
    def object_state(self, address: str) -> str: ...
    def users(self, address: str) -> int:
        """How many residents are using the object now (one a tile: a two-tile bed holds two)."""

    def emit(self, events: Sequence[Event]) -> None:
        """Log events made before this tick's step (they are stamped with the tick)."""

    def interrupt(self, who: str) -> None:
        """End `who`'s current activity now: its mind is asked for the next one at this tick's step."""


# -- the minds ------------------------------------------------------------------------------------------------


class Mind(Protocol):
    """What `Simulation` itself calls."""

    def decide(self, who: str, tick: int) -> Activity: ...
    def bind(self, rng_for: Callable[[str], Stream]) -> None:
        """Give the mind its named random streams (`Streams.get`)."""
    def state(self) -> dict[str, Any]: ...
    def load_state(self, state: dict[str, Any]) -> None: ...


class Thought(Protocol):
    """A thought under way, as the progress line and the status page show it."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def who(self) -> str: ...


class Remembered(Protocol):
    """One memory, as the monitor reads it (whether it carries a seeded fact)."""

    @property
    def description(self) -> str: ...


class Memories(Protocol):
    """A resident's memory stream, in the order memories were made (the monitor reads those added since it
    last looked)."""

    def __len__(self) -> int: ...
    def get(self, index: int) -> Remembered: ...


class Remembering(Protocol):
    """One resident's mind, as the monitor reads it: its memory stream."""

    @property
    def stream(self) -> Memories: ...


class ThinkingMind(Mind, Protocol):
    """Everything the run code calls on a mind (see the module docstring)."""

    @property
    def thinks(self) -> bool:
        """Whether it thinks with models: `attach` them before the first `before_step`."""

    def attach(self, lm: LanguageModel, embedder: Embedder) -> None: ...

    async def before_step(self, sim: SimOps, stop: Callable[[], bool] | None = None) -> bool:
        """Run the minds up to the start of `sim.tick`. False when `stop()` asked to stop while the tick
        waited for a late thought (the tick is then not stepped)."""

    async def settle(self, grace_s: float | None = None,
                     hurry: Callable[[], bool] | None = None) -> Sequence[Thought]:
        """Wait for the thoughts in flight (at most `grace_s`, or until `hurry()`); the ones still running
        are cancelled and kept to start again. Returns the cancelled ones."""

    async def cancel(self) -> None:
        """Cancel every thought still running and wait for them to end (a run stopping on an error)."""

    def in_flight(self) -> Sequence[Thought]:
        """The thoughts whose model calls are under way (safe from another thread)."""

    def plant(self, who: str, text: str) -> None:
        """An inner voice for `who`, taken in before the next tick (safe from another thread)."""

    def vectors(self) -> dict[str, np.ndarray]:
        """The memory vectors a checkpoint stores beside its JSON, by resident."""

    @property
    def stats(self) -> Mapping[str, int]: ...
    @property
    def waited_s(self) -> Mapping[str, float]: ...
    @property
    def scenario(self) -> Scenario | None: ...
    @property
    def minds(self) -> Mapping[str, Remembering]: ...


class Thoughtless:
    """The thinking side of a mind that never thinks (fixed habits, a benchmark's wanderer): no models,
    nothing in flight to wait for or cancel, no memories, no vectors."""

    thinks = False
    scenario: Scenario | None = None

    @property
    def stats(self) -> Mapping[str, int]:
        return Counter()

    @property
    def waited_s(self) -> Mapping[str, float]:
        return {}

    @property
    def minds(self) -> Mapping[str, Remembering]:
        return {}

    def attach(self, lm: LanguageModel, embedder: Embedder) -> None:
        """Nothing to think with."""

    async def before_step(self, sim: SimOps, stop: Callable[[], bool] | None = None) -> bool:
        return True

    async def settle(self, grace_s: float | None = None,
                     hurry: Callable[[], bool] | None = None) -> Sequence[Thought]:
        return []

    async def cancel(self) -> None:
        """Nothing runs."""

    def in_flight(self) -> Sequence[Thought]:
        return []

    def plant(self, who: str, text: str) -> None:
        raise RuntimeError("only residents with generative minds hear an inner voice")

    def vectors(self) -> dict[str, np.ndarray]:
        return {}
