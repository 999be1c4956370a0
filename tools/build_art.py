"""Regenerate all of smallville's art: `python tools/build_art.py` (deterministic; run from anywhere).

Owns and writes:
- assets/tiles/town.png: Kenney's RPG Urban Pack (CC0) as shipped in the pyxel 2.9.9 wheel, cropped and
  made transparent;
- assets/tiles/interior.png + interior.json: floors, walls, markers and the 46 object types, drawn here
  (art_interior.py, art_furniture.py) in Kenney's palette;
- maps/tilesets/town.tsx, maps/tilesets/interior.tsx: Tiled external tilesets for both images;
- assets/characters/<slug>.png + index.json: the 25 residents, Kenney's 6 characters recoloured
  (art_characters.py);
- assets/CREDITS.md and docs/art-sheet.png (a contact sheet for people to review the art).
The wheel is fetched with pip into build/pyxel (git-ignored) and reused when present.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import TypedDict
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the art_* helpers live next to this script

from art_characters import RESIDENTS, make_sheet, slug
from art_furniture import OBJECTS
from art_interior import PLAIN_TILES, T, canvas

ROOT = Path(__file__).resolve().parent.parent
WHEEL_DIR = ROOT / "build" / "pyxel"
WHEEL_MEMBER = "pyxel/examples/assets/urban_rpg.png"
COLUMNS = 16  # interior.png is 16 tiles wide
MAGENTA = (255, 0, 255)


class ObjectTiles(TypedDict):
    """An object of interior.json: its footprint in tiles and its tiles' ids in the sheet, row by row."""

    w: int
    h: int
    tiles: list[list[int]]


def load_urban() -> Image.Image:
    """Kenney's sheet as RGBA: the wheel's 432x296 image minus its top 8 px row, magenta made transparent."""
    wheels = sorted(WHEEL_DIR.glob("pyxel-2.9.9-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "pyxel==2.9.9", "--no-deps", "-d",
                        str(WHEEL_DIR)], check=True)
        wheels = sorted(WHEEL_DIR.glob("pyxel-2.9.9-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        raw = Image.open(io.BytesIO(z.read(WHEEL_MEMBER))).convert("RGB")
    if raw.size != (432, 296):
        raise SystemExit(f"unexpected {WHEEL_MEMBER} size {raw.size}")
    rgba = np.array(raw.crop((0, 8, 432, 296)).convert("RGBA"))
    magenta = (rgba[:, :, :3] == MAGENTA).all(axis=2)
    rgba[magenta] = 0  # fully transparent black, so no magenta can bleed in when the sheet is filtered
    return Image.fromarray(rgba, "RGBA")


def build_interior() -> tuple[Image.Image, dict[str, object], list[str]]:
    """Draw every plain tile and object; return the sheet, the interior.json data and a name per tile."""
    footprints: dict[str, list[int]] = tomllib.loads(
        (ROOT / "tools/layout/object_types.toml").read_text())["objects"]
    if set(footprints) != set(OBJECTS):
        raise SystemExit(f"object types differ from the drawings: {set(footprints) ^ set(OBJECTS)}")
    tiles: list[Image.Image] = []
    names: list[str] = []
    tile_ids: dict[str, int] = {}
    for name, draw in PLAIN_TILES.items():
        im, d = canvas(1, 1)
        draw(d)
        tile_ids[name] = len(tiles)
        tiles.append(im)
        names.append(name)
    objects: dict[str, ObjectTiles] = {}
    for name, (w, h) in footprints.items():  # the toml's order, so that related objects sit together
        im, d = canvas(w, h)
        OBJECTS[name](d)
        rows: list[list[int]] = []
        for ty in range(h):
            row = []
            for tx in range(w):
                tile = im.crop((tx * T, ty * T, (tx + 1) * T, (ty + 1) * T))
                if tile.getchannel("A").getextrema()[1] == 0:  # fully transparent
                    raise SystemExit(f"{name}: tile ({tx}, {ty}) is empty")
                row.append(len(tiles))
                tiles.append(tile)
                names.append(f"{name} ({tx},{ty})")
            rows.append(row)
        objects[name] = {"w": w, "h": h, "tiles": rows}
    n_rows = -(-len(tiles) // COLUMNS)
    sheet = Image.new("RGBA", (COLUMNS * T, n_rows * T), (0, 0, 0, 0))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (i % COLUMNS * T, i // COLUMNS * T))
    data: dict[str, object] = {"tile_size": T, "columns": COLUMNS, "tiles": tile_ids, "objects": objects}
    return sheet, data, names


def interior_json(data: dict[str, object]) -> str:
    """interior.json with one line per tile name and per object, so that diffs stay readable."""
    def block(d: dict[str, object]) -> str:
        return "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items()) + "\n }"
    return (f'{{\n "tile_size": {data["tile_size"]},\n "columns": {data["columns"]},\n'
            f' "tiles": {block(data["tiles"])},\n "objects": {block(data["objects"])}\n}}\n')  # type: ignore[arg-type]


def tsx(name: str, image: str, size: tuple[int, int], tile_names: list[str] | None = None) -> str:
    """A Tiled 1.10 external tileset; with tile_names, each tile carries its name as type and property."""
    cols, rows = size[0] // T, size[1] // T
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<tileset version="1.10" tiledversion="1.10.2" name="{name}" tilewidth="{T}" tileheight="{T}" '
             f'tilecount="{cols * rows}" columns="{cols}">',
             f' <image source="{image}" width="{size[0]}" height="{size[1]}"/>']
    for i, tname in enumerate(tile_names or []):
        lines += [f' <tile id="{i}" type={quoteattr(tname)}>', "  <properties>",
                  f"   <property name=\"name\" value={quoteattr(tname)}/>", "  </properties>", " </tile>"]
    lines.append("</tileset>")
    return "\n".join(lines) + "\n"


CREDITS = """# Art credits

- **Town tiles and the 6 base characters**: "RPG Urban Pack by Kenney (www.kenney.nl), CC0 1.0"
  (https://creativecommons.org/publicdomain/zero/1.0/). Obtained from the PyPI wheel `pyxel==2.9.9`,
  file `pyxel/examples/assets/urban_rpg.png` (its top 8 px row removed, magenta `#ff00ff` made
  transparent) -> `assets/tiles/town.png`.
- **Residents** (`assets/characters/*.png`): Kenney's 6 characters recoloured per resident (hair, skin,
  clothes) by `tools/build_art.py` / `tools/art_characters.py`; the recolouring is this project's own.
- **Interior tiles and furniture** (`assets/tiles/interior.png`): drawn by code in
  `tools/art_interior.py` and `tools/art_furniture.py`, this project's own work, in Kenney's palette.
- `maps/tilesets/*.tsx` and `docs/art-sheet.png` are generated by the same script.

Regenerate everything (deterministic; downloads the wheel into `build/pyxel` once):

    .venv/bin/python tools/build_art.py
"""


def contact_sheet(interior: Image.Image, data: dict[str, object],
                  sheets: dict[str, Image.Image]) -> Image.Image:
    """Everything at x3 with names: plain tiles, objects over a wooden floor, residents' 12 frames."""
    font = ImageFont.load_default(size=12)
    s, width = 3, 1240
    tiles: dict[str, int] = data["tiles"]  # type: ignore[assignment]
    objects: dict[str, ObjectTiles] = data["objects"]  # type: ignore[assignment]

    def tile(i: int) -> Image.Image:
        x, y = i % COLUMNS * T, i // COLUMNS * T
        return interior.crop((x, y, x + T, y + T))

    items: list[tuple[str, Image.Image]] = [("tiles", Image.new("RGBA", (1, 1)))]
    items += [(n, tile(i)) for n, i in tiles.items()]
    items.append(("objects", Image.new("RGBA", (1, 1))))
    floor = tile(tiles["floor_wood"])
    for name, o in objects.items():
        w, h = o["w"], o["h"]
        im = Image.new("RGBA", (w * T, h * T))
        for ty, row in enumerate(o["tiles"]):
            for tx, i in enumerate(row):
                im.paste(floor, (tx * T, ty * T))
                im.alpha_composite(tile(i), (tx * T, ty * T))
        items.append((name, im))
    items.append(("residents", Image.new("RGBA", (1, 1))))
    items += list(sheets.items())

    out = Image.new("RGBA", (width, 6000), (58, 62, 74, 255))
    d = ImageDraw.Draw(out)
    x = y = 10
    row_h = 0
    for name, im in items:
        if name in ("tiles", "objects", "residents"):  # section heading on a new line
            y += row_h + (20 if y > 10 else 0)
            d.text((10, y), name.upper(), fill=(255, 230, 160), font=font)
            x, y, row_h = 10, y + 22, 0
            continue
        big = im.resize((im.width * s, im.height * s), Image.Resampling.NEAREST)
        cell_w = max(big.width, int(d.textlength(name, font=font))) + 14
        if x + cell_w > width:
            x, y, row_h = 10, y + row_h, 0
        out.alpha_composite(big, (x, y))
        d.text((x, y + big.height + 2), name, fill=(235, 235, 240), font=font)
        x += cell_w
        row_h = max(row_h, big.height + 22)
    return out.crop((0, 0, width, y + row_h + 10))


def main() -> None:
    urban = load_urban()
    (ROOT / "assets/tiles").mkdir(parents=True, exist_ok=True)
    (ROOT / "assets/characters").mkdir(parents=True, exist_ok=True)
    (ROOT / "maps/tilesets").mkdir(parents=True, exist_ok=True)
    urban.save(ROOT / "assets/tiles/town.png")

    interior, data, names = build_interior()
    interior.save(ROOT / "assets/tiles/interior.png")
    (ROOT / "assets/tiles/interior.json").write_text(interior_json(data))

    (ROOT / "maps/tilesets/town.tsx").write_text(tsx("town", "../../assets/tiles/town.png", urban.size))
    (ROOT / "maps/tilesets/interior.tsx").write_text(
        tsx("interior", "../../assets/tiles/interior.png", interior.size, names))

    sheets: dict[str, Image.Image] = {}
    index: dict[str, str] = {}
    for name in RESIDENTS:
        sheet = make_sheet(urban, name)
        sheet.save(ROOT / f"assets/characters/{slug(name)}.png")
        sheets[name] = sheet
        index[name] = f"{slug(name)}.png"
    (ROOT / "assets/characters/index.json").write_text(json.dumps(
        {"frame": 16, "columns": ["left", "down", "up", "right"], "rows": ["stand", "step_a", "step_b"],
         "residents": index}, indent=1) + "\n")

    (ROOT / "assets/CREDITS.md").write_text(CREDITS)
    (ROOT / "docs").mkdir(exist_ok=True)
    contact_sheet(interior, data, sheets).save(ROOT / "docs/art-sheet.png")
    print(f"wrote town.png, interior.png ({len(names)} tiles), {len(sheets)} residents, tilesets, art-sheet")


if __name__ == "__main__":
    main()
