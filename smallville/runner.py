"""Running a simulation into a save: start a run, resume one, and drive ticks to a target.

Owns the loop between `Simulation.step()` and the save: events are appended every tick, flushed
every game minute, and fsynced together with a checkpoint every `checkpoint_minutes`. Ctrl-C or
SIGTERM stops at the next tick boundary with a final checkpoint; a kill -9 loses nothing that
`resume` cannot redo (see `persist/save.py`). The runner is the only place that looks at the wall
clock, and only to report speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from smallville import __version__
from smallville.agents.settings import ECONOMY
from smallville.config import Settings, resolve_path
from smallville.core.clock import Clock
from smallville.core.routine import RoutineMind
from smallville.core.sim import Mind, Simulation
from smallville.errors import SaveError
from smallville.inference.settings import InferenceSettings, display_url
from smallville.live import Control
from smallville.persist.eventlog import LogWriter
from smallville.persist.save import Save
from smallville.world.residents import Resident, load_residents
from smallville.world.scenario import Scenario
from smallville.world.town import Town, load_town

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    town: Town
    residents: list[Resident]
    clock: Clock
    residents_sha256: str


def load(settings: Settings) -> Loaded:
    town = load_town(resolve_path(settings.town.map))
    residents_path = resolve_path(settings.town.residents)
    residents = load_residents(residents_path, town)
    clock = Clock(settings.sim.start, settings.sim.tick_seconds)
    digest = hashlib.sha256(residents_path.read_bytes()).hexdigest()
    return Loaded(town, residents, clock, digest)


def manifest_settings(settings: Settings) -> dict[str, Any]:
    """The settings as a save records them. Keys can hide in endpoint URLs (`?api-key=...`): the save
    shows those URLs masked, as logs do (a resumed run takes its endpoints from the current config)."""
    data = settings.model_dump(mode="json")
    inference = data["inference"]
    for endpoint in [*inference["endpoints"], inference.get("embedding") or {}]:
        if "base_url" in endpoint:
            endpoint["base_url"] = display_url(endpoint["base_url"])
    return data


def scenario_for(settings: Settings, residents: list[Resident] | None = None) -> Scenario | None:
    """The scenario whose facts a generative run seeds: `[agents] scenario`, where 'auto' is the
    scenario.toml beside the residents file (if there is one)."""
    from smallville.world.scenario import load_scenario

    path = scenario_path(settings)
    if not path:
        return None
    if residents is None:
        return load_scenario(resolve_path(path), _resident_names(settings))
    return load_scenario(resolve_path(path), residents)


def scenario_path(settings: Settings) -> str:
    """The scenario file a run seeds: `[agents] scenario`, where 'auto' is the scenario.toml beside the
    residents file if there is one ("" for none)."""
    path = settings.agents.scenario
    if path == "auto":
        beside = resolve_path(settings.town.residents).parent / "scenario.toml"
        path = str(beside) if beside.is_file() else ""
    return path


def _resident_names(settings: Settings) -> list[str]:
    import tomllib

    data = tomllib.loads(resolve_path(settings.town.residents).read_text(encoding="utf-8"))
    return [str(r.get("name", "")) for r in data.get("residents", [])]


def make_mind(settings: Settings, world: Loaded, vectors: dict[str, np.ndarray] | None = None) -> Mind:
    """The residents' mind the settings ask for (the generative one gets its models when a drive starts)."""
    if settings.agents.mind == "routine":
        return RoutineMind(world.town, world.clock, world.residents)
    from smallville.agents.mind import GenerativeMind
    from smallville.inference.embed import LOCAL_DIM
    scenario = scenario_for(settings, world.residents)
    dim = settings.inference.embedding.dim if settings.inference.embedding and settings.inference.embedding.dim \
        else LOCAL_DIM
    return GenerativeMind(world.town, world.clock, world.residents, settings.agents, seed=settings.sim.seed,
                          dim=dim, scenario=scenario, vectors=vectors)


def with_economy(settings: Settings) -> Settings:
    """The settings with the economy profile applied where it is on (see `AgentSettings.resolved`).

    Applied once, when a run starts, so the manifest records the values the run really uses and a resume
    (which reads them back, every field explicit) thinks the same way. The profile follows the config
    (no endpoints = the embedded model), not a model handed to `drive` directly: tests and benchmarks that
    do that choose `economy` themselves."""
    agents, embedded = settings.agents, settings.inference.uses_embedded_server
    if agents.mind != "generative" or not agents.economy_on(embedded):
        return settings
    resolved = agents.resolved(embedded)
    changed = {k: v for k, v in ECONOMY.items() if getattr(agents, k) != v and getattr(resolved, k) == v}
    log.info("economy profile on (%s)%s", "the embedded model" if embedded else "economy = on",
             ": " + ", ".join(f"{k} = {v}" for k, v in changed.items()) if changed else ", all set by the config")
    return settings.model_copy(update={"agents": resolved})


def _first_tick(settings: Settings, world: Loaded) -> Simulation:
    """A run's simulation as it starts, before its first tick (a new run, or one killed before its first
    checkpoint)."""
    return Simulation(world.town, world.residents, seed=settings.sim.seed, clock=world.clock,
                      mind=make_mind(settings, world))


def new_run(save_dir: Path, settings: Settings, hours: float) -> tuple[Save, Simulation]:
    settings = with_economy(settings)
    world = load(settings)
    target = round(hours * world.clock.ticks_per_hour)
    manifest = {
        "smallville": __version__,
        "seed": settings.sim.seed,
        "settings": manifest_settings(settings),
        "world": world.town.world,
        "map": {"path": settings.town.map, "sha256": world.town.data.sha256},
        "residents": {"path": settings.town.residents, "sha256": world.residents_sha256,
                      "names": [r.name for r in world.residents]},
        "target_tick": target,
    }
    save = Save.create(save_dir, manifest)  # holds the writer lock until the drive lets go
    try:
        sim = _first_tick(settings, world)
        _checkpoint(save, sim, 0, 0)
    except BaseException:
        save.release_lock()
        raise
    return save, sim


def open_for_resume(save_dir: Path) -> tuple[Save, Simulation, int]:
    """Check a save and rebuild its simulation at the newest checkpoint.

    Returns the save, the simulation and the number of log bytes after the checkpoint that will be
    simulated again. The save's writer lock is taken first (a save another process writes is refused
    before it is even read) and kept on the returned save; nothing is modified until every check has
    passed, and a refusal lets the lock go.
    """
    save = Save.open_for_writing(save_dir)
    try:
        sim, redo = _check_for_resume(save)
    except BaseException:
        save.release_lock()
        raise
    return save, sim, redo


def _check_for_resume(save: Save) -> tuple[Simulation, int]:
    manifest_path = save.root / "manifest.json"
    settings = save.settings()
    world = load(settings)
    expected = save.manifest.get("map", {}).get("sha256")
    if world.town.data.sha256 != expected:
        raise SaveError(manifest_path, f"the save was made on another map (the map file "
                                       f"{world.town.data.path} has changed or differs); not resumed")
    if world.residents_sha256 != save.manifest.get("residents", {}).get("sha256"):
        raise SaveError(manifest_path, "the residents file has changed since this save was made; not resumed")
    scan = save.read_log()  # reads everything: corruption anywhere stops us before any change
    if not save.checkpoint_ticks() and not scan.events and not scan.torn_tail_bytes:
        # Killed while the run was being made, before its first checkpoint: nothing happened yet, so the run
        # starts again from its settings (resume_run writes that first checkpoint).
        log.info("the save has no checkpoint and no events yet: starting the run from its beginning")
        save.resume_point = {"tick": 0, "log_bytes": 0, "calls_bytes": 0}
        return _first_tick(settings, world), 0
    checkpoint = save.latest_checkpoint()
    cut = int(checkpoint["log_bytes"])
    problems = save.check_log(scan, checkpoint)  # the same check inspect and eval make
    if problems:
        raise problems[0].error("not resumed")
    vectors = save.read_vectors(int(checkpoint["tick"]))
    if vectors is None and settings.agents.mind == "generative":
        raise SaveError(save.checkpoints_dir, f"the checkpoint at tick {checkpoint['tick']} has no memory vectors "
                                              f"(tick-{int(checkpoint['tick']):09d}.vectors.npz); not resumed")
    sim = Simulation.from_state(world.town, world.residents, checkpoint["state"], clock=world.clock,
                                mind=make_mind(settings, world, vectors))
    redo = save.events_path.stat().st_size - cut
    save.resume_point = {k: int(checkpoint[k]) for k in ("tick", "log_bytes", "calls_bytes") if k in checkpoint}
    # thoughts kept as their inputs start again: the calls they made before the checkpoint are made again
    jobs = checkpoint["state"].get("mind", {}).get("jobs", []) if isinstance(checkpoint["state"].get("mind"), dict) \
        else []
    save.resume_point["restart"] = sorted(int(j["id"]) for j in jobs if j.get("result") is None)
    return sim, redo


def resume_run(save_dir: Path) -> tuple[Save, Simulation]:
    """Open a save for resuming (every check first) and cut its log and recording back to the checkpoint.
    The save comes back holding the writer lock: the drive that follows lets it go."""
    save, sim, redo = open_for_resume(save_dir)
    try:
        if redo:
            log.info("resuming at tick %d: %d bytes of events after the checkpoint will be simulated again",
                     sim.tick, redo)
        assert save.resume_point is not None
        save.cut_back(save.resume_point)
        if not save.checkpoint_ticks():  # a run killed before its first checkpoint starts from the beginning
            _checkpoint(save, sim, 0, 0)
    except BaseException:
        save.release_lock()
        raise
    return save, sim


class _StopFlag:
    """Turns SIGINT/SIGTERM into a request to stop at the next tick boundary. The first signal is answered
    at once on stderr (`announce`); a second one means the user will not wait for the thoughts in flight
    (`hurry`: they are cancelled now, and start again on resume); a third, KeyboardInterrupt, now."""

    def __init__(self, announce: Any = None, announce_hurry: Any = None) -> None:
        self.requested = False
        self.hurry = False
        self.announce, self.announce_hurry = announce, announce_hurry
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.hurry:  # a third Ctrl-C: even the checkpoint is not waited for
            raise KeyboardInterrupt
        if self.requested:
            self.hurry = True
            if self.announce_hurry is not None:
                self.announce_hurry()
            return
        self.requested = True
        if self.announce is not None:
            self.announce()

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread signal() raises ValueError: then there is no handling to install.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _checkpoint(save: Save, sim: Simulation, tick: int, log_bytes: int) -> None:
    """Vectors first (a checkpoint without its vectors is never the newest), then the JSON state, which
    also records the length of `calls.jsonl` (the recorder flushes every call as it ends). Thoughts still in
    flight go into the state as their inputs and start again on a resume from it: so a checkpoint never
    waits for the model, and the calls they made so far may be in that length (and made again on resume,
    with the same answers from a recording)."""
    vectors = getattr(sim.mind, "vectors", None)
    if vectors is not None:
        save.write_vectors(tick, vectors())
    save.write_checkpoint(tick, log_bytes, sim.state())


class _Pace:
    """Keeps a run at most `speed` game minutes per real second (None: as fast as it goes); a new speed
    counts from the moment it is set."""

    def __init__(self, sim: Simulation, speed: float | None):
        self.sim, self.speed = sim, speed
        self._from_tick, self._from_s = sim.tick, time.perf_counter()

    def set(self, speed: float | None, *, afresh: bool = False) -> None:
        """A new speed, or `afresh` after a pause: count from now (no burst to make up the time lost)."""
        if speed != self.speed or afresh:
            self.speed, self._from_tick, self._from_s = speed, self.sim.tick, time.perf_counter()

    async def keep(self, tick: int, stop: _StopFlag) -> None:
        """Wait until the pace allows `tick`, in short naps so that a stop request is seen within 0.1 s."""
        if not self.speed:
            return
        ahead = (tick - self._from_tick) * self.sim.clock.tick_seconds / 60 / self.speed \
            - (time.perf_counter() - self._from_s)
        until = time.perf_counter() + ahead
        while ahead > 0 and not stop.requested:
            await asyncio.sleep(min(ahead, 0.1))
            ahead = until - time.perf_counter()


#: Wall seconds a stop (Ctrl-C, SIGTERM, the window closed, a run whose models cannot answer) waits for the
#: thoughts in flight; those still running then are cancelled, kept in the checkpoint as their inputs and
#: started again on resume, so a stop always checkpoints the tick it reached and loses no thought.
STOP_GRACE_S = 20.0


async def _stop_checkpoint(save: Save, sim: Simulation, writer: LogWriter,
                           hurry: Callable[[], bool] | None = None) -> None:
    """The checkpoint of a stop, at the tick reached: thoughts get `STOP_GRACE_S` (less if the user hurries)."""
    settle = getattr(sim.mind, "settle", None)
    if settle is not None:
        cancelled = await settle(STOP_GRACE_S, hurry=hurry)
        if cancelled:
            log.info("%d thought%s still under way cancelled; %s again on resume", len(cancelled),
                     "s" if len(cancelled) != 1 else "", "they start" if len(cancelled) != 1 else "it starts")
    _checkpoint(save, sim, sim.tick, writer.sync())


async def _stop_checkpoint_quietly(save: Save, sim: Simulation, writer: LogWriter,
                                   hurry: Callable[[], bool]) -> None:
    """A stop's checkpoint on the way out of a failing run: if even that fails, the one before stands (resume
    redoes the difference) and the run's own error, raised next, says why it stopped."""
    try:
        await _stop_checkpoint(save, sim, writer, hurry)
    except Exception as exc:
        log.warning("no checkpoint at tick %d: %s", sim.tick, exc)


def _in_flight(sim: Simulation) -> list[Any]:
    """The mind's thoughts under way (none for a mind that does not think with a model)."""
    in_flight = getattr(sim.mind, "in_flight", None)
    return in_flight() if in_flight is not None else []


async def _cancel_thoughts(sim: Simulation) -> None:
    """Cancel the thoughts still in flight and wait for them to end, so that a run stopping on an error ends
    quietly (no task left to be destroyed pending, no error nobody retrieved)."""
    # every task, finished ones too: gathering them retrieves whatever they raised
    tasks = [t for j in list(getattr(sim.mind, "jobs", [])) if (t := getattr(j, "task", None)) is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _thoughts(n: int) -> str:
    return f"{n} thought{'s' if n != 1 else ''}"


def _announce_stop(sim: Simulation) -> None:
    """Say at once what a stop waits for (the first Ctrl-C must never look ignored)."""
    thinking = len(_in_flight(sim))
    if not thinking:
        tqdm.write(f"stopping at {sim.clock.label(sim.tick)}: writing a checkpoint", file=sys.stderr)
        return
    tqdm.write(f"stopping at {sim.clock.label(sim.tick)}: {_thoughts(thinking)} under way get up to "
               f"{STOP_GRACE_S:.0f} s to finish, then a checkpoint (Ctrl-C again to cancel them now: they start "
               "again on resume)", file=sys.stderr)


def _announce_hurry(sim: Simulation) -> None:
    thinking = len(_in_flight(sim))
    what = f"cancelling {_thoughts(thinking)} under way" if thinking else "no thought under way"
    tqdm.write(f"{what}; writing the checkpoint (Ctrl-C again to quit without it and resume from the one "
               "before)", file=sys.stderr)


_THINKING = {"day": "planning their day", "block": "planning the hour", "rate": "rating memories",
             "reflect": "reflecting", "talk": "talking", "replan": "re-planning"}


class _Progress:
    """The headless progress line: game time, pace, and what the town is thinking (thoughts in flight by
    kind, model calls done, the oldest thought's age), refreshed every second even while a tick waits
    for a thought, so a slow model never looks like a hang."""

    def __init__(self, bar: Any, sim: Simulation, start_tick: int, started: float):
        self.bar, self.sim, self.start_tick, self.started = bar, sim, start_tick, started
        self.accounting: Any = None
        self._seen: dict[int, float] = {}  # job id -> wall time it was first seen in flight

    def thinking(self) -> str:
        if not hasattr(self.sim.mind, "in_flight"):
            return ""
        now = time.perf_counter()
        flying = _in_flight(self.sim)
        self._seen = {j.id: self._seen.get(j.id, now) for j in flying}
        parts = []
        if flying:
            kinds = Counter(j.kind for j in flying)
            top, n = kinds.most_common(1)[0]
            parts.append(f"{len(flying)} thinking ({n} {_THINKING.get(top, top)})")
            parts.append(f"oldest {now - min(self._seen.values()):.0f} s")
        if self.accounting is not None:
            totals = self.accounting.totals()
            parts.append(f"{totals.ok:,} calls")
            if totals.failed:
                parts.append(f"{totals.failed:,} failed")
        return ", ".join(parts)

    def show(self) -> None:
        sim = self.sim
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        pace = (sim.tick - self.start_tick) * sim.clock.tick_seconds / 60 / elapsed
        label = f"{sim.clock.label(sim.tick)}  " + (f"{pace:,.0f}" if pace >= 10 else f"{pace:.2g}") + " game-min/s"
        thinking = self.thinking()
        self.bar.set_description_str(f"{label}  {thinking}" if thinking else label, refresh=False)
        self.bar.update(sim.tick - self.start_tick - self.bar.n)
        self.bar.refresh()

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.show()


def drive(save: Save, sim: Simulation, until_tick: int, *, progress: bool = True, speed: float | None = None,
          replay: Path | None = None, lm: Any = None, embedder: Any = None,
          control: Control | None = None, inference: InferenceSettings | None = None) -> dict[str, Any]:
    """Step until `until_tick` (or a stop request); checkpoint on the way and at the end.

    `speed` caps the pace in game minutes per real second (None: as fast as possible). A generative run
    thinks with the configured models (see `smallville.inference.session`): `replay` answers from a
    recording, `lm`/`embedder` replace the configured ones (tests, benchmarks). `control` lets a window
    beside the run pause, step, pace and stop it and see its events (`smallville.live`); its pace wins
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


async def _drive(save: Save, sim: Simulation, until_tick: int, *, progress: bool, speed: float | None,
                 replay: Path | None, lm: Any, embedder: Any, control: Control | None = None,
                 inference: InferenceSettings | None = None) -> dict[str, Any]:
    from smallville.inference.session import open_models

    settings = save.settings(inference=inference)
    every = max(1, round(settings.sim.checkpoint_minutes * 60 / sim.clock.tick_seconds))
    per_minute = max(1, round(60 / sim.clock.tick_seconds))
    before = getattr(sim.mind, "before_step", None)
    start_tick, events, started = sim.tick, 0, time.perf_counter()
    writer = LogWriter(save.events_path)
    bar = tqdm(total=max(0, until_tick - sim.tick), unit="tick", disable=not progress, dynamic_ncols=True,
               bar_format="{desc} |{bar}| {percentage:3.0f}% [{elapsed}<{remaining}]")
    stopped = False
    refresher: asyncio.Task[None] | None = None
    status: asyncio.Task[None] | None = None  # status.json for `smallville monitor`, once a second
    models = open_models(settings.inference, save.root, replay=replay, lm=lm, embedder=embedder) \
        if before is not None else contextlib.nullcontext()
    try:
        async with models as opened:
            if opened is not None:
                log.info("thinking with %s", opened.description)
                sim.mind.attach(opened.lm, opened.embedder)  # type: ignore[attr-defined]
            if control is not None:
                control.attach(sim.mind, opened)
            line = _Progress(bar, sim, start_tick, started)
            line.accounting = opened.accounting if opened is not None else None
            if not bar.disable:
                refresher = asyncio.get_running_loop().create_task(line.keep_fresh())
            from smallville.monitor.status import start_status  # the monitor's writer; imports nothing above persist

            status = start_status(save, sim, opened, start_tick, until_tick)
            pacer = _Pace(sim, speed)
            checkpointed = sim.tick  # the tick of the newest checkpoint this drive wrote (or resumed from)
            with _StopFlag(announce=lambda: _announce_stop(sim), announce_hurry=lambda: _announce_hurry(sim)) as stop:
                def hurry() -> bool:  # a second Ctrl-C, in the terminal or in the window
                    return stop.hurry or (control is not None and control.hurry)

                while sim.tick < until_tick and not stop.requested:
                    if control is not None:
                        waited = await control.turn()
                        stop.requested = stop.requested or control.stop_requested
                        if stop.requested:
                            break
                        pacer.set(control.speed, afresh=waited)
                    # a late thought holds the tick: a stop asked for meanwhile is seen at once, not after it
                    if before is not None and not await before(sim, stop=lambda: stop.requested or (
                            control is not None and control.stop_requested)):
                        stop.requested = True
                        break
                    batch = sim.step()
                    events += len(batch)
                    writer.append(batch)
                    tick = sim.tick
                    if control is not None:
                        control.publish(batch, tick)
                        stop.requested = stop.requested or control.stop_requested
                    if opened is not None and (unable := opened.fatal()) is not None:
                        await _stop_checkpoint_quietly(save, sim, writer, hurry)
                        await _cancel_thoughts(sim)
                        raise unable
                    if tick == until_tick:  # the end: the thoughts under way get the stop's grace
                        await _stop_checkpoint(save, sim, writer, hurry)
                        checkpointed = tick
                    elif tick % every == 0:
                        _checkpoint(save, sim, tick, writer.sync())
                        checkpointed = tick
                    elif tick % per_minute == 0:
                        writer.flush()
                    if tick % per_minute == 0:
                        await pacer.keep(tick, stop)
                    if tick % 60 == 0 or tick == until_tick:
                        line.show()
                # Every way out of the loop but a second Ctrl-C passes here: a stop, however it came (a
                # signal in the middle of a tick, in the pacer's nap, from the window), ends with a settled
                # checkpoint at the tick reached, so that resume goes on from exactly there.
                if stop.requested:
                    stopped = sim.tick < until_tick
                    if checkpointed != sim.tick:
                        await _stop_checkpoint(save, sim, writer, hurry)
                    else:  # this tick's checkpoint keeps the thoughts under way as their inputs: no need to wait
                        await _cancel_thoughts(sim)
                # a run too short to reach the watch's count: not one call answered means it never thought
                if opened is not None and not stopped and (unable := opened.fatal(at_end=True)) is not None:
                    raise unable
    finally:
        if refresher is not None:
            refresher.cancel()
        if status is not None:
            status.cancel()  # it writes its last status as it ends
        writer.close()
        bar.close()
    wall = max(time.perf_counter() - started, 1e-9)
    fallbacks = dict(sim.fallbacks)
    stats = dict(getattr(sim.mind, "stats", {}))
    fallbacks.update({k.removeprefix("fallback_"): v for k, v in sorted(stats.items()) if k.startswith("fallback_")})
    totals = opened.accounting.totals() if opened is not None else None
    return {
        # the accounting's figures (every call, however it ended), not the minds' own count
        "inference": {**dataclasses.asdict(totals), "line": totals.line()} if totals is not None else None,
        "ticks": sim.tick - start_tick,
        "events": events,
        "wall_s": round(wall, 3),
        "game_minutes_per_s": round((sim.tick - start_tick) * sim.clock.tick_seconds / 60 / wall, 3),
        "stopped_early": stopped,
        "tick": sim.tick,
        "fallbacks": fallbacks,
        "mind": {k: v for k, v in sorted(stats.items()) if not k.startswith("fallback_")},
        # wall seconds ticks spent waiting for late thoughts, by the kind of the first one waited for
        "waited_s": {k: round(v, 1) for k, v in sorted(getattr(sim.mind, "waited_s", {}).items())},
    }
