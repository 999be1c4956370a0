"""A run's remote control: what a window beside a running simulation may do to it and see of it.

Owns the few things that cross between the window's thread and the run's: pause and single steps, the
pace (game minutes per real second, or as fast as possible), the request to stop (the run then finishes
its thoughts, checkpoints and closes its models: the embedded server stops with it), the inner voice, and
what the run publishes: each tick's events (a queue the window drains), the tick reached, its models and
event loop (so the chat can ask the run's own model), and the thoughts in flight. The run never waits for
the window: a window that stops drawing only lets the queue grow.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

from smallville.core.events import Event
from smallville.core.mind import ThinkingMind


class Control:
    def __init__(self, speed: float | None = None):
        self.speed = speed  # game minutes per real second; None: as fast as possible
        self.paused = False
        self.stop_requested = False
        self.hurry = False  # stop without waiting for the thoughts under way (a second Ctrl-C in the window)
        self.events: queue.SimpleQueue[list[Event]] = queue.SimpleQueue()
        self.tick = 0
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.models: Any = None  # the run's `Models` once they are open (None for a routine run)
        self.in_flight: Callable[[], int] = lambda: 0
        self._steps = 0
        self._plant: Callable[[str, str], None] | None = None
        self._lock = threading.Lock()

    # -- the window's side ----------------------------------------------------------------------------------

    def step(self, ticks: int) -> None:
        """While paused, let the run go `ticks` further."""
        with self._lock:
            self._steps += max(0, ticks)

    def stop(self) -> None:
        self.stop_requested = True

    def plant(self, who: str, text: str) -> None:
        """An inner voice for `who`, taken in before the run's next tick (a generative run only)."""
        if self._plant is None:
            raise RuntimeError("only residents with generative minds hear an inner voice")
        self._plant(who, text)

    @property
    def can_plant(self) -> bool:
        return self._plant is not None

    # -- the run's side ---------------------------------------------------------------------------------------

    def attach(self, mind: ThinkingMind, models: Any) -> None:
        self.loop = asyncio.get_running_loop()
        self.models = models
        if mind.thinks and models is not None:
            self._plant = mind.plant
            self.in_flight = lambda: len(mind.in_flight())

    async def turn(self) -> bool:
        """Return when the run may take its next tick: not paused, a step is owed, or a stop is asked.
        True if it had to wait (the run's pace then counts afresh, with no burst to catch up)."""
        waited = False
        while not self.stop_requested:
            with self._lock:
                if not self.paused:
                    self._steps = 0  # steps asked for while paused do not carry over to the next pause
                    return waited
                if self._steps > 0:
                    self._steps -= 1
                    return True
            waited = True
            await asyncio.sleep(0.02)
        return waited

    def publish(self, batch: list[Event], tick: int) -> None:
        if batch:  # queued before the tick moves, so a frame never shows a tick without its events
            self.events.put(batch)
        self.tick = tick

    def drain(self, limit: int = 100_000) -> list[Event]:
        """The events published since the last call (the window's thread)."""
        out: list[Event] = []
        while len(out) < limit:
            try:
                out.extend(self.events.get_nowait())
            except queue.Empty:
                break
        return out
