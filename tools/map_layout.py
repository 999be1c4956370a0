"""Parse and validate the readable town layout (`tools/layout/the_ville.toml`) for `tools/build_map.py`.

The layout's format is explained at the top of the layout file itself. This module turns it into absolute
tile geometry and refuses, with an error naming the layout file and the place, anything the map format
(docs/map-format.md) or the original town (the address tree below) does not allow.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

Rect = tuple[int, int, int, int]  # x, y, w, h in tiles
Tile = tuple[int, int]

# The original town's address tree: sector -> arena -> the object types found there (and only those).
TOWN: dict[str, dict[str, tuple[str, ...]]] = {
    "artist's co-living space": {
        "Latoya Williams's room": ("bed", "closet", "desk", "shelf"),
        "Latoya Williams's bathroom": ("bathroom sink", "shower", "toilet"),
        "Rajiv Patel's room": ("bed", "closet", "easel", "guitar"),
        "Rajiv Patel's bathroom": ("bathroom sink", "shower", "toilet"),
        "Abigail Chen's room": ("bed", "closet", "desk"),
        "Abigail Chen's bathroom": ("bathroom sink", "shower", "toilet"),
        "Francisco Lopez's room": ("bed", "closet", "easel", "shelf"),
        "Francisco Lopez's bathroom": ("bathroom sink", "shower", "toilet"),
        "Hailey Johnson's room": ("bed", "closet", "desk", "easel"),
        "Hailey Johnson's bathroom": ("bathroom sink", "shower", "toilet"),
        "common room": ("common room sofa", "common room table"),
        "kitchen": ("cooking area", "kitchen sink", "refrigerator", "toaster"),
    },
    "Arthur Burton's apartment": {
        "main room": ("bed", "closet", "desk", "guitar", "refrigerator", "shelf"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
    },
    "Ryan Park's apartment": {
        "main room": ("bed", "closet", "computer desk", "cooking area", "kitchen sink", "refrigerator"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
    },
    "Isabella Rodriguez's apartment": {
        "main room": ("bed", "closet", "desk", "refrigerator", "shelf"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
    },
    "Giorgio Rossi's apartment": {
        "main room": ("bed", "blackboard", "closet", "cooking area", "desk", "kitchen sink", "refrigerator"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
    },
    "Carlos Gomez's apartment": {
        "main room": ("bed", "closet", "cooking area", "desk", "kitchen sink", "refrigerator"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
    },
    "The Rose and Crown Pub": {
        "pub": ("bar customer seating", "behind the bar counter", "cooking area", "kitchen sink",
                "microphone", "refrigerator", "shelf"),
    },
    "Hobbs Cafe": {
        "cafe": ("behind the cafe counter", "cafe customer seating", "cooking area", "kitchen sink", "piano",
                 "refrigerator"),
    },
    "Oak Hill College": {
        "classroom": ("blackboard", "classroom podium", "classroom student seating"),
        "library": ("bookshelf", "library sofa", "library table"),
        "hallway": (),
    },
    "Johnson Park": {"park": ("park garden",)},
    "Harvey Oak Supply Store": {
        "supply store": ("behind the supply store counter", "supply store counter",
                         "supply store product shelf"),
    },
    "The Willows Market and Pharmacy": {
        "store": ("behind the grocery counter", "behind the pharmacy counter", "grocery store counter",
                  "grocery store shelf", "pharmacy store counter", "pharmacy store shelf"),
    },
    "Adam Smith's house": {
        "main room": ("bed", "closet", "cooking area", "desk", "kitchen sink", "refrigerator"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
    },
    "Yuriko Yamamoto's house": {
        "main room": ("bed", "closet", "cooking area", "desk", "kitchen sink", "refrigerator", "shelf"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
    },
    "Moore family's house": {
        "main room": ("bed", "closet", "common room sofa", "cooking area", "desk", "kitchen sink",
                      "refrigerator"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
    },
    "Tamara Taylor and Carmen Ortiz's house": {
        "Tamara Taylor's room": ("bed", "closet", "desk"),
        "Carmen Ortiz's room": ("bed", "closet", "guitar"),
        "common room": ("common room table", "shelf"),
        "kitchen": ("cooking area", "kitchen sink", "refrigerator"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
        "garden": ("house garden",),
    },
    "Moreno family's house": {
        "Tom and Jane Moreno's bedroom": ("bed", "closet", "desk"),
        "empty bedroom": ("bed", "closet", "guitar"),
        "common room": ("common room table", "harp", "shelf"),
        "kitchen": ("cooking area", "kitchen sink", "refrigerator"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
        "garden": ("garden chair", "house garden"),
    },
    "Lin family's house": {
        "Mei and John Lin's bedroom": ("bed", "closet", "desk"),
        "Eddy Lin's bedroom": ("bed", "closet", "desk"),
        "common room": ("common room table", "shelf"),
        "kitchen": ("cooking area", "kitchen sink", "refrigerator"),
        "bathroom": ("bathroom sink", "shower", "toilet"),
        "garden": ("house garden",),
    },
    "Dorm for Oak Hill College": {
        "Klaus Mueller's room": ("bed", "closet", "desk", "game console"),
        "Maria Lopez's room": ("bed", "blackboard", "closet", "computer", "desk"),
        "Ayesha Khan's room": ("bed", "closet", "desk", "shelf"),
        "Wolfgang Schulz's room": ("bed", "closet", "desk", "game console", "lifting weight"),
        "man's bathroom": ("bathroom sink", "shower", "toilet"),
        "woman's bathroom": ("bathroom sink", "shower", "toilet"),
        "common room": ("common room sofa", "common room table", "pool table"),
        "kitchen": ("cooking area", "kitchen sink", "refrigerator", "toaster"),
        "garden": ("dorm garden",),
    },
}
FENCES = ("wood", "metal", "none")


class LayoutError(ValueError):
    """A layout the builder refuses; the message names the layout file and the place."""


@dataclass(frozen=True)
class Obj:
    kind: str
    rect: Rect


@dataclass
class Arena:
    name: str
    sector: str
    rect: Rect
    floor: str | None  # interior floor tile name; None for an outdoor arena (ground shows)
    fence: str  # outdoor arenas: "wood", "metal" or "none" around the rectangle's border
    objects: list[Obj] = field(default_factory=list)

    @property
    def outdoor(self) -> bool:
        return self.floor is None


@dataclass
class Sector:
    name: str
    rect: Rect
    doors: list[Tile]
    arenas: list[Arena]


@dataclass(frozen=True)
class Road:
    name: str
    vertical: bool
    at: int  # first asphalt column (vertical) or row (horizontal)
    lanes: int
    span: tuple[int, int]  # first and last tile along the road
    sidewalks: tuple[int, int]  # width before (north/west) and after (south/east) the asphalt


@dataclass
class Layout:
    path: Path
    width: int
    height: int
    world: str
    town_tiles: dict[str, int]
    roads: list[Road]
    paint: list[tuple[str, Rect]]
    ponds: list[Rect]
    decor: dict[str, list[Tile]]  # trees, small_trees, bushes, lamps, park_lamps, benches, flowers
    fences: list[tuple[str, Tile, Tile]]  # free-standing fence lines outside the sectors
    sectors: list[Sector]


def cells(rect: Rect) -> list[Tile]:
    x, y, w, h = rect
    return [(i, j) for j in range(y, y + h) for i in range(x, x + w)]


def inside(inner: Rect, outer: Rect) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and inner[0] + inner[2] <= outer[0] + outer[2]
            and inner[1] + inner[3] <= outer[1] + outer[3])


def overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def on_border(tile: Tile, rect: Rect) -> bool:
    x, y, w, h = rect
    return inside((*tile, 1, 1), rect) and (tile[0] in (x, x + w - 1) or tile[1] in (y, y + h - 1))


class _Reader:
    """Typed access to the TOML tables, with errors that say where."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, msg: str) -> LayoutError:
        return LayoutError(f"{self.path}: {where}: {msg}")

    def ints(self, value: object, n: int, where: str) -> tuple[int, ...]:
        if not (isinstance(value, list) and len(value) == n and all(type(v) is int for v in value)):
            raise self.fail(where, f"expected {n} integers, got {value!r}")
        return tuple(value)

    def rect(self, value: object, where: str, origin: Tile = (0, 0)) -> Rect:
        x, y, w, h = self.ints(value, 4, where)
        if w < 1 or h < 1:
            raise self.fail(where, f"empty rectangle {value!r}")
        return (x + origin[0], y + origin[1], w, h)

    def tiles(self, value: object, where: str, origin: Tile = (0, 0)) -> list[Tile]:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list of [x, y], got {value!r}")
        out: list[Tile] = []
        for item in value:
            x, y = self.ints(item, 2, where)
            out.append((x + origin[0], y + origin[1]))
        return out


def load_layout(path: Path, object_types: dict[str, tuple[int, int]]) -> Layout:
    """Read and validate the layout; coordinates in the result are absolute tiles."""
    rd = _Reader(path)
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    head = doc.get("map", {})
    width, height = rd.ints([head.get("width"), head.get("height")], 2, "[map] width/height")
    layout = Layout(path, width, height, str(head.get("world", "")), {}, [], [], [], {}, [], [])
    layout.town_tiles = {str(k): int(v) for k, v in doc.get("town_tiles", {}).items()}
    for i, road in enumerate(doc.get("roads", [])):
        where = f"[[roads]] #{i + 1} {road.get('name', '?')!r}"
        if road.get("axis") not in ("x", "y"):
            raise rd.fail(where, "axis must be \"x\" (runs west-east) or \"y\" (runs north-south)")
        lo, hi = rd.ints(road.get("span"), 2, where + " span")
        before, after = rd.ints(road.get("sidewalks", [2, 2]), 2, where + " sidewalks")
        layout.roads.append(Road(str(road.get("name")), road["axis"] == "y", int(road["at"]),
                                 int(road.get("lanes", 3)), (lo, hi), (before, after)))
    for i, item in enumerate(doc.get("paint", [])):
        where = f"[[paint]] #{i + 1}"
        if item.get("tile") not in layout.town_tiles:
            raise rd.fail(where, f"unknown town tile {item.get('tile')!r} (see [town_tiles])")
        layout.paint += [(item["tile"], rd.rect(r, where)) for r in item.get("rects", [])]
    layout.ponds = [rd.rect(r, "[outdoor] ponds") for r in doc.get("outdoor", {}).get("ponds", [])]
    for key, value in doc.get("outdoor", {}).items():
        if key == "fences":
            for line in value:
                kind = line[0] if line else None
                if kind not in FENCES[:2]:
                    raise rd.fail("[outdoor] fences", f"fence kind must be wood or metal, got {line!r}")
                x0, y0, x1, y1 = rd.ints(line[1:], 4, "[outdoor] fences")
                if x0 != x1 and y0 != y1:
                    raise rd.fail("[outdoor] fences", f"a fence line is straight: {line!r}")
                layout.fences.append((kind, (x0, y0), (x1, y1)))
        elif key == "rows":
            for row in value:
                kind = row[0] if row else None
                x0, y0, x1, y1, step = rd.ints(row[1:], 5, f"[outdoor] rows {row!r}")
                spots = [(x, y) for y in range(y0, y1 + 1, step) for x in range(x0, x1 + 1, step)]
                layout.decor.setdefault(str(kind), []).extend(spots)
        elif key != "ponds":
            layout.decor.setdefault(key, []).extend(rd.tiles(value, f"[outdoor] {key}"))
    for i, sec in enumerate(doc.get("sectors", [])):
        layout.sectors.append(_sector(rd, sec, i, object_types))
    _check(rd, layout)
    return layout


def _sector(rd: _Reader, sec: dict, index: int, object_types: dict[str, tuple[int, int]]) -> Sector:
    name = str(sec.get("name"))
    where = f"sector {name!r}"
    if name not in TOWN:
        raise rd.fail(f"[[sectors]] #{index + 1}", f"{name!r} is not a sector of the Ville")
    rect = rd.rect(sec.get("rect"), where + " rect")
    origin = (rect[0], rect[1])
    sector = Sector(name, rect, rd.tiles(sec.get("doors", []), where + " doors", origin), [])
    for ar in sec.get("arenas", []):
        aname = str(ar.get("name"))
        awhere = f"{where}, arena {aname!r}"
        if aname not in TOWN[name]:
            raise rd.fail(awhere, f"not an arena of {name!r} (known: {', '.join(TOWN[name])})")
        outdoor = bool(ar.get("outdoor", False))
        fence = str(ar.get("fence", "none"))
        if fence not in FENCES:
            raise rd.fail(awhere, f"fence must be one of {FENCES}, got {fence!r}")
        floor = None if outdoor else ar.get("floor")
        if not outdoor and not isinstance(floor, str):
            raise rd.fail(awhere, "an indoor arena needs a floor (a tile name of interior.json)")
        arena = Arena(aname, name, rd.rect(ar.get("rect"), awhere + " rect", origin), floor, fence)
        for obj in ar.get("objects", []):
            if not (isinstance(obj, list) and len(obj) == 3 and isinstance(obj[0], str)):
                raise rd.fail(awhere, f"an object is [\"type\", x, y], got {obj!r}")
            kind = obj[0]
            if kind not in object_types:
                raise rd.fail(awhere, f"unknown object type {kind!r} (see tools/layout/object_types.toml)")
            x, y = rd.ints(obj[1:], 2, f"{awhere}, object {kind!r}")
            w, h = object_types[kind]
            arena.objects.append(Obj(kind, (x + origin[0], y + origin[1], w, h)))
        sector.arenas.append(arena)
    return sector


def fence_tiles(arena: Arena, sector: Sector) -> set[Tile]:
    """Border tiles of a fenced outdoor arena that carry a fence (not gates, not against a wall)."""
    if not arena.outdoor or arena.fence == "none":
        return set()
    out: set[Tile] = set()
    for x, y in cells(arena.rect):
        if not on_border((x, y), arena.rect) or (x, y) in sector.doors:
            continue
        # Leave out the fence where the arena leans against a building of its own sector (walls, doors).
        outside = [(x + dx, y + dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
                   if not inside((x + dx, y + dy, 1, 1), arena.rect)]
        if outside and all(building(t, sector) for t in outside):
            continue
        out.add((x, y))
    return out


def building(tile: Tile, sector: Sector) -> bool:
    """A sector tile outside every arena: a building's wall or a door in it."""
    cell = (*tile, 1, 1)
    return inside(cell, sector.rect) and not any(inside(cell, a.rect) for a in sector.arenas)


def is_wall(tile: Tile, sector: Sector) -> bool:
    """A building tile that is not a door."""
    return building(tile, sector) and tile not in sector.doors


def _check(rd: _Reader, layout: Layout) -> None:
    bounds = (0, 0, layout.width, layout.height)
    names = [s.name for s in layout.sectors]
    for name in TOWN:
        if name not in names:
            raise rd.fail("[[sectors]]", f"sector {name!r} of the Ville is missing")
    for i, s in enumerate(layout.sectors):
        where = f"sector {s.name!r}"
        if names.count(s.name) > 1:
            raise rd.fail(where, "the sector appears twice")
        if not inside(s.rect, bounds):
            raise rd.fail(where, f"rectangle {s.rect} is not inside the {layout.width}x{layout.height} map")
        for other in layout.sectors[:i]:
            if overlap(s.rect, other.rect):
                raise rd.fail(where, f"rectangle {s.rect} overlaps sector {other.name!r} {other.rect}")
        anames = [a.name for a in s.arenas]
        for aname in TOWN[s.name]:
            if aname not in anames:
                raise rd.fail(where, f"arena {aname!r} is missing")
        for j, a in enumerate(s.arenas):
            awhere = f"{where}, arena {a.name!r}"
            if anames.count(a.name) > 1:
                raise rd.fail(awhere, "the arena appears twice")
            if not inside(a.rect, s.rect):
                raise rd.fail(awhere, f"rectangle {a.rect} is not inside its sector {s.rect}")
            for b in s.arenas[:j]:
                if overlap(a.rect, b.rect):
                    raise rd.fail(awhere, f"rectangle {a.rect} overlaps arena {b.name!r} {b.rect}")
            _check_objects(rd, s, a, awhere)
        for door in s.doors:
            in_arena = [a for a in s.arenas if inside((*door, 1, 1), a.rect)]
            if not inside((*door, 1, 1), s.rect):
                raise rd.fail(where, f"door {door} is not inside the sector")
            if in_arena and not (in_arena[0].outdoor and on_border(door, in_arena[0].rect)):
                raise rd.fail(where, f"door {door} is inside arena {in_arena[0].name!r}, "
                              "not in a wall or fence")


def _check_objects(rd: _Reader, sector: Sector, arena: Arena, where: str) -> None:
    allowed = TOWN[sector.name][arena.name]
    kinds = {o.kind for o in arena.objects}
    for kind in allowed:
        if kind not in kinds:
            raise rd.fail(where, f"object {kind!r} is missing")
    fences = fence_tiles(arena, sector)
    for k, obj in enumerate(arena.objects):
        rel = (obj.rect[0] - sector.rect[0], obj.rect[1] - sector.rect[1])
        owhere = f"{where}, object {obj.kind!r} at {rel} (map tile {obj.rect[:2]})"
        if obj.kind not in allowed:
            raise rd.fail(owhere, f"the original has no {obj.kind!r} here (allowed: {', '.join(allowed)})")
        if not inside(obj.rect, arena.rect):
            raise rd.fail(owhere, f"footprint {obj.rect} lies outside the arena {arena.rect}")
        if fences.intersection(cells(obj.rect)):
            raise rd.fail(owhere, "the object stands on the arena's fence")
        for other in arena.objects[:k]:
            if overlap(obj.rect, other.rect):
                raise rd.fail(owhere, f"overlaps object {other.kind!r} at {other.rect[:2]}")
