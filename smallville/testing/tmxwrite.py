"""Writing Tiled maps: the inverse of `smallville/world/tmx.py`.

Owns the TMX serialisation used by `tools/build_map.py` (the standard town) and by the tests (small
maps built on the fly). The output is deterministic (fixed attribute order, CSV layer data, objects in
the order given) so that a regenerated map diffs cleanly in git.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

TILED_VERSION = "1.10.2"
TMX_VERSION = "1.10"


@dataclass(frozen=True)
class TilesetRef:
    """An external tileset: its first global id and its `.tsx` path relative to the map file."""

    firstgid: int
    source: str


@dataclass
class TileLayer:
    """A grid of global tile ids (0 = empty), `data[y][x]`."""

    name: str
    data: list[list[int]]
    visible: bool = True


@dataclass
class MapObject:
    """A rectangle in tile units; written in pixels as Tiled expects."""

    name: str
    x: int
    y: int
    w: int = 1
    h: int = 1
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class ObjectLayer:
    name: str
    objects: list[MapObject]


def _properties(props: dict[str, str], indent: str) -> list[str]:
    if not props:
        return []
    lines = [f"{indent}<properties>"]
    for key in sorted(props):
        lines.append(f"{indent} <property name={quoteattr(key)} value={quoteattr(str(props[key]))}/>")
    lines.append(f"{indent}</properties>")
    return lines


def render_tmx(
    width: int,
    height: int,
    tile_size: int,
    tilesets: list[TilesetRef],
    tile_layers: list[TileLayer],
    object_layers: list[ObjectLayer],
    properties: dict[str, str] | None = None,
) -> str:
    """Return the TMX document as text."""
    next_layer = len(tile_layers) + len(object_layers) + 1
    n_objects = sum(len(layer.objects) for layer in object_layers)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<map version="{TMX_VERSION}" tiledversion="{TILED_VERSION}" orientation="orthogonal" '
        f'renderorder="right-down" width="{width}" height="{height}" tilewidth="{tile_size}" '
        f'tileheight="{tile_size}" infinite="0" nextlayerid="{next_layer}" nextobjectid="{n_objects + 1}">',
    ]
    out += _properties(properties or {}, " ")
    for ts in tilesets:
        out.append(f" <tileset firstgid=\"{ts.firstgid}\" source={quoteattr(ts.source)}/>")
    layer_id = 1
    for layer in tile_layers:
        if len(layer.data) != height or any(len(row) != width for row in layer.data):
            raise ValueError(f"tile layer {layer.name!r} is not {width}x{height}")
        visible = "" if layer.visible else ' visible="0"'
        name = quoteattr(layer.name)
        out.append(f' <layer id="{layer_id}" name={name} width="{width}" height="{height}"{visible}>')
        out.append('  <data encoding="csv">')
        rows = [",".join(str(g) for g in row) for row in layer.data]
        out.append(",\n".join(rows))
        out.append("  </data>")
        out.append(" </layer>")
        layer_id += 1
    object_id = 1
    for group in object_layers:
        out.append(f' <objectgroup id="{layer_id}" name={quoteattr(group.name)}>')
        for obj in group.objects:
            head = (
                f'  <object id="{object_id}" name={quoteattr(obj.name)} x="{obj.x * tile_size}" '
                f'y="{obj.y * tile_size}" width="{obj.w * tile_size}" height="{obj.h * tile_size}"'
            )
            if obj.properties:
                out.append(head + ">")
                out += _properties(obj.properties, "   ")
                out.append("  </object>")
            else:
                out.append(head + "/>")
            object_id += 1
        out.append(" </objectgroup>")
        layer_id += 1
    out.append("</map>")
    return "\n".join(out) + "\n"


def write_tmx(path: Path, **kwargs: object) -> None:
    """Write `render_tmx(**kwargs)` to `path` (UTF-8, LF)."""
    path.write_text(render_tmx(**kwargs), encoding="utf-8", newline="\n")  # type: ignore[arg-type]


def render_tsx(name: str, image: str, image_w: int, image_h: int, tile_size: int,
               tile_names: dict[int, str] | None = None) -> str:
    """Return an external tileset document for one sheet image (used by tests and tools)."""
    columns = image_w // tile_size
    count = columns * (image_h // tile_size)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<tileset version="{TMX_VERSION}" tiledversion="{TILED_VERSION}" name={quoteattr(name)} '
        f'tilewidth="{tile_size}" tileheight="{tile_size}" tilecount="{count}" columns="{columns}">',
        f' <image source={quoteattr(image)} width="{image_w}" height="{image_h}"/>',
    ]
    for tile_id, tile_name in sorted((tile_names or {}).items()):
        out.append(f' <tile id="{tile_id}">')
        out += _properties({"name": tile_name}, "  ")
        out.append(" </tile>")
    out.append("</tileset>")
    return "\n".join(out) + "\n"
