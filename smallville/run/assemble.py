"""Assembling a run from its settings: the town, the residents, the clock, the scenario it seeds and the
residents' mind. The one place a new run, a resumed one, the evaluation, inspect and the window get a run's
pieces from, so that they all read a settings file the same way.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from smallville.agents.settings import ECONOMY
from smallville.config import Settings, resolve_path
from smallville.core.clock import Clock
from smallville.core.mind import ThinkingMind
from smallville.core.routine import RoutineMind
from smallville.core.sim import Simulation
from smallville.inference.settings import display_url
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


def make_mind(settings: Settings, world: Loaded, vectors: dict[str, np.ndarray] | None = None) -> ThinkingMind:
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


def first_tick(settings: Settings, world: Loaded) -> Simulation:
    """A run's simulation as it starts, before its first tick (a new run, or one killed before its first
    checkpoint)."""
    return Simulation(world.town, world.residents, seed=settings.sim.seed, clock=world.clock,
                      mind=make_mind(settings, world))
