"""Build the standard town, maps/the_ville/the_ville.tmx, from the layout tools/layout/the_ville.toml.

Inputs: the layout (format described at its top), the object footprints (tools/layout/object_types.toml),
the art's tile names (assets/tiles/interior.json, maps/tilesets/town.tsx, maps/tilesets/interior.tsx) and
the residents (maps/the_ville/residents.toml, for the `spawns` layer). The map follows docs/map-format.md:
tile layers ground, floor, walls, furniture, decor, above, collision (hidden) and object layers sectors,
arenas, objects, spawns. Before writing, the builder checks that every arena has walkable tiles and can be
reached from the street, that every object can be used and that every spawn stands in its home; any
failure is an error naming the layout file and the place. The output is deterministic.

    .venv/bin/python tools/build_map.py [--root DIR] [--layout FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from map_layout import (  # noqa: E402
    Layout,
    LayoutError,
    Rect,
    Sector,
    Tile,
    building,
    cells,
    fence_tiles,
    inside,
    is_wall,
    load_layout,
)

from smallville.testing.tmxwrite import MapObject, ObjectLayer, TileLayer, TilesetRef, write_tmx  # noqa: E402

TILE_SIZE = 16
LAYERS = ("ground", "floor", "walls", "furniture", "decor", "above", "collision")
BLOCKING_DECOR = ("trees", "small_trees", "bushes")
ALL_DECOR = (*BLOCKING_DECOR, "lamps", "park_lamps", "benches")


class Painter:
    """The tile layers of one map, painted by tile name."""

    def __init__(self, layout: Layout, interior: dict, interior_first: int) -> None:
        self.layout = layout
        self.interior = interior
        self.interior_first = interior_first
        self.grids = {name: [[0] * layout.width for _ in range(layout.height)] for name in LAYERS}
        self.collision = self.inner("collision", "the collision layer")
        # Wall tiles of every sector: a wall shows its face where no wall stands south of it.
        self.wall_tiles = {t for s in layout.sectors for t in cells(s.rect) if is_wall(t, s)}

    def town(self, name: str) -> int:
        if name not in self.layout.town_tiles:
            raise LayoutError(f"{self.layout.path}: [town_tiles]: no tile named {name!r}")
        return self.layout.town_tiles[name] + 1  # town.tsx has firstgid 1

    def inner(self, name: str, where: str) -> int:
        tiles = self.interior.get("tiles", {})
        if name not in tiles:
            raise LayoutError(f"{self.layout.path}: {where}: interior.json has no tile {name!r}"
                              f" (known: {', '.join(sorted(tiles))})")
        return self.interior_first + int(tiles[name])

    def put(self, layer: str, tile: Tile, gid: int) -> None:
        x, y = tile
        if 0 <= x < self.layout.width and 0 <= y < self.layout.height:
            self.grids[layer][y][x] = gid

    def get(self, layer: str, tile: Tile) -> int:
        return self.grids[layer][tile[1]][tile[0]]

    def blocked(self, tile: Tile) -> bool:
        x, y = tile
        on_map = 0 <= x < self.layout.width and 0 <= y < self.layout.height
        return not on_map or self.get("collision", tile) != 0


def _edge(k: int, n: int, low: str, high: str) -> str:
    return low if k == 0 else high if k == n - 1 else "middle"


def paint_streets(p: Painter, layout: Layout) -> None:
    """Grass everywhere, then sidewalks, then asphalt with lane lines, crossings and crosswalks."""
    for y in range(layout.height):
        for x in range(layout.width):
            p.put("ground", (x, y), p.town("grass"))
    lanes: dict[bool, dict[Tile, tuple[int, int]]] = {False: {}, True: {}}
    walks: dict[bool, set[Tile]] = {False: set(), True: set()}
    for road in layout.roads:
        for a in range(road.span[0], road.span[1] + 1):
            for k in range(-road.sidewalks[0], road.lanes + road.sidewalks[1]):
                tile = (road.at + k, a) if road.vertical else (a, road.at + k)
                if 0 <= k < road.lanes:
                    lanes[road.vertical][tile] = (k, road.lanes)
                else:
                    walks[road.vertical].add(tile)
    for tile in walks[False] | walks[True]:
        p.put("ground", tile, p.town("sidewalk"))
    for vertical in (False, True):
        axis, low, high = ("y", "west", "east") if vertical else ("x", "north", "south")
        for tile, (k, n) in lanes[vertical].items():
            if tile in lanes[not vertical]:
                name = "asphalt"
            elif tile in walks[not vertical]:
                name = f"crosswalk_{axis}_{_edge(k, n, low, high)}"
            else:
                name = f"road_{axis}_{_edge(k, n, low, high)}"
            p.put("ground", tile, p.town(name))
    for name, rect in layout.paint:
        for tile in cells(rect):
            p.put("ground", tile, p.town(name))
    for rect in layout.ponds:
        x0, y0, w, h = rect
        for x, y in cells(rect):
            ns = "n" if y == y0 else "s" if y == y0 + h - 1 else ""
            we = "w" if x == x0 else "e" if x == x0 + w - 1 else ""
            name = f"water_{ns}{we}" if ns or we else "water"
            # A pond's corner tiles are rounded (partly transparent): grass shows under them.
            p.put("decor" if ns and we else "ground", (x, y), p.town(name))
            p.put("collision", (x, y), p.collision)


def fence_gid(p: Painter, tile: Tile, run: set[Tile], kind: str) -> int:
    west, east = (tile[0] - 1, tile[1]) in run, (tile[0] + 1, tile[1]) in run
    if not (west or east):
        return p.town(f"{kind}_fence_post")
    piece = "" if west and east else "_west" if east else "_east"
    return p.town(f"{kind}_fence{piece}")


def paint_fence(p: Painter, run: set[Tile], kind: str) -> None:
    for tile in run:
        p.put("walls", tile, fence_gid(p, tile, run, kind))
        p.put("collision", tile, p.collision)


def paint_sector(p: Painter, sector: Sector) -> None:
    """Floors, walls, doorways, fences and furniture of one sector."""
    where = f"sector {sector.name!r}"
    for tile in cells(sector.rect):
        if not building(tile, sector):
            continue
        if tile in sector.doors:
            p.put("floor", tile, p.inner("doorway", where))
            continue
        face = (tile[0], tile[1] + 1) not in p.wall_tiles
        p.put("walls", tile, p.inner("wall_face" if face else "wall", where))
        p.put("collision", tile, p.collision)
    for arena in sector.arenas:
        awhere = f"{where}, arena {arena.name!r}"
        if arena.floor is not None:
            gid = p.inner(arena.floor, awhere)
            for tile in cells(arena.rect):
                p.put("floor", tile, gid)
        paint_fence(p, fence_tiles(arena, sector), arena.fence)
        for obj in arena.objects:
            spec = p.interior.get("objects", {}).get(obj.kind)
            x, y, w, h = obj.rect
            if spec is None or (spec.get("w"), spec.get("h")) != (w, h):
                raise LayoutError(f"{p.layout.path}: {awhere}: interior.json has no {obj.kind!r} "
                                  f"of {w}x{h} tiles")
            for j, row in enumerate(spec["tiles"]):
                for i, local in enumerate(row):
                    if local is not None:
                        p.put("furniture", (x + i, y + j), p.interior_first + int(local))


def paint_decor(p: Painter, layout: Layout) -> None:
    """Trees, bushes, lamps and benches, refused on buildings, indoor rooms, doors and objects."""
    taken: dict[Tile, str] = {}
    for sector in layout.sectors:
        for tile in cells(sector.rect):
            if building(tile, sector):
                taken[tile] = f"a wall or door of {sector.name!r}"
        for arena in sector.arenas:
            for tile in cells(arena.rect) if not arena.outdoor else sector.doors:
                taken[tile] = f"{sector.name!r} > {arena.name!r}"
            for obj in arena.objects:
                for tile in cells(obj.rect):
                    taken[tile] = f"a {obj.kind!r} in {sector.name!r} > {arena.name!r}"
            for tile in fence_tiles(arena, sector):
                taken[tile] = f"the fence of {sector.name!r} > {arena.name!r}"
    for kind, spots in layout.decor.items():
        if kind not in ALL_DECOR:
            raise LayoutError(f"{layout.path}: [outdoor]: unknown kind {kind!r} "
                              f"(known: {', '.join(ALL_DECOR)})")
        for n, (x, y) in enumerate(spots):
            if (x, y) in taken or not inside((x, y, 1, 1), (0, 0, layout.width, layout.height)):
                raise LayoutError(f"{layout.path}: [outdoor] {kind} at {(x, y)}: "
                                  f"on {taken.get((x, y), 'no map')}")
            if kind == "trees":
                second = "2" if (x + y) % 2 else ""
                p.put("decor", (x, y), p.town(f"tree{second}_trunk"))
                p.put("above", (x, y - 1), p.town(f"tree{second}_crown"))
            elif kind in ("small_trees", "bushes"):
                p.put("decor", (x, y), p.town("bush" if kind == "bushes" else "small_tree2" if n % 3 == 2
                                              else "small_tree"))
            elif kind in ("lamps", "park_lamps"):
                prefix = "park_" if kind == "park_lamps" else ""
                p.put("decor", (x, y), p.town(f"{prefix}lamp_post"))
                p.put("above", (x, y - 1), p.town(f"{prefix}lamp_head"))
            else:
                p.put("decor", (x, y), p.town("bench"))
            if kind in BLOCKING_DECOR:
                p.put("collision", (x, y), p.collision)
    runs: dict[str, set[Tile]] = {}
    for kind, (x0, y0), (x1, y1) in layout.fences:
        for tile in cells((min(x0, x1), min(y0, y1), abs(x1 - x0) + 1, abs(y1 - y0) + 1)):
            if tile in taken:
                raise LayoutError(f"{layout.path}: [outdoor] fences: {kind} fence at {tile} "
                                  f"is on {taken[tile]}")
            runs.setdefault(kind, set()).add(tile)
    for kind in sorted(runs):
        paint_fence(p, runs[kind], kind)


def reachable(p: Painter, start: Tile) -> set[Tile]:
    seen = {start}
    queue = deque([start])
    while queue:
        x, y = queue.popleft()
        for nxt in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if nxt not in seen and not p.blocked(nxt):
                seen.add(nxt)
                queue.append(nxt)
    return seen


def self_check(p: Painter, layout: Layout, residents: list[dict], residents_path: Path) -> None:
    """Walkable arenas, reachable from the street; usable objects; spawns on walkable tiles of their home."""
    road = layout.roads[0]
    start = (road.span[0], road.at) if not road.vertical else (road.at, road.span[0])
    if p.blocked(start):
        raise LayoutError(f"{layout.path}: road {road.name!r}: its first tile {start} is blocked")
    seen = reachable(p, start)
    arenas: dict[tuple[str, str], Rect] = {}
    for sector in layout.sectors:
        for door in sector.doors:
            if door not in seen:
                raise LayoutError(f"{layout.path}: sector {sector.name!r}: door {door} "
                                  "cannot be reached from the street")
        for arena in sector.arenas:
            where = f"{layout.path}: sector {sector.name!r}, arena {arena.name!r}"
            arenas[(sector.name, arena.name)] = arena.rect
            walkable = [t for t in cells(arena.rect) if not p.blocked(t)]
            if not walkable:
                raise LayoutError(f"{where}: no walkable tile")
            if not seen.intersection(walkable):
                raise LayoutError(f"{where}: cannot be reached from the street (missing door?)")
            for obj in arena.objects:
                if not seen.intersection(cells(obj.rect)):
                    raise LayoutError(f"{where}: object {obj.kind!r} at {obj.rect[:2]} "
                                      "has no reachable walkable tile")
    spots: dict[Tile, str] = {}
    for r in residents:
        name, (x, y) = r["name"], tuple(r["spawn"])
        where = f"{residents_path}: resident {name!r}"
        home = arenas.get(tuple(r["home"]))
        if home is None:
            raise LayoutError(f"{where}: home {r['home']} is not an arena of {layout.path}")
        if not inside((x, y, 1, 1), home) or (x, y) not in seen:
            raise LayoutError(f"{where}: spawn {(x, y)} is not a reachable walkable tile "
                              f"of home {r['home']} {home}")
        if (x, y) in spots:
            raise LayoutError(f"{where}: spawn {(x, y)} is also {spots[(x, y)]!r}'s")
        spots[(x, y)] = name
        for key in ("workplace", *[f"haunt {i}" for i in range(len(r.get("haunts", [])))]):
            place = r.get("workplace") if key == "workplace" else r["haunts"][int(key.split()[1])]
            if place is not None and tuple(place) not in arenas:
                raise LayoutError(f"{where}: {key} {place} is not an arena of {layout.path}")


def suggest_spawns(p: Painter, layout: Layout, residents: list[dict]) -> None:
    """Print, for each resident, the free walkable tile of their home nearest to their current spawn."""
    road = layout.roads[0]
    seen = reachable(p, (road.at, road.span[0]) if road.vertical else (road.span[0], road.at))
    homes = {(s.name, a.name): a.rect for s in layout.sectors for a in s.arenas}
    used: set[Tile] = set()
    for r in residents:
        x, y = r["spawn"]
        free = [t for t in cells(homes[tuple(r["home"])]) if t in seen and t not in used]
        best = min(free, key=lambda t: (p.get("furniture", t) != 0, (t[0] - x) ** 2 + (t[1] - y) ** 2, t))
        used.add(best)
        print(f"{r['name']}: spawn = [{best[0]}, {best[1]}]")


def tilecount(tsx: Path) -> int:
    if not tsx.is_file():
        raise SystemExit(f"build_map: missing tileset {tsx} (made by tools/build_art.py)")
    return int(ET.parse(tsx).getroot().attrib["tilecount"])


def build(root: Path, layout_path: Path, out: Path, suggest: bool = False) -> None:
    object_types = {k: (int(v[0]), int(v[1])) for k, v in tomllib.loads(
        (root / "tools" / "layout" / "object_types.toml").read_text(encoding="utf-8"))["objects"].items()}
    layout = load_layout(layout_path, object_types)
    interior_json = root / "assets" / "tiles" / "interior.json"
    if not interior_json.is_file():
        raise SystemExit(f"build_map: missing {interior_json} (made by tools/build_art.py)")
    interior = json.loads(interior_json.read_text(encoding="utf-8"))
    town_tsx, interior_tsx = (root / "maps" / "tilesets" / f"{name}.tsx" for name in ("town", "interior"))
    interior_first = 1 + tilecount(town_tsx)
    tilecount(interior_tsx)
    residents_path = root / "maps" / "the_ville" / "residents.toml"
    residents = tomllib.loads(residents_path.read_text(encoding="utf-8"))["residents"]

    p = Painter(layout, interior, interior_first)
    paint_streets(p, layout)
    for sector in layout.sectors:
        paint_sector(p, sector)
    paint_decor(p, layout)
    if suggest:
        suggest_spawns(p, layout, residents)
        return
    self_check(p, layout, residents, residents_path)

    sectors, arenas, objects = [], [], []
    for s in layout.sectors:
        sectors.append(MapObject(s.name, *s.rect))
        for a in s.arenas:
            arenas.append(MapObject(a.name, *a.rect, properties={"sector": s.name}))
            objects += [MapObject(o.kind, *o.rect, properties={"sector": s.name, "arena": a.name})
                        for o in a.objects]
    spawns = [MapObject(r["name"], *r["spawn"]) for r in residents]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_tmx(
        out, width=layout.width, height=layout.height, tile_size=TILE_SIZE,
        tilesets=[TilesetRef(1, Path(os.path.relpath(town_tsx, out.parent)).as_posix()),
                  TilesetRef(interior_first, Path(os.path.relpath(interior_tsx, out.parent)).as_posix())],
        tile_layers=[TileLayer(name, p.grids[name], visible=name != "collision") for name in LAYERS],
        object_layers=[ObjectLayer("sectors", sectors), ObjectLayer("arenas", arenas),
                       ObjectLayer("objects", objects), ObjectLayer("spawns", spawns)],
        properties={"world": layout.world},
    )
    print(f"build_map: wrote {out}: {len(sectors)} sectors, {len(arenas)} arenas, {len(objects)} objects, "
          f"{len(spawns)} spawns")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="repository root holding the art and residents")
    ap.add_argument("--layout", type=Path, default=ROOT / "tools" / "layout" / "the_ville.toml")
    ap.add_argument("--out", type=Path, default=None, help="default: ROOT/maps/the_ville/the_ville.tmx")
    ap.add_argument("--suggest-spawns", action="store_true",
                    help="print a free walkable home tile near each resident's spawn instead of building")
    args = ap.parse_args(argv)
    try:
        build(args.root, args.layout, args.out or args.root / "maps" / "the_ville" / "the_ville.tmx",
              args.suggest_spawns)
    except LayoutError as err:
        print(f"build_map: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
