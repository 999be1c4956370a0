"""Where the window's events come from: a saved run (replay) or a run going on beside the window (live).

Owns opening a save for viewing: the settings it ran with (map, clock), its residents, and its events as a
`Timeline` for jumping to any moment; and starting a live run on a thread of its own (`LiveSource`), whose
events the window drains each frame through the run's `Control`. A save that is missing, partial or
corrupt gives a `SaveError` whose message says which file and what is wrong; a log torn by a crash is
shown up to its last whole line.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallville.agents.history import History, personas_of
from smallville.config import Settings
from smallville.core.clock import Clock
from smallville.core.events import Spawned
from smallville.errors import SaveError, SmallvilleError
from smallville.live import Control
from smallville.persist.save import Save
from smallville.viewer.scene import Scene, Timeline
from smallville.world.residents import Resident

log = logging.getLogger(__name__)

#: Scenes kept per game hour of a save (a jump folds at most this much of the log).
KEEP_EVERY_MINUTES = 30


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


def _personas(save: Save, configured: str) -> dict[str, Resident]:
    """The residents file the run used, for the inspector; without it the panel shows names only."""
    try:
        return personas_of(save.manifest, configured)
    except SmallvilleError as exc:
        log.warning("personas not shown: %s", exc)
        return {}


class LiveSource:
    """A run driven on its own thread while the window draws; `control` pauses, paces and stops it."""

    def __init__(self, save: Save, sim: Any, until_tick: int, control: Control, **drive_kw: Any):
        """`drive_kw` go to `runner.drive` (tests hand in their models)."""
        from smallville.runner import drive

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

    def poll(self) -> Scene:
        """The scene with the events published since the last frame."""
        for event in self.control.drain():
            self.scene.apply(event)
            self.history.add(event)
        self.scene.tick = max(self.scene.tick, self.control.tick)
        return self.scene
