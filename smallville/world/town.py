"""The town as places: the address tree world > sector > arena > object, laid over the tile grid.

Owns addresses, "which sector/arena is this tile in", the tiles of each address, walkability and the
checks that make a map usable by residents (arenas inside sectors, no overlaps, every arena and object
standable and reachable). Built from `MapData`; knows nothing of residents or drawing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from smallville.errors import MapError
from smallville.world.tmx import MapData, load_map

Tile = tuple[int, int]
SEP = ":"


@dataclass
class GameObject:
    """One object instance: its type name (`bed`), its tiles, and its address string."""

    kind: str
    address: str
    tiles: list[Tile]


@dataclass
class Arena:
    sector: str
    name: str
    address: str
    index: int
    tiles: list[Tile] = field(default_factory=list)
    walkable: list[Tile] = field(default_factory=list)
    objects: list[GameObject] = field(default_factory=list)


@dataclass
class Sector:
    name: str
    address: str
    index: int
    arenas: dict[str, Arena] = field(default_factory=dict)


class Town:
    """A loaded, checked town map. Tile queries are O(1) lookups in precomputed grids."""

    def __init__(self, data: MapData):
        self.data = data
        self.world = data.world
        self.width, self.height = data.width, data.height
        self.walkable_grid: np.ndarray = ~data.blocked
        self.sectors: dict[str, Sector] = {}
        self._sector_list: list[Sector] = []
        self.arenas: list[Arena] = []
        self.sector_grid = np.full((self.height, self.width), -1, dtype=np.int32)
        self.arena_grid = np.full((self.height, self.width), -1, dtype=np.int32)
        self._by_address: dict[str, Arena | GameObject] = {}
        self._build()
        self._check_reachable()

    # -- construction -----------------------------------------------------------------------------

    def _fail(self, message: str, layer: str, place: str) -> MapError:
        return MapError(self.data.path, message, layer=layer, place=place)

    def _build(self) -> None:
        sector_list = self._sector_list
        for place in self.data.sectors:
            sector = self.sectors.get(place.name)
            if sector is None:
                sector = Sector(place.name, f"{self.world}{SEP}{place.name}", len(sector_list))
                self.sectors[place.name] = sector
                sector_list.append(sector)
            view = self.sector_grid[place.rect.y:place.rect.y + place.rect.h,
                                    place.rect.x:place.rect.x + place.rect.w]
            if (view >= 0).any() and (view != sector.index).any():
                raise self._fail("sector overlaps another sector", "sectors", repr(place.name))
            view[:] = sector.index
        for place in self.data.arenas:
            assert place.sector is not None
            sector = self.sectors.get(place.sector)
            label = f"arena {place.name!r} of sector {place.sector!r}"
            if sector is None:
                raise self._fail(f"unknown sector {place.sector!r}", "arenas", label)
            arena = sector.arenas.get(place.name)
            if arena is None:
                address = f"{sector.address}{SEP}{place.name}"
                arena = Arena(sector.name, place.name, address, len(self.arenas))
                sector.arenas[place.name] = arena
                self.arenas.append(arena)
                self._by_address[address] = arena
            r = place.rect
            if (self.sector_grid[r.y:r.y + r.h, r.x:r.x + r.w] != sector.index).any():
                raise self._fail(f"rectangle {r} is not inside its sector", "arenas", label)
            view = self.arena_grid[r.y:r.y + r.h, r.x:r.x + r.w]
            if (view >= 0).any():
                raise self._fail(f"rectangle {r} overlaps another arena", "arenas", label)
            view[:] = arena.index
            arena.tiles.extend(r.tiles())
        for arena in self.arenas:
            arena.tiles.sort(key=lambda t: (t[1], t[0]))
            arena.walkable = [t for t in arena.tiles if self.walkable_grid[t[1], t[0]]]
            if not arena.walkable:
                raise self._fail("arena has no walkable tile", "arenas", repr(arena.address))
        for place in self.data.objects:
            assert place.sector is not None and place.arena is not None
            label = f"object {place.name!r} in {place.sector!r} > {place.arena!r}"
            sector = self.sectors.get(place.sector)
            arena = sector.arenas.get(place.arena) if sector else None
            if arena is None:
                raise self._fail("unknown sector or arena", "objects", label)
            r = place.rect
            if (self.arena_grid[r.y:r.y + r.h, r.x:r.x + r.w] != arena.index).any():
                raise self._fail(f"rectangle {r} is not inside its arena", "objects", label)
            tiles = [t for t in r.tiles() if self.walkable_grid[t[1], t[0]]]
            if not tiles:
                raise self._fail("object has no walkable tile", "objects", label)
            address = f"{arena.address}{SEP}{place.name}"
            obj = GameObject(place.name, address, tiles)
            arena.objects.append(obj)
            # Several instances of one type share an address (as in the original); keep the first.
            self._by_address.setdefault(address, obj)

    def _check_reachable(self) -> None:
        """Every arena must be reachable from every other over walkable tiles."""
        if not self.arenas:
            return
        seen = np.zeros_like(self.walkable_grid)
        start = self.arenas[0].walkable[0]
        seen[start[1], start[0]] = True
        queue = deque([start])
        while queue:
            x, y = queue.popleft()
            for nx, ny in ((x, y - 1), (x - 1, y), (x + 1, y), (x, y + 1)):
                if 0 <= nx < self.width and 0 <= ny < self.height and self.walkable_grid[ny, nx] \
                        and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((nx, ny))
        for arena in self.arenas:
            if not any(seen[y, x] for x, y in arena.walkable):
                raise self._fail(f"arena cannot be reached from {self.arenas[0].address!r}", "arenas",
                                 repr(arena.address))

    # -- queries ----------------------------------------------------------------------------------

    def walkable(self, x: int, y: int) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height and bool(self.walkable_grid[y, x])

    def sector_at(self, x: int, y: int) -> Sector | None:
        i = int(self.sector_grid[y, x])
        return None if i < 0 else self._sector_list[i]

    def arena_at(self, x: int, y: int) -> Arena | None:
        i = int(self.arena_grid[y, x])
        return None if i < 0 else self.arenas[i]

    def address_at(self, x: int, y: int) -> str:
        """The most specific address of a tile: an arena's, a sector's, or the world's."""
        arena = self.arena_at(x, y)
        if arena is not None:
            return arena.address
        sector = self.sector_at(x, y)
        return sector.address if sector is not None else self.world

    def arena(self, sector: str, arena: str) -> Arena:
        try:
            return self.sectors[sector].arenas[arena]
        except KeyError:
            raise KeyError(f"no arena {sector!r} > {arena!r} in {self.world}") from None

    def lookup(self, address: str) -> Arena | GameObject:
        """An arena or object by its full address (`world:sector:arena[:object]`)."""
        try:
            return self._by_address[address]
        except KeyError:
            raise KeyError(f"unknown address {address!r}") from None

    def tiles_of(self, address: str) -> list[Tile]:
        """The walkable tiles where a resident can be 'at' this address."""
        place = self.lookup(address)
        return place.walkable if isinstance(place, Arena) else place.tiles

    def addresses(self) -> list[str]:
        return sorted(self._by_address)

    def walkable_tiles(self) -> list[Tile]:
        ys, xs = np.nonzero(self.walkable_grid)
        return list(zip(xs.tolist(), ys.tolist(), strict=True))

    def objects_near(self, x: int, y: int, radius: int) -> list[GameObject]:
        """Objects in the same arena with a tile within `radius` (Euclidean), nearest first."""
        arena = self.arena_at(x, y)
        if arena is None:
            return []
        found: list[tuple[float, str, GameObject]] = []
        r2 = radius * radius
        for obj in arena.objects:
            d2 = min((tx - x) ** 2 + (ty - y) ** 2 for tx, ty in obj.tiles)
            if d2 <= r2:
                found.append((d2, obj.address, obj))
        found.sort(key=lambda item: (item[0], item[1]))
        return [obj for _, _, obj in found]

    def tree(self) -> dict[str, dict[str, list[str]]]:
        """The address tree as plain data: sector -> arena -> sorted object types."""
        return {
            s.name: {a.name: sorted({o.kind for o in a.objects}) for a in s.arenas.values()}
            for s in self.sectors.values()
        }


def load_town(path: str | Path) -> Town:
    """Load a TMX file and build the checked `Town`."""
    return Town(load_map(path))
