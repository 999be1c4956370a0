"""Small real towns for tests: an ASCII plan written to disk as TMX + TSX + residents.toml.

Plan legend: `#` wall (collision), `.` walkable floor or street. Places are given as rectangles, so a
test can break exactly one rule of docs/map-format.md and check the error names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smallville.testing.tmxwrite import MapObject, ObjectLayer, TileLayer, TilesetRef, render_tmx, render_tsx

PLAN = """\
####################
#...#....#.........#
#...#....#.........#
#.......##.........#
#........#.........#
####.#####.........#
#..................#
#..................#
####################
"""
# Sector "House": x 0..9, y 0..5 (walls included); arenas "bedroom" (1..3, 1..4) and "kitchen" (5..8, 1..4).
# Sector "Park": x 10..18, y 1..4, arena "lawn". Row 6-7 is the street.


@dataclass
class TownSpec:
    plan: str = PLAN
    world: str = "Testville"
    sectors: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=lambda: [
        ("House", (0, 0, 10, 6)), ("Park", (10, 1, 9, 4))])
    arenas: list[tuple[str, str, tuple[int, int, int, int]]] = field(default_factory=lambda: [
        ("House", "bedroom", (1, 1, 3, 4)), ("House", "kitchen", (5, 1, 4, 4)),
        ("Park", "lawn", (10, 1, 9, 4))])
    objects: list[tuple[str, str, str, tuple[int, int, int, int]]] = field(default_factory=lambda: [
        ("House", "bedroom", "bed", (1, 1, 1, 2)), ("House", "kitchen", "cooking area", (5, 1, 2, 1)),
        ("House", "bedroom", "desk", (2, 4, 2, 1)), ("Park", "lawn", "park garden", (12, 2, 2, 2))])
    residents: list[dict] = field(default_factory=lambda: [
        {"name": "Ada Lovelace", "age": 36, "home": ["House", "bedroom"], "spawn": [2, 2],
         "wake": "07:00", "bed": "22:00", "haunts": [["Park", "lawn"]]},
        {"name": "Bob Builder", "age": 40, "home": ["House", "bedroom"], "spawn": [3, 3],
         "workplace": ["House", "kitchen"], "work_hours": ["09:00", "17:00"], "wake": "06:30",
         "bed": "23:30"},
    ])
    spawns_on_map: bool = True
    drop_layer: str | None = None
    tileset_missing: bool = False


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def write_town(root: Path, spec: TownSpec | None = None) -> tuple[Path, Path]:
    """Write the town under `root`; return (tmx path, residents path)."""
    spec = spec or TownSpec()
    root.mkdir(parents=True, exist_ok=True)
    rows = [line for line in spec.plan.splitlines() if line]
    height, width = len(rows), len(rows[0])
    if not spec.tileset_missing:
        (root / "test.tsx").write_text(render_tsx("test", "test.png", 32, 16, 16, {0: "floor", 1: "wall"}))
    collision = [[2 if ch == "#" else 0 for ch in row] for row in rows]
    ground = [[1] * width for _ in rows]
    empty = [[0] * width for _ in rows]
    layers = [TileLayer("ground", ground), TileLayer("floor", empty), TileLayer("walls", collision),
              TileLayer("furniture", empty), TileLayer("decor", empty), TileLayer("above", empty),
              TileLayer("collision", collision, visible=False)]
    spawns = [MapObject(r["name"], r["spawn"][0], r["spawn"][1]) for r in spec.residents] \
        if spec.spawns_on_map else []
    groups = [
        ObjectLayer("sectors", [MapObject(n, *rect) for n, rect in spec.sectors]),
        ObjectLayer("arenas", [MapObject(n, *rect, properties={"sector": s}) for s, n, rect in spec.arenas]),
        ObjectLayer("objects", [MapObject(k, *rect, properties={"sector": s, "arena": a})
                                for s, a, k, rect in spec.objects]),
        ObjectLayer("spawns", spawns),
    ]
    layers = [la for la in layers if la.name != spec.drop_layer]
    groups = [g for g in groups if g.name != spec.drop_layer]
    tmx = root / "town.tmx"
    tmx.write_text(render_tmx(width=width, height=height, tile_size=16,
                              tilesets=[TilesetRef(1, "test.tsx")], tile_layers=layers,
                              object_layers=groups, properties={"world": spec.world}))
    lines = []
    for r in spec.residents:
        lines.append("[[residents]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in r.items()]
        lines.append("")
    residents = root / "residents.toml"
    residents.write_text("\n".join(lines))
    return tmx, residents
