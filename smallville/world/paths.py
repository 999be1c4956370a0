"""Deterministic paths on the walkable grid: 4-connected A*, sped up by per-region distance fields.

Owns how residents get from tile to tile. Determinism matters more than elegance here: the open set
is ordered by (f, h, tile index), so among equally short paths the same one is always chosen, on any
machine, in any process. The grid is flattened to a list of neighbour tuples once, because Python
spends most A* time on indexing; a small LRU cache serves the many repeated trips (home <-> work).

On a town of rooms, plain A* floods dead-end rooms on its way (about 1,200 nodes per trip on the
Smallville map). Almost every trip ends inside a region (an arena), so with `regions` given a trip into
another region walks down that region's distance field (a BFS from all its tiles, computed once and
kept: 63 fields of the town cost ~1 MB) to the nearest tile of the region, then takes a short A* to
the goal inside it. The result is the shortest way into the room plus the shortest way across it.
"""

from __future__ import annotations

from collections import OrderedDict
from heapq import heappop, heappush

import numpy as np

Tile = tuple[int, int]
_UNSEEN = 1 << 30


class NoPath(Exception):
    """The goal cannot be reached from the start (or one of them is blocked)."""


class PathFinder:
    def __init__(self, walkable: np.ndarray, cache_size: int = 4096, regions: np.ndarray | None = None):
        self.height, self.width = walkable.shape
        w = self.width
        flat = walkable.ravel().tolist()
        self._walkable = flat
        # Neighbours in a fixed order (north, west, east, south): part of the determinism contract.
        neighbours: list[tuple[int, ...]] = []
        for i, ok in enumerate(flat):
            if not ok:
                neighbours.append(())
                continue
            x, y = i % w, i // w
            cand = []
            if y > 0 and flat[i - w]:
                cand.append(i - w)
            if x > 0 and flat[i - 1]:
                cand.append(i - 1)
            if x < w - 1 and flat[i + 1]:
                cand.append(i + 1)
            if y < self.height - 1 and flat[i + w]:
                cand.append(i + w)
            neighbours.append(tuple(cand))
        self._neighbours = neighbours
        self._xs = [i % w for i in range(len(flat))]
        self._ys = [i // w for i in range(len(flat))]
        # Parents are only read along the found path, all written during this search: reuse one list.
        self._parent_scratch = [0] * len(flat)
        self._regions: list[int] | None = regions.ravel().tolist() if regions is not None else None
        self._fields: dict[int, list[int]] = {}
        self._cache: OrderedDict[tuple[int, int], tuple[Tile, ...]] = OrderedDict()
        self._cache_size = cache_size
        self.expanded = 0  # nodes expanded since creation: for benchmarks

    def path(self, start: Tile, goal: Tile) -> list[Tile]:
        """Tiles from `start` to `goal`, both included. Raises `NoPath`."""
        w = self.width
        s = start[1] * w + start[0]
        g = goal[1] * w + goal[0]
        for name, (x, y) in (("start", start), ("goal", goal)):
            if not (0 <= x < w and 0 <= y < self.height) or not self._walkable[y * w + x]:
                raise NoPath(f"{name} tile {(x, y)} is not walkable")
        key = (s, g)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return list(cached)
        tiles = tuple((i % w, i // w) for i in self._route(s, g))
        self._cache[key] = tiles
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return list(tiles)

    def _route(self, s: int, g: int) -> list[int]:
        regions = self._regions
        if regions is None or regions[g] < 0 or regions[s] == regions[g]:
            return self._search(s, g)
        field = self._field(regions[g])
        d = field[s]
        if d == _UNSEEN:
            raise NoPath(f"no path from {(self._xs[s], self._ys[s])} to {(self._xs[g], self._ys[g])}")
        out = [s]
        node = s
        neighbours = self._neighbours
        while d > 0:
            for nb in neighbours[node]:  # fixed order: the same descent every time
                if field[nb] == d - 1:
                    node, d = nb, d - 1
                    break
            out.append(node)
        if node != g:
            out.extend(self._search(node, g)[1:])
        return out

    def _field(self, region: int) -> list[int]:
        """Steps from every tile to the nearest tile of `region` (BFS from all of them)."""
        field = self._fields.get(region)
        if field is not None:
            return field
        assert self._regions is not None
        field = [_UNSEEN] * len(self._xs)
        frontier = [i for i, r in enumerate(self._regions) if r == region and self._walkable[i]]
        for i in frontier:
            field[i] = 0
        neighbours = self._neighbours
        d = 0
        while frontier:
            d += 1
            nxt = []
            for node in frontier:
                for nb in neighbours[node]:
                    if field[nb] == _UNSEEN:
                        field[nb] = d
                        nxt.append(nb)
            frontier = nxt
        self._fields[region] = field
        return field

    def _search(self, s: int, g: int) -> list[int]:
        if s == g:
            return [s]
        xs, ys = self._xs, self._ys
        gx, gy = xs[g], ys[g]
        neighbours = self._neighbours
        # Flat lists beat dicts here; allocating them costs ~20 us, a fraction of a typical search.
        cost = [_UNSEEN] * len(xs)
        parent = self._parent_scratch
        cost[s] = 0
        h0 = abs(xs[s] - gx) + abs(ys[s] - gy)
        open_heap: list[tuple[int, int, int]] = [(h0, h0, s)]
        expanded = 0
        while open_heap:
            f, h, node = heappop(open_heap)
            if node == g:
                break
            c = cost[node]
            if f - h > c:  # a stale entry: this node was reached more cheaply after it was pushed
                continue
            expanded += 1
            nc = c + 1
            for nb in neighbours[node]:
                if nc < cost[nb]:
                    cost[nb] = nc
                    parent[nb] = node
                    nh = abs(xs[nb] - gx) + abs(ys[nb] - gy)
                    heappush(open_heap, (nc + nh, nh, nb))
        else:
            self.expanded += expanded
            raise NoPath(f"no path from {(xs[s], ys[s])} to {(gx, gy)}")
        self.expanded += expanded
        out = [g]
        while out[-1] != s:
            out.append(parent[out[-1]])
        out.reverse()
        return out
