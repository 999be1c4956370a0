"""The bundled town: the whole of Smallville is there, reachable, and a day runs cleanly on it."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import THE_VILLE, THE_VILLE_RESIDENTS

from smallville.core.sim import Simulation
from smallville.world.residents import load_residents
from smallville.world.town import Town, load_town

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def town() -> Town:
    return load_town(THE_VILLE)


def test_every_sector_arena_and_object_type_of_the_original(town: Town) -> None:
    expected = json.loads((DATA / "the_ville_tree.json").read_text())
    tree = town.tree()
    assert town.world == "the Ville" and (town.width, town.height) == (140, 100)
    assert sorted(tree) == sorted(expected)
    assert len(town.arenas) == 63
    for sector, arenas in expected.items():
        assert sorted(tree[sector]) == sorted(arenas), sector
        for arena, objects in arenas.items():
            assert tree[sector][arena] == objects, f"{sector} > {arena}"
    kinds = {o.kind for a in town.arenas for o in a.objects}
    assert len(kinds) == 46


def test_residents_homes_workplaces_and_spawns(town: Town) -> None:
    expected = json.loads((DATA / "the_ville_residents.json").read_text())
    residents = load_residents(THE_VILLE_RESIDENTS, town)  # checks spawns: walkable, in the home, on the map
    assert [r.name for r in residents] == [e["name"] for e in expected]
    for r, e in zip(residents, expected, strict=True):
        assert list(r.home) == e["home"] and r.age == e["age"]
        assert town.data.spawns[r.name] == tuple(r.spawn)
        if r.workplace is not None:
            town.arena(*r.workplace)
        assert (Path(THE_VILLE).parents[2] / "assets" / "characters" / f"{r.sprite}.png").is_file()
    assert len({tuple(r.spawn) for r in residents}) == 25


def test_every_arena_reachable_from_every_other(town: Town) -> None:
    # The loader refuses unreachable arenas; check again by walking between arena pairs for real.
    from smallville.world.paths import PathFinder

    finder = PathFinder(town.walkable_grid)
    hub = town.arenas[0].walkable[0]
    for arena in town.arenas:
        path = finder.path(hub, arena.walkable[len(arena.walkable) // 2])
        assert path[-1] in arena.walkable


def test_a_routine_day_on_the_real_map(town: Town) -> None:
    residents = load_residents(THE_VILLE_RESIDENTS, town)
    sim = Simulation(town, residents, seed=0)
    for _ in range(8640 + 3 * 360):  # to 03:00 on the second day
        sim.step()
    assert sim.fallbacks == {}
    for r in residents:
        a = sim.agent(r.name)
        assert a.action == "sleeping", r.name
        assert town.arena_at(a.x, a.y) is town.arena(*r.home), r.name


def test_region_routes_are_valid_and_near_shortest(town: Town) -> None:
    import random

    from smallville.world.paths import PathFinder

    plain = PathFinder(town.walkable_grid, cache_size=0)
    fast = PathFinder(town.walkable_grid, cache_size=0, regions=town.arena_grid)
    tiles, rng = town.walkable_tiles(), random.Random(5)
    longer = 0
    for _ in range(300):
        a, b = rng.choice(tiles), rng.choice(rng.choice(town.arenas).walkable)
        route, shortest = fast.path(a, b), plain.path(a, b)
        assert route[0] == a and route[-1] == b
        for (x0, y0), (x1, y1) in itertools.pairwise(route):
            assert abs(x0 - x1) + abs(y0 - y1) == 1 and town.walkable(x1, y1)
        assert len(route) <= 1.25 * len(shortest) + 2
        longer += len(route) > len(shortest)
    assert longer <= 30  # most trips are exactly shortest
