"""Reading a town's Tiled map into plain data: collision grid and the named rectangles of its places.

Owns the translation from TMX (pytmx, no display needed, images never loaded) to `MapData`; the
rules of `docs/map-format.md` that concern the file itself (layers present, rectangles on the tile
grid, properties present) are checked here, the rules about places in `town.py`.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np

from smallville.errors import MapError


def _import_pytmx() -> Any:
    """Import pytmx without letting it import pygame: the world model must not depend on a display
    library. pytmx loads pygame for its optional `util_pygame` and logs an error when it can't; we hide
    pygame during the import, silence that log, and drop the half-loaded `util_pygame` so that the
    viewer's own `import pytmx.util_pygame` later loads it properly."""
    if "pygame" in sys.modules:
        import pytmx
        return pytmx
    quiet = logging.getLogger("pytmx.util_pygame")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    sys.modules["pygame"] = None  # type: ignore[assignment]  # makes `import pygame` fail inside pytmx
    try:
        import pytmx
    finally:
        del sys.modules["pygame"]
        quiet.setLevel(level)
    sys.modules.pop("pytmx.util_pygame", None)
    for name in ("util_pygame", "load_pygame"):
        if hasattr(pytmx, name):
            delattr(pytmx, name)
    return pytmx


pytmx = _import_pytmx()

TILE_LAYERS = ("ground", "floor", "walls", "furniture", "decor", "above", "collision")
OBJECT_LAYERS = ("sectors", "arenas", "objects", "spawns")


@dataclass(frozen=True)
class Rect:
    """A rectangle of tiles: x, y of the top-left tile, width and height in tiles."""

    x: int
    y: int
    w: int
    h: int

    def tiles(self) -> list[tuple[int, int]]:
        return [(x, y) for y in range(self.y, self.y + self.h) for x in range(self.x, self.x + self.w)]

    def contains(self, x: int, y: int) -> bool:
        return self.x <= x < self.x + self.w and self.y <= y < self.y + self.h


@dataclass(frozen=True)
class PlaceRect:
    """One rectangle of a named place, as read from an object layer."""

    name: str
    rect: Rect
    sector: str | None = None
    arena: str | None = None


@dataclass
class MapData:
    """What the simulation needs of a map file."""

    path: Path
    sha256: str
    world: str
    width: int
    height: int
    tile_size: int
    blocked: np.ndarray  # bool [height, width]; True where nobody can walk
    sectors: list[PlaceRect]
    arenas: list[PlaceRect]
    objects: list[PlaceRect]
    spawns: dict[str, tuple[int, int]]


def _tilesets_and_digest(path: Path) -> str:
    """Check the map's external tilesets exist; return a hash of the map and its tilesets.

    The hash identifies 'the same map' for saves. The check is ours because pytmx reports a missing
    tileset with a bare Exception.
    """
    if not path.is_file():
        raise MapError(path, "map file not found")
    data = path.read_bytes()
    digest = hashlib.sha256(data)
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise MapError(path, f"not a valid TMX (XML) file: {exc}") from None
    if root.tag != "map":
        raise MapError(path, f"not a TMX map (root element <{root.tag}>)")
    for node in root.iter("tileset"):
        source = node.get("source")
        if source is None:
            continue
        tsx = path.parent / source
        if not tsx.is_file():
            raise MapError(path, f"tileset file {source!r} not found (looked at {tsx})", layer="tilesets")
        digest.update(tsx.read_bytes())
    return digest.hexdigest()


def _open(path: Path) -> Any:  # a pytmx.TiledMap (pytmx ships no types)
    try:
        return pytmx.TiledMap(str(path))
    except Exception as exc:  # pytmx raises bare Exception/ValueError/KeyError for malformed content
        raise MapError(path, f"cannot load the map: {exc}") from exc


def _layer(tmx: Any, path: Path, name: str) -> Any:
    try:
        return tmx.get_layer_by_name(name)
    except ValueError:
        raise MapError(path, "layer missing (see docs/map-format.md)", layer=name) from None


def _rect(obj: Any, tile: int, path: Path, layer: str) -> Rect:
    values = (obj.x, obj.y, obj.width or tile, obj.height or tile)
    if any(float(v) % tile for v in values):
        raise MapError(path, f"rectangle {values} is not on the {tile}-px tile grid", layer=layer,
                       place=repr(obj.name))
    x, y, w, h = (int(float(v)) // tile for v in values)
    return Rect(x, y, max(w, 1), max(h, 1))


def _prop(obj: Any, key: str, path: Path, layer: str) -> str:
    value = obj.properties.get(key)
    if not isinstance(value, str) or not value:
        raise MapError(path, f"object has no {key!r} property", layer=layer, place=repr(obj.name))
    return value


def load_map(path: Path | str) -> MapData:
    """Load and check one TMX file. Raises `MapError` naming file, layer and place."""
    path = Path(path)
    sha256 = _tilesets_and_digest(path)
    tmx = _open(path)
    tile = int(tmx.tilewidth)
    if tmx.tilewidth != tmx.tileheight:
        raise MapError(path, "tiles must be square")
    for name in TILE_LAYERS + OBJECT_LAYERS:
        _layer(tmx, path, name)
    width, height = int(tmx.width), int(tmx.height)
    collision = _layer(tmx, path, "collision")
    blocked = np.array(collision.data, dtype=np.int64) != 0
    if blocked.shape != (height, width):
        raise MapError(path, f"layer is {blocked.shape}, map is {(height, width)}", layer="collision")

    def named(layer: str) -> list[Any]:
        out = []
        for obj in _layer(tmx, path, layer):
            if not obj.name:
                raise MapError(path, f"object #{obj.id} has no name", layer=layer)
            out.append(obj)
        return out

    sectors = [PlaceRect(o.name, _rect(o, tile, path, "sectors")) for o in named("sectors")]
    arenas = [PlaceRect(o.name, _rect(o, tile, path, "arenas"), sector=_prop(o, "sector", path, "arenas"))
              for o in named("arenas")]
    objects = [
        PlaceRect(o.name, _rect(o, tile, path, "objects"), sector=_prop(o, "sector", path, "objects"),
                  arena=_prop(o, "arena", path, "objects"))
        for o in named("objects")
    ]
    spawns: dict[str, tuple[int, int]] = {}
    for o in named("spawns"):
        r = _rect(o, tile, path, "spawns")
        if o.name in spawns:
            raise MapError(path, "two spawns with the same name", layer="spawns", place=repr(o.name))
        spawns[o.name] = (r.x, r.y)
    for place in sectors + arenas + objects:
        r = place.rect
        if r.x < 0 or r.y < 0 or r.x + r.w > width or r.y + r.h > height:
            raise MapError(path, f"rectangle {r} lies outside the {width}x{height} map",
                           place=repr(place.name))
    world = tmx.properties.get("world")
    if not isinstance(world, str) or not world:
        raise MapError(path, "map property 'world' (the world's address name) is missing")
    return MapData(
        path=path,
        sha256=sha256,
        world=world,
        width=width,
        height=height,
        tile_size=tile,
        blocked=blocked,
        sectors=sectors,
        arenas=arenas,
        objects=objects,
        spawns=spawns,
    )
