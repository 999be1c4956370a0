"""Pathfinding: shortest, deterministic, and honest about the impossible."""

from __future__ import annotations

import itertools
import random
from collections import deque

import numpy as np
import pytest

from smallville.world.paths import NoPath, PathFinder


def _grid(seed: int, w: int = 40, h: int = 30, density: float = 0.25) -> np.ndarray:
    rng = random.Random(seed)
    return np.array([[rng.random() > density for _ in range(w)] for _ in range(h)])


def _bfs_len(grid: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> int | None:
    h, w = grid.shape
    dist = {a: 0}
    q = deque([a])
    while q:
        x, y = q.popleft()
        if (x, y) == b:
            return dist[(x, y)]
        for n in ((x, y - 1), (x - 1, y), (x + 1, y), (x, y + 1)):
            if 0 <= n[0] < w and 0 <= n[1] < h and grid[n[1], n[0]] and n not in dist:
                dist[n] = dist[(x, y)] + 1
                q.append(n)
    return None


@pytest.mark.parametrize("seed", range(5))
def test_paths_are_shortest_and_valid(seed: int) -> None:
    grid = _grid(seed)
    finder = PathFinder(grid)
    free = [(x, y) for y in range(grid.shape[0]) for x in range(grid.shape[1]) if grid[y, x]]
    rng = random.Random(seed)
    for _ in range(60):
        a, b = rng.choice(free), rng.choice(free)
        expected = _bfs_len(grid, a, b)
        if expected is None:
            with pytest.raises(NoPath):
                finder.path(a, b)
            continue
        path = finder.path(a, b)
        assert path[0] == a and path[-1] == b and len(path) - 1 == expected
        for (x0, y0), (x1, y1) in itertools.pairwise(path):
            assert abs(x0 - x1) + abs(y0 - y1) == 1 and grid[y1, x1]


def test_same_path_from_fresh_finders_and_cache() -> None:
    grid = np.ones((20, 20), dtype=bool)  # open field: many equally short paths, one must always win
    first = PathFinder(grid).path((0, 0), (15, 12))
    again = PathFinder(grid).path((0, 0), (15, 12))
    cached = PathFinder(grid)
    cached.path((0, 0), (15, 12))
    assert first == again == cached.path((0, 0), (15, 12))


def test_blocked_endpoints() -> None:
    grid = np.ones((5, 5), dtype=bool)
    grid[2, 2] = False
    finder = PathFinder(grid)
    with pytest.raises(NoPath, match="goal tile"):
        finder.path((0, 0), (2, 2))
    with pytest.raises(NoPath, match="start tile"):
        finder.path((9, 9), (0, 0))
    assert finder.path((1, 1), (1, 1)) == [(1, 1)]
