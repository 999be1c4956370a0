"""The camera: which part of the town the window shows, and how big (no pygame here).

Owns the mapping between map pixels and window pixels: a centre in map pixels, a zoom from a fixed
ladder (so scaled tiles can be cached per step), the window size; panning by keys or by dragging, zooming
about the mouse, following a resident, and keeping the view on the map.
"""

from __future__ import annotations

from dataclasses import dataclass

ZOOMS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


@dataclass
class Camera:
    map_w: int  # map size in map pixels
    map_h: int
    view_w: int  # window (or map area) size in window pixels
    view_h: int
    cx: float = 0.0  # centre, map pixels
    cy: float = 0.0
    zoom_index: int = 3
    following: str | None = None

    def __post_init__(self) -> None:
        if not (self.cx or self.cy):
            self.cx, self.cy = self.map_w / 2, self.map_h / 2
        self.clamp()

    @property
    def zoom(self) -> float:
        return ZOOMS[self.zoom_index]

    def resize(self, view_w: int, view_h: int) -> None:
        self.view_w, self.view_h = max(1, view_w), max(1, view_h)
        self.clamp()

    def to_screen(self, mx: float, my: float) -> tuple[float, float]:
        return (mx - self.cx) * self.zoom + self.view_w / 2, (my - self.cy) * self.zoom + self.view_h / 2

    def to_map(self, sx: float, sy: float) -> tuple[float, float]:
        return (sx - self.view_w / 2) / self.zoom + self.cx, (sy - self.view_h / 2) / self.zoom + self.cy

    def visible(self) -> tuple[float, float, float, float]:
        """The map rectangle in view: left, top, width, height (map pixels)."""
        w, h = self.view_w / self.zoom, self.view_h / self.zoom
        return self.cx - w / 2, self.cy - h / 2, w, h

    def pan(self, dx_screen: float, dy_screen: float) -> None:
        """Move the view by window pixels (a drag of the map moves it the other way)."""
        self.following = None
        self.cx += dx_screen / self.zoom
        self.cy += dy_screen / self.zoom
        self.clamp()

    def zoom_by(self, steps: int, about: tuple[float, float] | None = None) -> None:
        """Zoom in (steps > 0) or out, keeping the map point under `about` (window pixels) in place."""
        index = max(0, min(len(ZOOMS) - 1, self.zoom_index + steps))
        if index == self.zoom_index:
            return
        anchor = about or (self.view_w / 2, self.view_h / 2)
        before = self.to_map(*anchor)
        self.zoom_index = index
        after = self.to_map(*anchor)
        if self.following is None:
            self.cx += before[0] - after[0]
            self.cy += before[1] - after[1]
        self.clamp()

    def look_at(self, mx: float, my: float) -> None:
        self.cx, self.cy = mx, my
        self.clamp()

    def clamp(self) -> None:
        """Keep the view on the map (centred where the map is smaller than the view)."""
        _, _, w, h = self.visible()
        self.cx = self.map_w / 2 if w >= self.map_w else min(max(self.cx, w / 2), self.map_w - w / 2)
        self.cy = self.map_h / 2 if h >= self.map_h else min(max(self.cy, h / 2), self.map_h - h / 2)
