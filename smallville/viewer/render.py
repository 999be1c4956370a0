"""Drawing the town: the tile map through the camera, residents as animated sprites with name labels,
what each is doing, and speech bubbles.

Owns the pixels of the map area (the HUD, inspector and chat draw beside it). Everything costly is made
once and cached: the map's tile layers flattened into one surface, each resident's 12 sprite frames per
zoom step, every text label. The map layer of a frame is reused while the camera stands still, so a frame
is mostly sprite blits (`smallville bench viewer`).

Sprites: `assets/characters/<sprite>.png`, 4 columns (left, down, up, right) x 3 rows (stand, step A, step B)
of 16 px frames. Each resident's sheet is named by the residents file's `sprite` field, so a renamed resident
keeps its look; without that field (a save whose residents file is gone) the sheet `assets/characters/index.json`
lists for the name is used; a resident with neither, or whose sheet is missing or unreadable, is drawn as a
generic figure (a red circle) and the reason is logged once.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import pygame

from smallville.config import PROJECT_ROOT
from smallville.errors import MapError
from smallville.viewer.camera import Camera
from smallville.viewer.scene import Figure, Scene

log = logging.getLogger(__name__)

CHARACTERS = PROJECT_ROOT / "assets" / "characters"
DIRECTIONS = ("left", "down", "up", "right")
LABEL = (250, 250, 250)
SHADOW = (20, 20, 28)
SELECTED = (255, 214, 0)
BUBBLE = (255, 255, 250)
INK = (30, 30, 40)
GENERIC = (200, 80, 80)  # the figure of a resident without a sprite sheet


def load_map_surface(tmx_path: Path) -> pygame.Surface:
    """All visible tile layers of a TMX map flattened into one surface (a display mode must be set)."""
    import pytmx
    from pytmx.util_pygame import load_pygame

    try:
        tmx = load_pygame(str(tmx_path))
    except (OSError, pygame.error) as exc:  # a tileset image that is missing or unreadable
        raise MapError(tmx_path, f"cannot draw the map: {exc}") from None
    except Exception as exc:  # pytmx raises what its XML parser does (ParseError, ValueError, KeyError)
        raise MapError(tmx_path, f"cannot read the map: {type(exc).__name__}: {exc}") from None
    tw, th = tmx.tilewidth, tmx.tileheight
    surface = pygame.Surface((tmx.width * tw, tmx.height * th)).convert()
    surface.fill((0, 0, 0))
    for layer in tmx.visible_layers:
        if isinstance(layer, pytmx.TiledTileLayer):
            for x, y, image in layer.tiles():
                surface.blit(image, (x * tw, y * th))
    return surface


@lru_cache(maxsize=4)
def font(size: int) -> pygame.font.Font:
    return pygame.font.Font(None, size)


@lru_cache(maxsize=2048)
def text(value: str, size: int = 16, colour: tuple[int, int, int] = LABEL, outline: bool = True) -> pygame.Surface:
    """A text label (with a dark outline so it reads on any tile), cached. Control characters (which
    pygame refuses, the NUL above all) are drawn as spaces."""
    value = "".join(" " if unicodedata.category(c) == "Cc" else c for c in value)
    face = font(size)
    body = face.render(value, True, colour)
    if not outline:
        return body
    out = pygame.Surface((body.get_width() + 2, body.get_height() + 2), pygame.SRCALPHA)
    shade = face.render(value, True, SHADOW)
    for dx, dy in ((0, 1), (2, 1), (1, 0), (1, 2)):
        out.blit(shade, (dx, dy))
    out.blit(body, (1, 1))
    return out


def wrap(value: str, width_px: int, size: int) -> list[str]:
    """Words wrapped into lines at most `width_px` wide (a long word is cut)."""
    face, lines, line = font(size), [], ""
    for word in value.split():
        trial = f"{line} {word}".strip()
        if face.size(trial)[0] <= width_px or not line:
            line = trial
        else:
            lines.append(line)
            line = word
        while face.size(line)[0] > width_px and len(line) > 1:
            cut = max(1, int(len(line) * width_px / face.size(line)[0]))
            lines.append(line[:cut])
            line = line[cut:]
    if line:
        lines.append(line)
    return lines


class Sprites:
    """Each resident's frames, scaled per zoom step and cached.

    `sprites` maps a resident's name to its residents-file `sprite` (a sheet's name in `characters`); a
    name it lacks falls back to `characters/index.json`, then to the generic figure."""

    def __init__(self, names: list[str], frame: int = 16, sprites: Mapping[str, str] | None = None,
                 characters: Path = CHARACTERS):
        self.frame = frame
        index = _index(characters)
        given = sprites or {}
        self.files: dict[str, Path] = {}
        self._why: dict[str, str] = {}  # why a resident has no sheet, logged when it is first drawn
        for name in names:
            sprite = given.get(name, "")
            if sprite and (Path(sprite).name != sprite or sprite in (".", "..")):
                self._why[name] = f"its sprite {sprite!r} is not a sheet's name in {characters}"
            elif sprite:
                self.files[name] = characters / f"{sprite}.png"
            elif name in index:
                self.files[name] = characters / index[name]
            else:
                self._why[name] = "no sprite in the residents file or in index.json"
        self._sheets: dict[str, pygame.Surface] = {}
        self._scaled: dict[tuple[str, str, int, int], pygame.Surface] = {}

    def _sheet(self, name: str) -> pygame.Surface:
        if name not in self._sheets:
            path = self.files.get(name)
            sheet: pygame.Surface | None = None
            why = self._why.get(name, "not a resident of the run")
            if path is not None and not path.is_file():
                why = f"its sprite sheet {path} is missing"
            elif path is not None:
                try:
                    sheet = pygame.image.load(str(path)).convert_alpha()
                except (OSError, pygame.error) as exc:  # missing or unreadable: the window goes on
                    why = f"sprite sheet {path} cannot be loaded ({exc})"
                if sheet is not None and (sheet.get_width() < 4 * self.frame or sheet.get_height() < 3 * self.frame):
                    why, sheet = f"sprite sheet {path} is {sheet.get_size()}, smaller than 4 x 3 frames", None
            if sheet is None:
                log.warning("%s is drawn as a generic figure: %s", name, why)
                sheet = self._generic()
            self._sheets[name] = sheet
        return self._sheets[name]

    def _generic(self) -> pygame.Surface:
        sheet = pygame.Surface((self.frame * 4, self.frame * 3), pygame.SRCALPHA)
        half = self.frame // 2
        for col in range(4):
            for row in range(3):
                pygame.draw.circle(sheet, GENERIC, (col * self.frame + half, row * self.frame + half), 6)
        return sheet

    def get(self, name: str, facing: str, step: int, size: int) -> pygame.Surface:
        key = (name, facing, step, size)
        if key not in self._scaled:
            col = DIRECTIONS.index(facing) if facing in DIRECTIONS else 1
            f = self.frame
            frame = self._sheet(name).subsurface((col * f, step * f, f, f))
            self._scaled[key] = pygame.transform.scale(frame, (size, size))
        return self._scaled[key]


def _index(characters: Path) -> dict[str, str]:
    """index.json's sheets by resident name (the Ville's; other towns name theirs in the residents file)."""
    try:
        listed = json.loads((characters / "index.json").read_text(encoding="utf-8")).get("residents", {})
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("sprite index %s not read: %s", characters / "index.json", exc)
        return {}
    return {str(k): str(v) for k, v in listed.items()} if isinstance(listed, dict) else {}


class TownRenderer:
    """Draws a scene through a camera onto a surface (the map area)."""

    def __init__(self, map_surface: pygame.Surface, names: list[str], tile: int = 16, tick_seconds: int = 10,
                 *, sprites: Mapping[str, str] | None = None):
        """`sprites`: each resident's `sprite` from the residents file (by name)."""
        self.map = map_surface
        self.tile = tile
        self.tick_seconds = tick_seconds
        self.sprites = Sprites(names, tile, sprites)
        self._map_key: tuple[float, ...] | None = None
        self._map_frame: pygame.Surface | None = None

    def _map_layer(self, camera: Camera) -> pygame.Surface:
        key = (camera.cx, camera.cy, camera.zoom, camera.view_w, camera.view_h)
        if key != self._map_key or self._map_frame is None:
            frame = pygame.Surface((camera.view_w, camera.view_h)).convert()
            frame.fill((12, 12, 16))
            left, top, w, h = camera.visible()
            area = pygame.Rect(int(left), int(top), int(w) + 2, int(h) + 2).clip(self.map.get_rect())
            if area.width > 0 and area.height > 0:
                size = (round(area.width * camera.zoom), round(area.height * camera.zoom))
                piece = self.map.subsurface(area)
                scaled = piece if camera.zoom == 1 else pygame.transform.scale(piece, size)
                sx, sy = camera.to_screen(area.x, area.y)
                frame.blit(scaled, (round(sx), round(sy)))
            self._map_key, self._map_frame = key, frame
        return self._map_frame

    def figure_at(self, scene: Scene, camera: Camera, at: float, screen: tuple[int, int]) -> str | None:
        """The resident drawn under a window point (nearest within a sprite), if any."""
        best, best_d = None, (self.tile * camera.zoom) ** 2
        for name, figure in scene.figures.items():
            x, y = self._anchor(figure, camera, at)
            d = (x - screen[0]) ** 2 + (y - self.tile * camera.zoom / 2 - screen[1]) ** 2
            if d <= best_d:
                best, best_d = name, d
        return best

    def _anchor(self, figure: Figure, camera: Camera, at: float) -> tuple[float, float]:
        """Window point under the middle of the figure's feet."""
        px, py = figure.point(at)
        return camera.to_screen((px + 0.5) * self.tile, (py + 1) * self.tile)

    def draw(self, surface: pygame.Surface, scene: Scene, camera: Camera, at: float,
             selected: str | None = None) -> None:
        """`at`: the fractional tick shown (walkers move between tiles smoothly)."""
        surface.blit(self._map_layer(camera), (0, 0))
        size = max(8, round(self.tile * camera.zoom))
        view = surface.get_rect()
        placed = []
        for name in sorted(scene.figures, key=lambda n: scene.figures[n].point(at)[1]):
            figure = scene.figures[name]
            x, y = self._anchor(figure, camera, at)
            if not view.inflate(size * 4, size * 4).collidepoint(x, y):
                continue
            step = 0
            if figure.walking(at):
                step = 1 + int(at * 2) % 2
            sprite = self.sprites.get(name, figure.facing_at(at), step, size)
            rect = sprite.get_rect(midbottom=(round(x), round(y)))
            if name == selected:
                feet = pygame.Rect(rect.left - 3, rect.bottom - size // 4, rect.width + 6, size // 2)
                pygame.draw.ellipse(surface, SELECTED, feet, 2)
            surface.blit(sprite, rect)
            placed.append((name, figure, rect))
        # Labels of the selected resident first, then top to bottom; a label that would cover one already
        # drawn is left out (crowded rooms stay readable; clicking a resident shows its own).
        taken: list[pygame.Rect] = []
        for name, figure, rect in sorted(placed, key=lambda p: p[0] != selected):
            self._labels(surface, camera, name, figure, rect, name == selected, taken)
        for _, figure, rect in placed:
            line = figure.bubble(scene.tick, self.tick_seconds)
            if line:
                self._bubble(surface, line, rect.midtop)

    def _labels(self, surface: pygame.Surface, camera: Camera, name: str, figure: Figure, rect: pygame.Rect,
                chosen: bool, taken: list[pygame.Rect]) -> None:
        if camera.zoom < 1 and not chosen:
            return
        label = text(name if camera.zoom >= 1.5 or chosen else _initials(name), 15, SELECTED if chosen else LABEL)
        doing = _short(figure.action, 28) if camera.zoom >= 1.5 or chosen else ""
        tag = text(doing, 13, (200, 230, 255)) if doing else None
        where = label.get_rect(midtop=(rect.centerx, rect.bottom + 1))
        box = where.union(tag.get_rect(midtop=where.midbottom)) if tag else where
        if not chosen and box.collidelist(taken) != -1:
            return
        taken.append(box)
        surface.blit(label, where)
        if tag is not None:
            surface.blit(tag, tag.get_rect(midtop=where.midbottom))

    def _bubble(self, surface: pygame.Surface, line: str, anchor: tuple[int, int]) -> None:
        lines = [row for row in wrap(_short(line, 140), 220, 16)[:4] if row.strip()]
        if not lines:
            return  # a blank line says nothing: no empty bubble
        rendered = [text(row, 16, INK, outline=False) for row in lines]
        w = max(r.get_width() for r in rendered) + 12
        h = sum(r.get_height() for r in rendered) + 8
        box = pygame.Rect(0, 0, w, h)
        box.midbottom = (anchor[0], anchor[1] - 8)
        box.clamp_ip(surface.get_rect())
        pygame.draw.rect(surface, BUBBLE, box, border_radius=6)
        pygame.draw.rect(surface, INK, box, 1, border_radius=6)
        tail = (anchor[0], anchor[1] - 2)
        pygame.draw.polygon(surface, BUBBLE, [(tail[0] - 4, box.bottom - 1), (tail[0] + 4, box.bottom - 1), tail])
        y = box.top + 4
        for r in rendered:
            surface.blit(r, (box.left + 6, y))
            y += r.get_height()


def _initials(name: str) -> str:
    return "".join(part[0] for part in name.split() if part)


def _short(value: str, limit: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"
