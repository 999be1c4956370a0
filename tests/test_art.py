"""Checks of the committed art (the outputs of tools/build_art.py), not of the drawing code."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import pytmx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TILES = ROOT / "assets" / "tiles"
CHARS = ROOT / "assets" / "characters"
TILESETS = ROOT / "maps" / "tilesets"
PLAIN_TILES = {
    "floor_wood", "floor_wood_dark", "floor_tile", "floor_kitchen", "floor_carpet_red", "floor_carpet_blue",
    "floor_carpet_green", "floor_carpet_purple", "floor_stone", "floor_concrete", "floor_cafe", "floor_pub",
    "wall", "wall_face", "doorway", "garden_soil", "collision", "spawn",
}


@pytest.fixture(scope="module")
def interior() -> tuple[dict, Image.Image]:
    return json.loads((TILES / "interior.json").read_text()), Image.open(TILES / "interior.png")


def test_interior_names_every_object_type_at_its_footprint(interior: tuple[dict, Image.Image]) -> None:
    data, _ = interior
    footprints = tomllib.loads((ROOT / "tools/layout/object_types.toml").read_text())["objects"]
    assert len(footprints) == 46
    assert set(data["objects"]) == set(footprints)
    for name, (w, h) in footprints.items():
        obj = data["objects"][name]
        assert (obj["w"], obj["h"]) == (w, h), name
        assert len(obj["tiles"]) == h, name
        assert all(len(row) == w for row in obj["tiles"]), name


def test_interior_tiles_exist_and_are_drawn(interior: tuple[dict, Image.Image]) -> None:
    data, png = interior
    assert data["tile_size"] == 16 and data["columns"] == 16
    assert png.mode == "RGBA" and png.width == 16 * 16 and png.height % 16 == 0
    count = (png.width // 16) * (png.height // 16)
    assert set(data["tiles"]) == PLAIN_TILES
    used = list(data["tiles"].values())
    used += [i for obj in data["objects"].values() for row in obj["tiles"] for i in row]
    assert len(used) == len(set(used)), "a tile id is used twice"
    for i in used:
        assert isinstance(i, int) and 0 <= i < count, i
        x, y = i % 16 * 16, i // 16 * 16
        alpha = png.crop((x, y, x + 16, y + 16)).getchannel("A")
        assert alpha.getextrema()[1] > 0, f"tile {i} is fully transparent"


def test_town_sheet_is_kenneys_with_transparency() -> None:
    town = Image.open(TILES / "town.png")
    assert town.size == (432, 288) and town.mode == "RGBA"
    lo, hi = town.getchannel("A").getextrema()
    assert lo == 0 and hi == 255
    # No magenta left where the sheet is opaque.
    rgba = np.array(town)
    assert not ((rgba[:, :, :3] == (255, 0, 255)).all(axis=2) & (rgba[:, :, 3] > 0)).any()


def test_residents_sprite_sheets() -> None:
    index = json.loads((CHARS / "index.json").read_text())
    assert index["frame"] == 16
    assert index["columns"] == ["left", "down", "up", "right"]
    assert index["rows"] == ["stand", "step_a", "step_b"]
    residents = index["residents"]
    assert len(residents) == 25
    assert {"Isabella Rodriguez", "Sam Moore", "Jennifer Moore", "Klaus Mueller"} <= set(residents)
    pixels: dict[str, np.ndarray] = {}
    for name, file in residents.items():
        assert file == name.lower().replace(" ", "_") + ".png"
        sheet = Image.open(CHARS / file)
        assert sheet.size == (64, 48) and sheet.mode == "RGBA", name
        for row in range(3):  # every frame shows someone
            for col in range(4):
                frame = sheet.crop((col * 16, row * 16, col * 16 + 16, row * 16 + 16))
                assert frame.getchannel("A").getextrema()[1] == 255, (name, row, col)
        pixels[name] = np.array(sheet.crop((16, 0, 32, 16)))
    # Pairwise distinct, and visibly so: the standing, facing-down frames differ in many pixels.
    names = sorted(pixels)
    close = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
             if (pixels[a] != pixels[b]).any(axis=2).sum() < 20]
    assert not close, f"residents that look alike: {close}"
    assert sorted(p.name for p in CHARS.glob("*.png")) == sorted(residents.values())


def test_tilesets_load_with_pytmx(tmp_path: Path) -> None:
    town, interior = TILESETS / "town.tsx", TILESETS / "interior.tsx"
    n_town = 27 * 18
    tmx = tmp_path / "probe.tmx"
    tmx.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<map version="1.10" tiledversion="1.10.2" orientation="orthogonal" renderorder="right-down" width="2"
 height="1" tilewidth="16" tileheight="16" infinite="0" nextlayerid="2" nextobjectid="1">
 <tileset firstgid="1" source="{town}"/>
 <tileset firstgid="{n_town + 1}" source="{interior}"/>
 <layer id="1" name="ground" width="2" height="1">
  <data encoding="csv">29,{n_town + 1}</data>
 </layer>
</map>
""")
    tiled = pytmx.TiledMap(str(tmx))
    assert [ts.name for ts in tiled.tilesets] == ["town", "interior"]
    assert tiled.tilesets[0].tilecount == n_town and tiled.tilesets[0].columns == 27
    png = Image.open(TILES / "interior.png")
    assert tiled.tilesets[1].tilecount == (png.width // 16) * (png.height // 16)
    data = json.loads((TILES / "interior.json").read_text())
    gid = tiled.map_gid(n_town + 1 + data["tiles"]["wall"])[0][0]
    assert tiled.get_tile_properties_by_gid(gid)["name"] == "wall"
    assert tiled.get_tile_properties(1, 0, 0)["name"] == "floor_wood"
