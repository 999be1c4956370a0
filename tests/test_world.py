"""The world model on a small real TMX: places, queries, and every malformed-map error."""

from __future__ import annotations

from pathlib import Path

import pytest
from mapkit import PLAN

from smallville.errors import MapError
from smallville.world.residents import load_residents
from smallville.world.town import Arena, GameObject, load_town


def test_address_tree_and_tile_queries(small_town: tuple[Path, Path]) -> None:
    town = load_town(small_town[0])
    assert town.world == "Testville"
    assert town.tree() == {"House": {"bedroom": ["bed", "desk"], "kitchen": ["cooking area"]},
                           "Park": {"lawn": ["park garden"]}}
    assert town.arena_at(2, 2).address == "Testville:House:bedroom"
    assert town.address_at(4, 4) == "Testville:House"  # a doorway: sector, no arena
    assert town.address_at(5, 7) == "Testville"  # the street
    assert town.arena_at(0, 0) is None and not town.walkable(0, 0)
    bed = town.lookup("Testville:House:bedroom:bed")
    assert isinstance(bed, GameObject) and bed.tiles == [(1, 1), (1, 2)]
    assert isinstance(town.lookup("Testville:House:kitchen"), Arena)
    assert len(town.tiles_of("Testville:Park:lawn")) == 9 * 4
    with pytest.raises(KeyError, match="unknown address"):
        town.lookup("Testville:House:attic")


def test_objects_near_is_same_arena_and_nearest_first(small_town: tuple[Path, Path]) -> None:
    town = load_town(small_town[0])
    near = [o.kind for o in town.objects_near(3, 4, 8)]
    assert near == ["desk", "bed"]  # desk at distance 0, bed further; the kitchen's stove is behind a wall
    assert [o.kind for o in town.objects_near(3, 4, 1)] == ["desk"]
    assert town.objects_near(5, 7, 20) == []  # on the street: no arena, nothing perceived


def test_residents_load_and_check(small_town: tuple[Path, Path]) -> None:
    town = load_town(small_town[0])
    residents = load_residents(small_town[1], town)
    assert [r.name for r in residents] == ["Ada Lovelace", "Bob Builder"]
    assert residents[1].work_minutes == (9 * 60, 17 * 60)
    assert residents[1].bed_minute == 23 * 60 + 30


def _error(make_town, **changes: object) -> MapError:
    tmx, residents = make_town(**changes)
    with pytest.raises(MapError) as info:
        load_residents(residents, load_town(tmx))
    return info.value


def test_missing_tileset_names_the_file(make_town) -> None:
    err = _error(make_town, tileset_missing=True)
    assert err.layer == "tilesets" and "test.tsx" in str(err) and "town.tmx" in str(err)


def test_missing_layer_is_named(make_town) -> None:
    err = _error(make_town, drop_layer="collision")
    assert err.layer == "collision" and "missing" in str(err)
    assert _error(make_town, drop_layer="arenas").layer == "arenas"


def test_arena_without_walkable_tile(make_town) -> None:
    rows = PLAN.splitlines()
    rows[1:5] = ["#####....#.........#"] * 4  # the bedroom (x 1..3) is all wall
    err = _error(make_town, plan="\n".join(rows) + "\n",
                 objects=[], residents=[{"name": "X", "age": 1, "home": ["House", "kitchen"],
                                         "spawn": [6, 2]}])
    assert err.layer == "arenas" and "bedroom" in str(err) and "no walkable tile" in str(err)


def test_unreachable_arena(make_town) -> None:
    rows = PLAN.splitlines()
    rows[5] = "####.###############"  # the park loses its way to the street
    rows[6] = "#.........##########"
    rows[7] = "#.........##########"
    err = _error(make_town, plan="\n".join(rows) + "\n")
    assert "cannot be reached" in str(err) and "Park:lawn" in str(err)


def test_arena_outside_its_sector_and_overlaps(make_town) -> None:
    err = _error(make_town, arenas=[("House", "bedroom", (1, 1, 3, 4)), ("House", "kitchen", (5, 1, 4, 4)),
                                    ("House", "lawn", (10, 1, 9, 4))])
    assert "not inside its sector" in str(err) and "lawn" in str(err)
    err = _error(make_town, arenas=[("House", "bedroom", (1, 1, 3, 4)), ("House", "kitchen", (3, 1, 4, 4)),
                                    ("Park", "lawn", (10, 1, 9, 4))])
    assert "overlaps another arena" in str(err) and "kitchen" in str(err)


def test_object_outside_its_arena(make_town) -> None:
    err = _error(make_town, objects=[("House", "bedroom", "bed", (5, 1, 1, 2))])
    assert err.layer == "objects" and "'bed'" in str(err) and "not inside its arena" in str(err)


def test_unknown_sector_in_arena_layer(make_town) -> None:
    err = _error(make_town, arenas=[("Mansion", "bedroom", (1, 1, 3, 4))])
    assert err.layer == "arenas" and "unknown sector 'Mansion'" in str(err)


def test_spawn_on_a_wall(make_town) -> None:
    err = _error(make_town, residents=[{"name": "Wally", "age": 9, "home": ["House", "bedroom"],
                                        "spawn": [0, 0]}])
    assert "Wally" in str(err) and "not a walkable tile" in str(err) and "residents.toml" in str(err)


def test_unknown_place_in_residents(make_town) -> None:
    ada = {"name": "Ada", "age": 9, "home": ["House", "attic"], "spawn": [2, 2]}
    err = _error(make_town, residents=[ada])
    assert "'House' > 'attic' is not an arena" in str(err) and "Ada" in str(err)


def test_spawn_disagreeing_with_map_layer(make_town) -> None:
    tmx, residents = make_town()
    text = residents.read_text().replace("spawn = [2, 2]", "spawn = [1, 3]")
    residents.write_text(text)
    with pytest.raises(MapError, match="disagrees with the map's spawns layer"):
        load_residents(residents, load_town(tmx))


def test_bad_resident_field_is_named(make_town) -> None:
    err = _error(make_town, residents=[{"name": "Ada", "age": 9, "home": ["House", "bedroom"],
                                        "spawn": [2, 2], "wake": "25:99"}])
    assert "resident 'Ada': wake" in str(err)


def test_malformed_xml_and_off_grid_rectangles(tmp_path: Path, small_town: tuple[Path, Path]) -> None:
    tmx = small_town[0]
    broken = tmx.with_name("broken.tmx")
    broken.write_text(tmx.read_text()[:500])
    with pytest.raises(MapError, match="not a valid TMX"):
        load_town(broken)
    shifted = tmx.with_name("shifted.tmx")
    shifted.write_text(tmx.read_text().replace('name="bedroom" x="16"', 'name="bedroom" x="17"'))
    with pytest.raises(MapError, match="not on the 16-px tile grid") as info:
        load_town(shifted)
    assert info.value.layer == "arenas"
    with pytest.raises(MapError, match="map file not found"):
        load_town(tmp_path / "nowhere.tmx")


def test_persona_places_and_relationships_are_checked(make_town) -> None:
    ada = {"name": "Ada", "age": 9, "home": ["House", "bedroom"], "spawn": [2, 2], "knows": [["Park", "pond"]]}
    err = _error(make_town, residents=[ada])
    assert "known place 'Park' > 'pond'" in str(err) and "Ada" in str(err)
    ada = {"name": "Ada", "age": 9, "home": ["House", "bedroom"], "spawn": [2, 2],
           "relationships": {"Charles Babbage": "a pen friend"}}
    err = _error(make_town, residents=[ada])
    assert "not residents: Charles Babbage" in str(err)
