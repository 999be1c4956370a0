"""Palette, drawing helpers and the plain interior tiles (floors, walls, markers) for build_art.py.

Colours are taken from Kenney's RPG Urban Pack (warm, slightly desaturated, dark outlines) so that
the interiors drawn here sit well next to the town tiles.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
T = 16  # tile size in px

# Kenney's palette (sampled from urban_rpg.png) plus a few in-between shades.
OUT: RGB = (92, 98, 120)  # slate outline of stone and metal things
WOUT: RGB = (101, 65, 64)  # brown outline of wooden things
WOOD_L, WOOD, WOOD_D, WOOD_DD = (226, 145, 87), (199, 123, 71), (169, 103, 59), (135, 77, 39)
DARKW_L, DARKW, DARKW_D = (150, 96, 70), (125, 76, 60), (98, 60, 50)
CREAM, CREAM_D, SAND = (214, 212, 175), (198, 188, 159), (179, 155, 125)
WHITE, WHITE_D, ICE = (236, 240, 248), (209, 221, 239), (193, 219, 235)
STEEL_L, STEEL, STEEL_D, SLATE = (190, 184, 205), (170, 168, 189), (137, 140, 166), (105, 113, 123)
RED_L, RED, RED_D, MAROON = (220, 97, 93), (194, 80, 77), (165, 66, 64), (125, 69, 82)
BLUE_L, BLUE, BLUE_D = (100, 192, 225), (89, 160, 216), (62, 110, 170)
TEAL, TEAL_D, TEAL_DD = (56, 203, 171), (33, 131, 124), (41, 99, 96)
GREEN_L, GREEN, GREEN_D = (96, 196, 120), (66, 163, 121), (46, 126, 92)
YEL, YEL_D, ORANGE = (245, 190, 76), (218, 146, 62), (240, 120, 62)
PURPLE, PURPLE_D, PINK = (150, 110, 190), (110, 80, 150), (236, 130, 170)
BLACK, CHAR = (52, 52, 60), (76, 76, 90)
SOIL, SOIL_L, SOIL_D = (128, 84, 56), (152, 104, 68), (100, 64, 46)

Draw = ImageDraw.ImageDraw


def box(d: Draw, x0: int, y0: int, x1: int, y1: int, fill: RGB | None, line: RGB | None = None) -> None:
    """Filled rectangle, corners inclusive, with an optional 1 px outline inside the bounds."""
    d.rectangle((x0, y0, x1, y1), fill=fill, outline=line)


def block(d: Draw, x0: int, y0: int, x1: int, y1: int, top: RGB, face: RGB, face_h: int,
          line: RGB = WOUT) -> None:
    """A piece of furniture seen from above at a slant (like Kenney's): top surface over a front face."""
    box(d, x0, y0, x1, y1, top, line)
    box(d, x0, y1 - face_h, x1, y1, face, line)


def oval(d: Draw, x0: int, y0: int, x1: int, y1: int, fill: RGB | None, line: RGB | None = None) -> None:
    d.ellipse((x0, y0, x1, y1), fill=fill, outline=line)


def px(d: Draw, x: int, y: int, c: RGB) -> None:
    d.point((x, y), fill=c)


def canvas(w: int, h: int) -> tuple[Image.Image, Draw]:
    im = Image.new("RGBA", (w * T, h * T), (0, 0, 0, 0))
    return im, ImageDraw.Draw(im)


# ---- plain tiles: each function draws one 16x16 tile; they tile seamlessly where they are floors ----

def _planks(d: Draw, light: RGB, mid: RGB, dark: RGB, seed: int) -> None:
    rng = random.Random(seed)  # fixed seed: the output must be identical on every run
    for r in range(4):
        y = r * 4
        box(d, 0, y, 15, y + 3, mid)
        d.line((0, y, 15, y), fill=light)
        d.line((0, y + 3, 15, y + 3), fill=dark)
        seam = (r * 7 + 3) % 16
        d.line((seam, y, seam, y + 3), fill=dark)
        for _ in range(2):
            px(d, rng.randrange(16), y + 1 + rng.randrange(2), light)


def _squares(d: Draw, size: int, a: RGB, b: RGB, grout: RGB | None) -> None:
    for ty in range(0, T, size):
        for tx in range(0, T, size):
            box(d, tx, ty, tx + size - 1, ty + size - 1, a if (tx + ty) // size % 2 == 0 else b)
    if grout:
        for k in range(0, T, size):
            d.line((k, 0, k, 15), fill=grout)
            d.line((0, k, 15, k), fill=grout)


def _carpet(d: Draw, base: RGB, dark: RGB, light: RGB) -> None:
    box(d, 0, 0, 15, 15, base)
    for y in range(0, T, 4):  # small woven diamond pattern, period 4 so it tiles
        for x in range(0, T, 4):
            px(d, x, y, dark)
            px(d, x + 2, y + 2, light)


def floor_wood(d: Draw) -> None:
    _planks(d, WOOD_L, WOOD, WOOD_D, 1)


def floor_wood_dark(d: Draw) -> None:
    _planks(d, DARKW_L, DARKW, DARKW_D, 2)


def floor_tile(d: Draw) -> None:
    _squares(d, 8, WHITE, (206, 226, 242), (168, 190, 214))


def floor_kitchen(d: Draw) -> None:
    _squares(d, 8, (232, 228, 206), (118, 126, 150), None)


def floor_stone(d: Draw) -> None:
    box(d, 0, 0, 15, 15, STEEL_D)  # mortar; stones leave the joint lines at x=0 / y=0 so the tile repeats
    for i, (x0, y0, x1, y1) in enumerate([(1, 1, 9, 6), (11, 1, 15, 6), (1, 8, 5, 15), (7, 8, 15, 15)]):
        box(d, x0, y0, x1, y1, (178, 172, 193) if i % 3 == 0 else (166, 163, 184))
        d.line((x0, y0, x1, y0), fill=STEEL_L)
    px(d, 4, 3, STEEL_D)
    px(d, 12, 11, STEEL_D)


def floor_concrete(d: Draw) -> None:
    rng = random.Random(3)
    box(d, 0, 0, 15, 15, (188, 186, 196))
    for _ in range(12):
        px(d, rng.randrange(16), rng.randrange(16), rng.choice([(172, 170, 182), (200, 198, 208)]))
    d.line((0, 15, 15, 15), fill=(170, 168, 182))
    d.line((15, 0, 15, 15), fill=(170, 168, 182))


def floor_cafe(d: Draw) -> None:
    _squares(d, 8, (214, 142, 100), (198, 124, 88), (232, 200, 160))


def floor_pub(d: Draw) -> None:
    for by in (0, 8):  # basket-weave parquet: 8x8 blocks of three strips, alternating direction
        for bx in (0, 8):
            vertical = (bx + by) // 8 % 2 == 1
            for k in range(3):
                c = (DARKW, (112, 68, 56), DARKW_L)[k]
                if vertical:
                    box(d, bx + k * 3, by, bx + k * 3 + 2, by + 7, c)
                else:
                    box(d, bx, by + k * 3, bx + 7, by + k * 3 + 2, c)
            box(d, bx, by, bx + 7, by + 7, None, DARKW_D)


def wall(d: Draw) -> None:
    box(d, 0, 0, 15, 15, (78, 80, 100))  # dark mortar between the stones of the wall's top
    for r in range(4):
        off = 0 if r % 2 == 0 else 4
        for x in range(off - 8, 16, 8):
            if x + 7 < 0:
                continue
            box(d, max(0, x + 1), r * 4 + 1, min(15, x + 7), r * 4 + 3, (124, 120, 150))
            d.line((max(0, x + 1), r * 4 + 1, min(15, x + 7), r * 4 + 1), fill=(150, 146, 178))


def wall_face(d: Draw) -> None:
    box(d, 0, 0, 15, 15, CREAM)
    d.line((0, 0, 15, 0), fill=(78, 80, 100))  # shadow under the wall's top
    d.line((0, 1, 15, 1), fill=CREAM_D)
    for y in (5, 9):
        for x in range(0, T, 4):
            px(d, x + (y // 4) % 2 * 2, y, CREAM_D)
    box(d, 0, 12, 15, 15, WOOD_D)  # skirting board
    d.line((0, 12, 15, 12), fill=WOOD)
    d.line((0, 15, 15, 15), fill=WOUT)


def doorway(d: Draw) -> None:
    box(d, 0, 0, 15, 15, CREAM_D)  # stone sill
    d.line((0, 0, 15, 0), fill=SAND)
    d.line((0, 15, 15, 15), fill=SAND)
    box(d, 2, 3, 13, 12, WOOD_D, WOUT)  # doormat
    for y in range(5, 11, 2):
        d.line((4, y, 11, y), fill=WOOD_DD)


def garden_soil(d: Draw) -> None:
    rng = random.Random(4)
    box(d, 0, 0, 15, 15, SOIL)
    for _ in range(22):
        px(d, rng.randrange(16), rng.randrange(16), rng.choice([SOIL_L, SOIL_D, SOIL_D]))


def collision(d: Draw) -> None:
    d.rectangle((0, 0, 15, 15), fill=(220, 40, 40, 110), outline=(200, 20, 20, 220))
    d.line((1, 1, 14, 14), fill=(200, 20, 20, 230))
    d.line((14, 1, 1, 14), fill=(200, 20, 20, 230))


def spawn(d: Draw) -> None:
    d.polygon([(8, 3), (13, 8), (8, 13), (3, 8)], fill=YEL, outline=WOUT)
    box(d, 7, 7, 8, 8, ORANGE)


PLAIN_TILES: dict[str, Callable[[Draw], None]] = {
    "floor_wood": floor_wood, "floor_wood_dark": floor_wood_dark, "floor_tile": floor_tile,
    "floor_kitchen": floor_kitchen, "floor_carpet_red": lambda d: _carpet(d, RED, RED_D, RED_L),
    "floor_carpet_blue": lambda d: _carpet(d, (84, 112, 176), (66, 90, 150), (110, 138, 200)),
    "floor_carpet_green": lambda d: _carpet(d, (76, 146, 102), (58, 120, 84), (100, 170, 124)),
    "floor_carpet_purple": lambda d: _carpet(d, (128, 92, 156), (104, 72, 130), (152, 116, 180)),
    "floor_stone": floor_stone, "floor_concrete": floor_concrete, "floor_cafe": floor_cafe,
    "floor_pub": floor_pub, "wall": wall, "wall_face": wall_face, "doorway": doorway,
    "garden_soil": garden_soil, "collision": collision, "spawn": spawn,
}
