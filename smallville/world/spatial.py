"""Who is near whom: a bucket grid over resident positions.

Owns the question "which residents are within radius r of this tile, in the same arena" (what a
resident can perceive). Positions live in coarse cells so that a move costs a dict update only when a
resident crosses a cell border, and a query looks at the few cells around the tile, not at everyone.
"""

from __future__ import annotations

from smallville.world.town import Town

Tile = tuple[int, int]
CELL = 8


class Occupancy:
    def __init__(self, town: Town):
        self.town = town
        self._pos: dict[str, Tile] = {}
        self._cells: dict[Tile, set[str]] = {}

    def place(self, who: str, tile: Tile) -> None:
        old = self._pos.get(who)
        self._pos[who] = tile
        new_cell = (tile[0] // CELL, tile[1] // CELL)
        if old is not None:
            old_cell = (old[0] // CELL, old[1] // CELL)
            if old_cell == new_cell:
                return
            self._cells[old_cell].discard(who)
        self._cells.setdefault(new_cell, set()).add(who)

    def position(self, who: str) -> Tile:
        return self._pos[who]

    def near(self, tile: Tile, radius: int, same_arena: bool = True, exclude: str | None = None) -> list[str]:
        """Residents within `radius` tiles (Euclidean) of `tile`, nearest first, ties by name.

        With `same_arena`, only those in the arena of `tile` (outdoors: only those also outdoors
        in no arena), as a resident cannot see through walls.
        """
        x, y = tile
        arena = int(self.town.arena_grid[y, x])
        r2 = radius * radius
        found: list[tuple[int, str]] = []
        for cy in range((y - radius) // CELL, (y + radius) // CELL + 1):
            for cx in range((x - radius) // CELL, (x + radius) // CELL + 1):
                for who in self._cells.get((cx, cy), ()):
                    if who == exclude:
                        continue
                    px, py = self._pos[who]
                    d2 = (px - x) ** 2 + (py - y) ** 2
                    if d2 > r2:
                        continue
                    if same_arena and int(self.town.arena_grid[py, px]) != arena:
                        continue
                    found.append((d2, who))
        found.sort()
        return [who for _, who in found]
