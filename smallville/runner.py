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
import hashlib
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
from tqdm import tqdm

from smallville import __version__
from smallville.agents.settings import ECONOMY
from smallville.config import Settings, resolve_path, settings_from_manifest
from smallville.core.clock import Clock
from smallville.core.routine import RoutineMind
from smallville.core.sim import Mind, Simulation
from smallville.errors import SaveError
from smallville.inference.settings import display_url
from smallville.live import Control
from smallville.persist.eventlog import LogWriter, truncate
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
    save = Save.create(save_dir, manifest)
    sim = Simulation(world.town, world.residents, seed=settings.sim.seed, clock=world.clock,
                     mind=make_mind(settings, world))
    _checkpoint(save, sim, 0, 0)
    return save, sim


def open_for_resume(save_dir: Path) -> tuple[Save, Simulation, int]:
    """Check a save and rebuild its simulation at the newest checkpoint.

    Returns the save, the simulation and the number of log bytes after the checkpoint that will be
    simulated again. Nothing is modified until every check has passed.
    """
    save = Save.open(save_dir)
    manifest_path = save.root / "manifest.json"
    settings = settings_from_manifest(save.manifest.get("settings"), manifest_path)
    world = load(settings)
    expected = save.manifest.get("map", {}).get("sha256")
    if world.town.data.sha256 != expected:
        raise SaveError(manifest_path, f"the save was made on another map (the map file "
                                       f"{world.town.data.path} has changed or differs); not resumed")
    if world.residents_sha256 != save.manifest.get("residents", {}).get("sha256"):
        raise SaveError(manifest_path, "the residents file has changed since this save was made; not resumed")
    scan = save.read_log()  # reads everything: corruption anywhere stops us before any change
    checkpoint = save.latest_checkpoint()
    cut = int(checkpoint["log_bytes"])
    if cut > scan.valid_bytes:
        raise SaveError(save.events_path, f"checkpoint at tick {checkpoint['tick']} expects {cut} bytes of "
                                          f"events, the log has {scan.valid_bytes}")
    vectors = save.read_vectors(int(checkpoint["tick"]))
    if vectors is None and settings.agents.mind == "generative":
        raise SaveError(save.checkpoints_dir, f"the checkpoint at tick {checkpoint['tick']} has no memory vectors "
                                              f"(tick-{int(checkpoint['tick']):09d}.vectors.npz); not resumed")
    sim = Simulation.from_state(world.town, world.residents, checkpoint["state"], clock=world.clock,
                                mind=make_mind(settings, world, vectors))
    redo = save.events_path.stat().st_size - cut
    return save, sim, redo


def resume_run(save_dir: Path) -> tuple[Save, Simulation]:
    save, sim, redo = open_for_resume(save_dir)
    if redo:
        log.info("resuming at tick %d: %d bytes of events after the checkpoint will be simulated again",
                 sim.tick, redo)
        truncate(save.events_path, save.events_path.stat().st_size - redo)
    return save, sim


class _StopFlag:
    """Turns SIGINT/SIGTERM into a request to stop at the next tick boundary."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.requested = True

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
    """Vectors first (a checkpoint without its vectors is never the newest), then the JSON state."""
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

    async def keep(self, tick: int) -> None:
        if not self.speed:
            return
        ahead = (tick - self._from_tick) * self.sim.clock.tick_seconds / 60 / self.speed \
            - (time.perf_counter() - self._from_s)
        if ahead > 0:
            await asyncio.sleep(ahead)


async def _settle_and_checkpoint(save: Save, sim: Simulation, settle: Any, writer: LogWriter, *,
                                 stopping: bool = True) -> None:
    if settle is not None:
        if stopping:
            log.warning("stopping: finishing the thoughts under way, then a checkpoint "
                        "(Ctrl-C again to stop now and resume from the previous one)")
        await settle()
    _checkpoint(save, sim, sim.tick, writer.sync())


def drive(save: Save, sim: Simulation, until_tick: int, *, progress: bool = True, speed: float | None = None,
          replay: Path | None = None, lm: Any = None, embedder: Any = None,
          control: Control | None = None) -> dict[str, Any]:
    """Step until `until_tick` (or a stop request); checkpoint on the way and at the end.

    `speed` caps the pace in game minutes per real second (None: as fast as possible). A generative run
    thinks with the configured models (see `smallville.inference.session`): `replay` answers from a
    recording, `lm`/`embedder` replace the configured ones (tests, benchmarks). `control` lets a window
    beside the run pause, step, pace and stop it and see its events (`smallville.live`); its pace wins
    over `speed`.
    """
    return asyncio.run(_drive(save, sim, until_tick, progress=progress, speed=speed, replay=replay, lm=lm,
                              embedder=embedder, control=control))


async def _drive(save: Save, sim: Simulation, until_tick: int, *, progress: bool, speed: float | None,
                 replay: Path | None, lm: Any, embedder: Any, control: Control | None = None) -> dict[str, Any]:
    from smallville.inference.session import open_models

    settings = settings_from_manifest(save.manifest.get("settings"), save.root / "manifest.json")
    every = max(1, round(settings.sim.checkpoint_minutes * 60 / sim.clock.tick_seconds))
    per_minute = max(1, round(60 / sim.clock.tick_seconds))
    before = getattr(sim.mind, "before_step", None)
    settle = getattr(sim.mind, "settle", None)
    start_tick, events, started = sim.tick, 0, time.perf_counter()
    writer = LogWriter(save.events_path)
    bar = tqdm(total=max(0, until_tick - sim.tick), unit="tick", disable=not progress, dynamic_ncols=True,
               bar_format="{desc} |{bar}| {percentage:3.0f}% [{elapsed}<{remaining}]")
    stopped = False
    models = open_models(settings.inference, save.root, replay=replay, lm=lm, embedder=embedder) \
        if before is not None else contextlib.nullcontext()
    try:
        async with models as opened:
            if opened is not None:
                log.info("thinking with %s", opened.description)
                sim.mind.attach(opened.lm, opened.embedder)  # type: ignore[attr-defined]
            if control is not None:
                control.attach(sim.mind, opened)
            pacer = _Pace(sim, speed)
            with _StopFlag() as stop:
                while sim.tick < until_tick:
                    if control is not None:
                        waited = await control.turn()
                        stop.requested = stop.requested or control.stop_requested
                        if stop.requested:
                            stopped = True
                            await _settle_and_checkpoint(save, sim, settle, writer)
                            break
                        pacer.set(control.speed, afresh=waited)
                    if before is not None:
                        await before(sim)
                    batch = sim.step()
                    events += len(batch)
                    writer.append(batch)
                    tick = sim.tick
                    if control is not None:
                        control.publish(batch, tick)
                        stop.requested = stop.requested or control.stop_requested
                    if tick % every == 0 or tick == until_tick or stop.requested:
                        await _settle_and_checkpoint(save, sim, settle, writer, stopping=stop.requested)
                    elif tick % per_minute == 0:
                        writer.flush()
                    if tick % per_minute == 0:
                        await pacer.keep(tick)
                    if tick % 60 == 0 or tick == until_tick:
                        elapsed = max(time.perf_counter() - started, 1e-9)
                        game_minutes = (tick - start_tick) * sim.clock.tick_seconds / 60
                        pace = game_minutes / elapsed
                        label = f"{sim.clock.label(tick)}  {pace:,.0f}" if pace >= 10 else \
                            f"{sim.clock.label(tick)}  {pace:.2g}"
                        label += " game-min/s"
                        bar.set_description_str(label, refresh=False)
                        bar.update(tick - start_tick - bar.n)
                    if stop.requested:
                        stopped = True
                        break
    finally:
        writer.close()
        bar.close()
    wall = max(time.perf_counter() - started, 1e-9)
    fallbacks = dict(sim.fallbacks)
    stats = dict(getattr(sim.mind, "stats", {}))
    fallbacks.update({k.removeprefix("fallback_"): v for k, v in sorted(stats.items()) if k.startswith("fallback_")})
    return {
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
