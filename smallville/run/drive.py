"""Driving a run: step the simulation to a target tick, writing its events to the save as it goes.

Owns the loop between `Simulation.step()` and the save: events are appended every tick, flushed every game
minute, and fsynced together with a checkpoint every `checkpoint_minutes`. Ctrl-C or SIGTERM stops at the
next tick boundary with a final checkpoint (`run/stop.py`); a kill -9 loses nothing that `resume` cannot
redo (see `persist/save.py`). The loop is the only place that looks at the wall clock, and only to pace
and to report speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from smallville.config import Settings
from smallville.core.sim import Simulation
from smallville.inference.base import Embedder, LanguageModel
from smallville.inference.settings import InferenceSettings
from smallville.persist.eventlog import LogWriter
from smallville.persist.save import Save
from smallville.run.control import Control
from smallville.run.lifecycle import checkpoint
from smallville.run.progress import Pace, ProgressLine
from smallville.run.stop import StopFlag, announce_hurry, announce_stop, stop_checkpoint

if TYPE_CHECKING:  # the models are opened (and their modules imported) only by a run that thinks
    from smallville.inference.session import Models

log = logging.getLogger(__name__)


def drive(save: Save, sim: Simulation, until_tick: int, *, progress: bool = True, speed: float | None = None,
          replay: Path | None = None, lm: LanguageModel | None = None, embedder: Embedder | None = None,
          control: Control | None = None, inference: InferenceSettings | None = None) -> dict[str, Any]:
    """Step until `until_tick` (or a stop request); checkpoint on the way and at the end.

    `speed` caps the pace in game minutes per real second (None: as fast as possible). A generative run
    thinks with the configured models (see `smallville.inference.session`): `replay` answers from a
    recording, `lm`/`embedder` replace the configured ones (tests, benchmarks). `control` lets a window
    beside the run pause, step, pace and stop it and see its events (`smallville.run.control`); its pace wins
    over `speed`. `inference`: the endpoints to think with now (the current config's; a save holds its
    endpoint URLs masked), else the save's own.

    A run whose models cannot answer at all (a missing model, a refused key, or every one of its first
    calls failing) stops at the tick it reached, with a checkpoint when its thoughts settle within a
    short grace, and raises the error naming the endpoint (the CLI exits non-zero).
    """
    save.lock_for_writing()  # held already when new_run or resume_run made the save ready; let go at the end
    try:
        with logging_redirect_tqdm() if progress else contextlib.nullcontext():  # log lines above the bar
            return asyncio.run(_drive(save, sim, until_tick, progress=progress, speed=speed, replay=replay, lm=lm,
                                      embedder=embedder, control=control, inference=inference))
    finally:
        save.release_lock()


class _Drive:
    """One drive of a run: the loop's state (the writer, the stop flag, the pace, the newest checkpoint) and
    its steps, each a method: wait for the tick's turn, take the tick, then checkpoint, flush and pace."""

    def __init__(self, save: Save, sim: Simulation, until_tick: int, settings: Settings, *, speed: float | None,
                 control: Control | None, bar: tqdm[Any]):
        self.save, self.sim, self.until_tick, self.control = save, sim, until_tick, control
        self.every = max(1, round(settings.sim.checkpoint_minutes * 60 / sim.clock.tick_seconds))
        self.per_minute = max(1, round(60 / sim.clock.tick_seconds))
        self.start_tick, self.events, self.started = sim.tick, 0, time.perf_counter()
        self.writer = LogWriter(save.events_path)
        self.bar = bar
        self.line = ProgressLine(bar, sim, sim.tick, self.started)
        self.pacer = Pace(sim, speed)
        self.checkpointed = sim.tick  # the tick of the newest checkpoint this drive wrote (or resumed from)
        self.stopped = False
        self.opened: Models | None = None
        self.stop = StopFlag(announce=lambda: announce_stop(sim), announce_hurry=lambda: announce_hurry(sim))

    def hurry(self) -> bool:
        """A second Ctrl-C, in the terminal or in the window: the thoughts under way are not waited for."""
        return self.stop.hurry or (self.control is not None and self.control.hurry)

    def stop_asked(self) -> bool:
        return self.stop.requested or (self.control is not None and self.control.stop_requested)

    async def turn(self) -> bool:
        """Wait until the tick may be taken (the window's pause and steps, a late thought): False on a stop."""
        control = self.control
        if control is not None:
            waited = await control.turn()
            self.stop.requested = self.stop.requested or control.stop_requested
            if self.stop.requested:
                return False
            self.pacer.set(control.speed, afresh=waited)
        # a late thought holds the tick: a stop asked for meanwhile is seen at once, not after it
        if not await self.sim.mind.before_step(self.sim, stop=self.stop_asked):
            self.stop.requested = True
            return False
        return True

    async def take_tick(self) -> int:
        """Step the simulation, write its events, show them to the window; stop a run that cannot think."""
        batch = self.sim.step()
        self.events += len(batch)
        self.writer.append(batch)
        tick = self.sim.tick
        if self.control is not None:
            self.control.publish(batch, tick)
            self.stop.requested = self.stop.requested or self.control.stop_requested
        if self.opened is not None and (unable := self.opened.fatal()) is not None:
            await self.checkpoint_quietly()
            await self.sim.mind.cancel()
            raise unable
        return tick

    async def after_tick(self, tick: int) -> None:
        """The end checkpoint (thoughts under way get the stop's grace), the hourly one (which never waits
        for the model), the minute's flush, the pace and the progress line."""
        if tick == self.until_tick:
            await stop_checkpoint(self.save, self.sim, self.writer, self.hurry)
            self.checkpointed = tick
        elif tick % self.every == 0:
            checkpoint(self.save, self.sim, tick, self.writer.sync())
            self.checkpointed = tick
        elif tick % self.per_minute == 0:
            self.writer.flush()
        if tick % self.per_minute == 0:
            await self.pacer.keep(tick, self.stop)
        if tick % 60 == 0 or tick == self.until_tick:
            self.line.show()

    async def finish_stop(self) -> None:
        """Every way out of the loop but a second Ctrl-C passes here: a stop, however it came (a signal in the
        middle of a tick, in the pacer's nap, from the window), ends with a settled checkpoint at the tick
        reached, so that resume goes on from exactly there."""
        self.stopped = self.sim.tick < self.until_tick
        if self.checkpointed != self.sim.tick:
            await stop_checkpoint(self.save, self.sim, self.writer, self.hurry)
        else:  # this tick's checkpoint keeps the thoughts under way as their inputs: no need to wait
            await self.sim.mind.cancel()

    async def checkpoint_quietly(self) -> None:
        """A stop's checkpoint on the way out of a failing run: if even that fails, the one before stands
        (resume redoes the difference) and the run's own error, raised next, says why it stopped."""
        try:
            await stop_checkpoint(self.save, self.sim, self.writer, self.hurry)
        except Exception as exc:
            log.warning("no checkpoint at tick %d: %s", self.sim.tick, exc)

    async def loop(self) -> None:
        with self.stop:
            while self.sim.tick < self.until_tick and not self.stop.requested:
                if not await self.turn():
                    break
                await self.after_tick(await self.take_tick())
            if self.stop.requested:
                await self.finish_stop()
            # a run too short to reach the watch's count: not one call answered means it never thought
            if self.opened is not None and not self.stopped and (unable := self.opened.fatal(at_end=True)) is not None:
                raise unable

    def result(self) -> dict[str, Any]:
        sim = self.sim
        wall = max(time.perf_counter() - self.started, 1e-9)
        fallbacks = dict(sim.fallbacks)
        stats = dict(sim.mind.stats)
        fallbacks.update({k.removeprefix("fallback_"): v for k, v in sorted(stats.items())
                          if k.startswith("fallback_")})
        totals = self.opened.accounting.totals() if self.opened is not None else None
        return {
            # the accounting's figures (every call, however it ended), not the minds' own count
            "inference": {**dataclasses.asdict(totals), "line": totals.line()} if totals is not None else None,
            "ticks": sim.tick - self.start_tick,
            "events": self.events,
            "wall_s": round(wall, 3),
            "game_minutes_per_s": round((sim.tick - self.start_tick) * sim.clock.tick_seconds / 60 / wall, 3),
            "stopped_early": self.stopped,
            "tick": sim.tick,
            "fallbacks": fallbacks,
            "mind": {k: v for k, v in sorted(stats.items()) if not k.startswith("fallback_")},
            # wall seconds ticks spent waiting for late thoughts, by the kind of the first one waited for
            "waited_s": {k: round(v, 1) for k, v in sorted(sim.mind.waited_s.items())},
        }


async def _drive(save: Save, sim: Simulation, until_tick: int, *, progress: bool, speed: float | None,
                 replay: Path | None, lm: LanguageModel | None, embedder: Embedder | None,
                 control: Control | None = None, inference: InferenceSettings | None = None) -> dict[str, Any]:
    from smallville.inference.session import open_models
    from smallville.run.status import start_status

    settings = save.settings(inference=inference)
    bar = tqdm(total=max(0, until_tick - sim.tick), unit="tick", disable=not progress, dynamic_ncols=True,
               bar_format="{desc} |{bar}| {percentage:3.0f}% [{elapsed}<{remaining}]")
    run = _Drive(save, sim, until_tick, settings, speed=speed, control=control, bar=bar)
    refresher: asyncio.Task[None] | None = None
    status: asyncio.Task[None] | None = None  # status.json for `smallville monitor`, once a second
    models = open_models(settings.inference, save.root, replay=replay, lm=lm, embedder=embedder) \
        if sim.mind.thinks else contextlib.nullcontext()
    try:
        async with models as opened:
            run.opened = opened
            if opened is not None:
                log.info("thinking with %s", opened.description)
                sim.mind.attach(opened.lm, opened.embedder)
            if control is not None:
                control.attach(sim.mind, opened)
            run.line.accounting = opened.accounting if opened is not None else None
            if not bar.disable:
                refresher = asyncio.get_running_loop().create_task(run.line.keep_fresh())
            status = start_status(save, sim, opened, run.start_tick, until_tick)
            run.pacer.set(speed, afresh=True)  # the pace counts from now: opening the models took no game time
            await run.loop()
    finally:
        if refresher is not None:
            refresher.cancel()
        if status is not None:
            status.cancel()  # it writes its last status as it ends
        run.writer.close()
        bar.close()
    return run.result()
