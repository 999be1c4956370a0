"""Render a town map (TMX) to PNG with pygame, headless, for checking the map by eye.

Writes two images at 1 px per map pixel: `map.png` (all visible tile layers in order) and
`map-addresses.png` (the same with sector outlines and names, arena outlines and names, and a marker with
initials on each resident's spawn).

    .venv/bin/python tools/render_map.py [maps/the_ville/the_ville.tmx] [--out-dir docs]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame
import pytmx
from pytmx.util_pygame import load_pygame

ROOT = Path(__file__).resolve().parents[1]
SECTOR_COLOUR = (255, 214, 0)
ARENA_COLOUR = (0, 230, 255)
SPAWN_COLOUR = (255, 60, 120)


def render_tiles(tmx: pytmx.TiledMap) -> pygame.Surface:
    """All visible tile layers, bottom to top."""
    tw, th = tmx.tilewidth, tmx.tileheight
    surface = pygame.Surface((tmx.width * tw, tmx.height * th), pygame.SRCALPHA)
    surface.fill((0, 0, 0, 255))
    for layer in tmx.visible_layers:
        if isinstance(layer, pytmx.TiledTileLayer):
            for x, y, image in layer.tiles():
                surface.blit(image, (x * tw, y * th))
    return surface


def _label(surface: pygame.Surface, font: pygame.font.Font, text: str, pos: tuple[int, int],
           colour: tuple[int, int, int]) -> None:
    image = font.render(text, True, colour)
    box = pygame.Surface((image.get_width() + 4, image.get_height() + 2), pygame.SRCALPHA)
    box.fill((0, 0, 0, 170))
    surface.blit(box, pos)
    surface.blit(image, (pos[0] + 2, pos[1] + 1))


def draw_addresses(surface: pygame.Surface, tmx: pytmx.TiledMap) -> None:
    """Outline and name sectors and arenas; mark spawns with the resident's initials."""
    small, big = pygame.font.Font(None, 14), pygame.font.Font(None, 18)
    layer_names = {layer.name for layer in tmx.layers}
    for obj in tmx.get_layer_by_name("arenas") if "arenas" in layer_names else []:
        rect = pygame.Rect(int(obj.x), int(obj.y), int(obj.width), int(obj.height))
        pygame.draw.rect(surface, ARENA_COLOUR, rect, 1)
        _label(surface, small, obj.name, (rect.x + 2, rect.y + 2), ARENA_COLOUR)
    for obj in tmx.get_layer_by_name("sectors") if "sectors" in layer_names else []:
        rect = pygame.Rect(int(obj.x), int(obj.y), int(obj.width), int(obj.height))
        pygame.draw.rect(surface, SECTOR_COLOUR, rect, 2)
        _label(surface, big, obj.name, (rect.x + 2, rect.bottom - 16), SECTOR_COLOUR)
    for obj in tmx.get_layer_by_name("spawns") if "spawns" in layer_names else []:
        centre = (int(obj.x) + tmx.tilewidth // 2, int(obj.y) + tmx.tileheight // 2)
        pygame.draw.circle(surface, SPAWN_COLOUR, centre, 8)
        pygame.draw.circle(surface, (255, 255, 255), centre, 8, 1)
        initials = "".join(part[0] for part in obj.name.split())
        image = small.render(initials, True, (255, 255, 255))
        surface.blit(image, (centre[0] - image.get_width() // 2, centre[1] - image.get_height() // 2))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tmx", type=Path, nargs="?", default=ROOT / "maps" / "the_ville" / "the_ville.tmx")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "docs")
    args = ap.parse_args(argv)
    pygame.init()
    pygame.display.set_mode((1, 1))
    tmx = load_pygame(str(args.tmx))
    surface = render_tiles(tmx)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    pygame.image.save(surface, str(args.out_dir / "map.png"))
    draw_addresses(surface, tmx)
    pygame.image.save(surface, str(args.out_dir / "map-addresses.png"))
    print(f"render_map: wrote {args.out_dir / 'map.png'} and {args.out_dir / 'map-addresses.png'}")
    pygame.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
