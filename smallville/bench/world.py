"""`smallville bench world`: pathfinding, tick cost, save size and log reading speed on the real town.

Figures (targets from the foundation issue): `path_ms_median` (<= 2; plain A* between random walkable
tiles; `route_ms_median` is the same into arenas the way the simulation walks), `tick_ms_25` (<= 0.5) and
`tick_ms_1000` (<= 20) with every resident walking all the time, `day_mb_25` (<= 10) for a routine
game day of the 25 residents, `read_events_per_s` (>= 200,000) reading that day's log back.
"""

from __future__ import annotations

import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from smallville.config import load_settings
from smallville.core.mind import Thoughtless
from smallville.core.routine import Activity
from smallville.core.sim import Simulation
from smallville.persist.eventlog import read_log
from smallville.run import drive, new_run
from smallville.run.assemble import load
from smallville.world.paths import PathFinder
from smallville.world.residents import Resident
from smallville.world.town import Town


class Wanderer(Thoughtless):
    """A bench mind: always off to a random address of the town, so that everyone keeps walking."""

    def __init__(self, town: Town):
        self.addresses = town.addresses()
        self.sim: Simulation | None = None

    def bind(self, rng_for: Any) -> None:
        self._rng = rng_for("bench:wander")

    def decide(self, who: str, tick: int) -> Activity:
        address = self.addresses[self._rng.randrange(len(self.addresses))]
        assert self.sim is not None
        a = self.sim.agent(who)
        tx, ty = self.sim.town.tiles_of(address)[0]
        # Long enough to get there: the sim walks one tile per tick.
        until = tick + 1 + int(1.5 * (abs(tx - a.x) + abs(ty - a.y)))
        return Activity("wandering", address, "🚶", until)

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        pass


def _crowd(town: Town, base: list[Resident], n: int, rng: random.Random) -> list[Resident]:
    """n residents: the real ones first, then copies living in random arenas."""
    taken = {tuple(r.spawn) for r in base}
    out = list(base[:n])
    while len(out) < n:
        arena = town.arenas[rng.randrange(len(town.arenas))]
        free = [t for t in arena.walkable if t not in taken]
        if not free:
            continue
        tile = free[rng.randrange(len(free))]
        taken.add(tile)
        proto = base[len(out) % len(base)]
        out.append(proto.model_copy(update={"name": f"{proto.name} #{len(out)}", "spawn": tile,
                                            "home": (arena.sector, arena.name)}))
    return out


def _tick_ms(town: Town, residents: list[Resident], ticks: int) -> tuple[float, float, float]:
    mind = Wanderer(town)
    sim = Simulation(town, residents, seed=7, mind=mind)
    mind.sim = sim
    for _ in range(50):  # everyone sets off; the first paths are not what we measure
        sim.step()
    times = []
    for _ in range(ticks):
        t0 = time.perf_counter()
        sim.step()
        times.append((time.perf_counter() - t0) * 1000)
    walking = sum(1 for a in sim.agents if a.path) / len(sim.agents)
    times.sort()
    return statistics.fmean(times), times[int(len(times) * 0.99) - 1], walking


def bench_world(quick: bool = False) -> dict[str, Any]:
    settings = load_settings(None)
    world = load(settings)
    town, residents = world.town, world.residents
    rng = random.Random(20230213)
    figures: dict[str, Any] = {"machine": f"{platform.machine()} {platform.python_implementation()} "
                                          f"{platform.python_version()}", "map": town.data.path.name}

    finder = PathFinder(town.walkable_grid, cache_size=0)
    tiles = town.walkable_tiles()
    samples = []
    for _ in range(100 if quick else 1000):
        a, b = tiles[rng.randrange(len(tiles))], tiles[rng.randrange(len(tiles))]
        t0 = time.perf_counter()
        finder.path(a, b)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    figures["path_ms_median"] = round(statistics.median(samples), 3)
    figures["path_ms_p95"] = round(samples[int(len(samples) * 0.95) - 1], 3)
    # What the simulation uses: trips into an arena walk its distance field (fields computed first).
    routed = PathFinder(town.walkable_grid, cache_size=0, regions=town.arena_grid)
    for arena in town.arenas:
        routed.path(tiles[0], arena.walkable[0])
    samples = []
    for _ in range(100 if quick else 1000):
        a, arena = tiles[rng.randrange(len(tiles))], town.arenas[rng.randrange(len(town.arenas))]
        b = arena.walkable[rng.randrange(len(arena.walkable))]
        t0 = time.perf_counter()
        routed.path(a, b)
        samples.append((time.perf_counter() - t0) * 1000)
    figures["route_ms_median"] = round(statistics.median(samples), 3)

    ticks = 300 if quick else 3000
    mean, p99, walking = _tick_ms(town, residents, ticks)
    figures["tick_ms_25"], figures["tick_ms_25_p99"] = round(mean, 4), round(p99, 4)
    figures["walking_share_25"] = round(walking, 2)
    crowd = _crowd(town, residents, 1000, rng)
    mean, p99, walking = _tick_ms(town, crowd, ticks // 3)
    figures["tick_ms_1000"], figures["tick_ms_1000_p99"] = round(mean, 3), round(p99, 3)
    figures["walking_share_1000"] = round(walking, 2)

    with tempfile.TemporaryDirectory() as tmp:
        # The world's own cost: residents on their routines (the minds are measured by `bench agents`).
        routine = settings.model_copy(update={"agents": settings.agents.model_copy(update={"mind": "routine"})})
        save, sim = new_run(Path(tmp) / "day", routine, 24.0)
        t0 = time.perf_counter()
        result = drive(save, sim, save.manifest["target_tick"], progress=False)
        figures["day_wall_s_25"] = round(time.perf_counter() - t0, 2)
        figures["tick_ms_25_routine"] = round(figures["day_wall_s_25"] * 1000 / result["ticks"], 4)
        figures["day_mb_25"] = round(save.size_bytes() / 1e6, 3)
        figures["day_events_25"] = result["events"]
        reads, t0 = 0, time.perf_counter()
        for _ in range(2 if quick else 5):
            reads += len(read_log(save.events_path).events)
        figures["read_events_per_s"] = round(reads / (time.perf_counter() - t0))
    return figures
