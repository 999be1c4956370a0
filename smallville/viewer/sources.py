"""Where the window's events come from: a saved run (replay) or a run going on beside the window (live),
both behind one protocol (`Source`), so the window never asks which it has.

Owns the moment shown and how it moves. A replay's is a fractional tick `at` that advances with real time
at the chosen pace while playing (walkers move smoothly, and the same save always shows the same picture
at the same moment), jumps anywhere, and steps; a live run's is the tick the run has reached, and pause,
step and pace act on the run itself (its `Control`). Also owns opening a save for viewing: the settings
it ran with (map, clock), its residents, and its events as a `Timeline` for jumping to any moment; and
starting a live run on a thread of its own (`LiveSource`), whose events the window drains each frame. A
save that is missing, partial or corrupt gives a `SaveError` whose message says which file and what is
wrong; a log torn by a crash is shown up to its last whole line.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from smallville.agents.history import History, personas_of
from smallville.config import Settings
from smallville.core.clock import Clock
from smallville.core.events import Spawned
from smallville.errors import SaveError, SmallvilleError
from smallville.persist.save import Save
from smallville.run.control import Control
from smallville.viewer.scene import Scene, Timeline
from smallville.world.residents import Resident

log = logging.getLogger(__name__)

#: Scenes kept per game hour of a save (a jump folds at most this much of the log).
KEEP_EVERY_MINUTES = 30


class Work(NamedTuple):
    """A live run's thinking so far, for the figures in the top bar."""

    calls: int  # model calls made
    tokens: int  # prompt and completion tokens
    thinking: int  # thoughts in flight now


class Source(Protocol):
    """What the window shows and drives. The window reads the moment (`scene` at `at`, between `first` and
    `end`), moves it (`advance` each frame, `go_to`, `step`, `playing`, `speed`) and asks what it offers
    (`flat_out`, `inner_voice`); it never asks which source it has."""

    save: Save
    settings: Settings
    clock: Clock
    map_path: Path
    names: list[str]  # the residents, in the residents file's order
    personas: dict[str, Resident]
    history: History  # what the inspector and the interviews read

    @property
    def mode(self) -> str:
        """What the window calls itself ("replay" or "live": caption, top bar, screenshot names)."""

    @property
    def scene(self) -> Scene:
        """The town at the moment shown."""

    @property
    def at(self) -> float:
        """The moment shown: a tick, fractional while a replay plays (walkers between tiles)."""

    @property
    def first(self) -> int:
        """The first tick there is to show."""

    @property
    def last(self) -> int:
        """The last tick there is to show (a live run: the tick it has reached)."""

    @property
    def end(self) -> int:
        """Where the timeline bar ends (a live run: the tick it runs to)."""

    playing: bool  # set False to pause, True to play (a replay at its end stays paused)
    speed: float | None  # game minutes per real second; None: as fast as the run goes

    @property
    def flat_out(self) -> bool:
        """Whether "as fast as it goes" is a pace (a live run's own; a replay has no such pace)."""

    @property
    def inner_voice(self) -> bool:
        """Whether the chat offers the inner voice (a live run: the run says whether it is heard)."""

    def start(self) -> None:
        """Set going what the window shows (once the window is built)."""

    def advance(self, dt: float) -> None:
        """One frame, `dt` real seconds on."""

    def go_to(self, at: float) -> None:
        """Jump to the moment `at` (a live run is always shown where it stands)."""

    def step(self, ticks: float) -> None:
        """While paused, go `ticks` further."""

    def hold(self) -> None:
        """Keep the moment still while a resident is asked about it (a live run goes on: Space pauses it)."""

    def plant(self, name: str, thought: str) -> None:
        """An inner voice for `name` (raises RuntimeError where none can be heard)."""

    def work(self) -> Work | None:
        """The thinking so far; None where nothing thinks (a replay)."""

    def ending(self) -> str | None:
        """What to tell once the source has ended by itself (a live run done or failed); None before."""

    def run_models(self) -> tuple[asyncio.AbstractEventLoop, Any] | None:
        """The running run's event loop and open models, for the chat to ask (no second server); None
        where there are none (a replay, a routine run, a run that is over)."""

    def stop(self, waiting: Callable[[], None]) -> None:
        """Stop what `start` set going, calling `waiting` now and then until it has (the window redraws)."""


@dataclass
class ReplaySource:
    save: Save
    clock: Clock
    map_path: Path
    names: list[str]
    timeline: Timeline
    torn_bytes: int
    history: History
    personas: dict[str, Resident]
    settings: Settings
    # the moment shown, and how it moves: set by the window, not by `open`
    scene: Scene = field(init=False, repr=False)
    at: float = field(init=False)
    speed: float | None = field(default=5.0, init=False)  # the window's pace ladder moves it
    _playing: bool = field(default=False, init=False)

    mode = "replay"
    flat_out = False
    inner_voice = False  # a replay never changes what happened

    def __post_init__(self) -> None:
        self.at = float(self.first)
        self.scene = self.scene_at(self.first)

    @classmethod
    def open(cls, root: Path) -> ReplaySource:
        save = Save.open(root)
        settings = save.settings()
        clock = save.clock()
        scan = save.read_log()
        if not scan.events:
            raise SaveError(save.events_path, "the run has no events yet (nothing to replay)")
        names = save.resident_names()
        if not names:
            names = sorted({e.who for e in scan.events if isinstance(e, Spawned)})
        map_path = save.map_path()
        if not map_path.exists():
            raise SaveError(save.root / "manifest.json", f"the run's map {map_path} is not there")
        try:
            timeline = Timeline(scan.events, clock.ticks(KEEP_EVERY_MINUTES))
        except ValueError as exc:
            raise SaveError(save.events_path, str(exc)) from None
        return cls(save, clock, map_path, names, timeline, scan.torn_tail_bytes, History(scan.events),
                   _personas(save, settings.town.residents), settings)

    @property
    def first(self) -> int:
        return self.timeline.first

    @property
    def last(self) -> int:
        return self.timeline.last

    @property
    def end(self) -> int:
        return self.timeline.last

    @property
    def playing(self) -> bool:
        return self._playing

    @playing.setter
    def playing(self, value: bool) -> None:
        self._playing = value and self.at < self.last  # at the end there is nothing left to play

    def scene_at(self, tick: int) -> Scene:
        return self.timeline.scene_at(tick)

    def forward(self, scene: Scene, tick: int) -> Scene:
        """The scene moved on to `tick` (folding only the events in between); a jump back, or forward past
        a kept scene, seeks (so a long jump costs no more than a short one)."""
        if tick < scene.tick or tick - scene.tick > self.timeline.every:
            return self.scene_at(tick)
        for event in self.timeline.between(scene.tick, tick):
            scene.apply(event)
        scene.tick = max(scene.tick, tick)
        return scene

    def start(self) -> None:
        pass  # a replay moves only when the window moves it

    def advance(self, dt: float) -> None:
        if not self._playing:
            return
        # no pace is "as fast as it goes" here (`flat_out` is False), so None can only mean: to the end
        ticks = self.last - self.at if self.speed is None else self.speed * 60 / self.clock.tick_seconds * dt
        self.go_to(self.at + ticks)
        if self.at >= self.last:
            self._playing = False

    def go_to(self, at: float) -> None:
        self.at = max(float(self.first), min(at, float(self.last)))
        self.scene = self.forward(self.scene, int(self.at))

    def step(self, ticks: float) -> None:
        self.go_to(self.at + ticks)

    def hold(self) -> None:
        self._playing = False  # the moment stays put while the resident is asked about it

    def plant(self, name: str, thought: str) -> None:
        raise RuntimeError("a replay never changes what happened")

    def work(self) -> Work | None:
        return None

    def ending(self) -> str | None:
        return None  # a replay at its end just stops playing: nothing to tell

    def run_models(self) -> tuple[asyncio.AbstractEventLoop, Any] | None:
        return None

    def stop(self, waiting: Callable[[], None]) -> None:
        pass


def _personas(save: Save, configured: str) -> dict[str, Resident]:
    """The residents file the run used, for the inspector; without it the panel shows names only."""
    try:
        return personas_of(save.manifest, configured)
    except SmallvilleError as exc:
        log.warning("personas not shown: %s", exc)
        return {}


class LiveSource:
    """A run driven on its own thread while the window draws; `control` pauses, paces and stops it."""

    mode = "live"
    flat_out = True
    inner_voice = True  # whether a resident hears it is the run's to say (`Control.plant`)

    def __init__(self, save: Save, sim: Any, until_tick: int, control: Control, **drive_kw: Any):
        """`drive_kw` go to `run.drive` (tests hand in their models)."""
        from smallville.run import drive

        self.save, self.control = save, control
        self.settings = save.settings()
        self.clock = sim.clock
        self.map_path = save.map_path()
        self.names = [a.name for a in sim.agents]
        self.personas = _personas(save, self.settings.town.residents)
        scan = save.read_log()  # a resumed run shows what happened before too
        self.history = History(scan.events)
        self.scene = Scene(tick=sim.tick)
        for event in scan.events:
            self.scene.apply(event)
        self.scene.tick = sim.tick
        self.first, self.target = sim.tick, until_tick
        control.tick = sim.tick
        self.result: dict[str, Any] | None = None

        def run() -> None:
            try:
                self.result = drive(save, sim, until_tick, progress=False, control=control, **drive_kw)
            except BaseException as exc:  # shown in the window, and raised again when it closes
                control.error = exc
            finally:
                control.finished.set()

        self.thread = threading.Thread(target=run, name="smallville-run", daemon=True)

    def start(self) -> None:
        """Start the run (the window does, once it is built: a map it cannot draw leaves no run behind)."""
        if not self.thread.is_alive() and not self.control.finished.is_set():
            self.thread.start()

    @property
    def last(self) -> int:
        return max(self.scene.tick, self.first)

    @property
    def end(self) -> int:
        return self.target

    @property
    def at(self) -> float:
        return float(self.last)

    @property
    def playing(self) -> bool:
        return not self.control.paused

    @playing.setter
    def playing(self, value: bool) -> None:
        self.control.paused = not value

    @property
    def speed(self) -> float | None:
        return self.control.speed

    @speed.setter
    def speed(self, value: float | None) -> None:
        self.control.speed = value

    def poll(self) -> Scene:
        """The scene with the events published since the last frame."""
        for event in self.control.drain():
            self.scene.apply(event)
            self.history.add(event)
        self.scene.tick = max(self.scene.tick, self.control.tick)
        return self.scene

    def advance(self, dt: float) -> None:
        self.poll()  # the run keeps its own time: the window shows where it stands

    def go_to(self, at: float) -> None:
        pass  # a live run is always shown where it stands

    def step(self, ticks: float) -> None:
        self.control.step(round(ticks))

    def hold(self) -> None:
        pass  # the run goes on while a resident is asked (Space pauses it)

    def plant(self, name: str, thought: str) -> None:
        self.control.plant(name, thought)

    def work(self) -> Work:
        models = self.control.models
        totals = models.accounting.snapshot()["totals"] if models is not None else {}
        return Work(int(totals.get("calls", 0)),
                    int(totals.get("prompt_tokens", 0)) + int(totals.get("completion_tokens", 0)),
                    self.control.in_flight())

    def ending(self) -> str | None:
        if not self.control.finished.is_set():
            return None
        error = self.control.error
        return f"the run stopped: {error}" if error else "the run is complete and saved"

    def run_models(self) -> tuple[asyncio.AbstractEventLoop, Any] | None:
        loop, models = self.control.loop, self.control.models
        if loop is None or models is None or self.control.finished.is_set():
            return None
        return loop, models

    def stop(self, waiting: Callable[[], None]) -> None:
        """Stop the run the way Ctrl-C does: thoughts finish (the stop's grace, `STOP_GRACE_S`; those still
        thinking then start again on resume), a checkpoint, the models closed; `waiting` meanwhile."""
        if self.thread.ident is None:
            return  # never started
        self.control.stop()
        self.control.paused = False
        while not self.control.finished.wait(0.05):
            waiting()
        self.thread.join()
