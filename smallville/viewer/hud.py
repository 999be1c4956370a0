"""The heads-up display: the game clock and date, the pace, live figures (`LiveFigures`), the timeline
scrubber (a replay's whole save; a live run's way to its end) and the help overlay listing the keys.

Owns the bars above and below the map and what they say. Drawing only: the app decides what happens when
the scrubber is clicked (`Scrubber.tick_at` turns a click into a tick).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pygame

from smallville.viewer.render import INK, SELECTED, text
from smallville.viewer.sources import Work

BAR = (24, 26, 34)
TRACK = (70, 74, 90)
FILLED = (110, 170, 255)
TOP_H = 30
BOTTOM_H = 34

KEYS = (
    ("Space", "pause / play"),
    (". or Right", "step one game minute (paused)"),
    ("+ / -", "faster / slower"),
    ("Arrows, WASD, drag", "move the map"),
    ("Wheel, [ ]", "zoom"),
    ("Click", "select a resident"),
    ("F", "follow the selected resident"),
    ("Tab", "next resident"),
    ("Enter", "chat with the selected resident (Tab: mode, Esc: close)"),
    ("Home / End", "replay: jump to the start / end"),
    ("Click the bar", "replay: jump to that moment"),
    ("F12 or P", "screenshot (into the save's screenshots/)"),
    ("H or F1", "this help"),
    ("Esc", "close a panel; quit"),
)


@dataclass
class Status:
    """What the top bar says."""

    clock: str  # "Mon 13 Feb 2023 08:15"
    mode: str  # "live" | "replay"
    playing: bool
    speed: str  # "30 game min/s"
    figures: str = ""  # live: pace, calls, tokens/s, queue


def draw_top(surface: pygame.Surface, status: Status) -> None:
    bar = pygame.Rect(0, 0, surface.get_width(), TOP_H)
    surface.fill(BAR, bar)
    x = 8
    for value, colour in ((status.clock, (255, 255, 255)), (status.mode.upper(), SELECTED),
                          (f"playing, {status.speed}" if status.playing else "paused", (200, 230, 255)),
                          (status.figures, (190, 190, 200))):
        if not value:
            continue
        label = text(value, 20, colour)
        surface.blit(label, (x, (TOP_H - label.get_height()) // 2))
        x += label.get_width() + 22
    hint = text("H: help", 16, (150, 150, 160))
    surface.blit(hint, (surface.get_width() - hint.get_width() - 8, (TOP_H - hint.get_height()) // 2))


class Scrubber:
    """The replay's timeline: the whole save as a bar, the moment shown as a knob."""

    def __init__(self, first: int, last: int):
        self.first, self.last = first, max(last, first + 1)
        self.rect = pygame.Rect(0, 0, 0, 0)

    def layout(self, surface: pygame.Surface) -> None:
        w, h = surface.get_size()
        self.rect = pygame.Rect(120, h - BOTTOM_H + 12, max(10, w - 240), 10)

    def tick_at(self, x: int) -> int:
        f = (x - self.rect.left) / max(1, self.rect.width)
        return round(self.first + max(0.0, min(1.0, f)) * (self.last - self.first))

    def hit(self, pos: tuple[int, int]) -> bool:
        return self.rect.inflate(0, 18).collidepoint(pos)

    def draw(self, surface: pygame.Surface, tick: float, start: str, end: str) -> None:
        self.layout(surface)
        w, h = surface.get_size()
        surface.fill(BAR, pygame.Rect(0, h - BOTTOM_H, w, BOTTOM_H))
        pygame.draw.rect(surface, TRACK, self.rect, border_radius=5)
        f = (tick - self.first) / (self.last - self.first)
        done = self.rect.copy()
        done.width = round(self.rect.width * max(0.0, min(1.0, f)))
        pygame.draw.rect(surface, FILLED, done, border_radius=5)
        pygame.draw.circle(surface, (255, 255, 255), (done.right, self.rect.centery), 8)
        for value, x in ((start, 8), (end, self.rect.right + 10)):
            label = text(value, 16, (200, 200, 210))
            surface.blit(label, (x, self.rect.centery - label.get_height() // 2))


def draw_help(surface: pygame.Surface) -> None:
    rows = [(text(k, 20, SELECTED), text(v, 20)) for k, v in KEYS]
    w = max(a.get_width() for a, _ in rows) + max(b.get_width() for _, b in rows) + 60
    h = sum(a.get_height() + 6 for a, _ in rows) + 56
    box = pygame.Rect(0, 0, w, h)
    box.center = surface.get_rect().center
    shade = pygame.Surface(box.size, pygame.SRCALPHA)
    shade.fill((15, 16, 22, 235))
    surface.blit(shade, box)
    pygame.draw.rect(surface, SELECTED, box, 2, border_radius=8)
    title = text("Keys", 24, (255, 255, 255))
    surface.blit(title, (box.left + 20, box.top + 14))
    y = box.top + 48
    key_w = max(a.get_width() for a, _ in rows)
    for key, value in rows:
        surface.blit(key, (box.left + 20, y))
        surface.blit(value, (box.left + 40 + key_w, y))
        y += key.get_height() + 6


def draw_message(surface: pygame.Surface, message: str) -> None:
    """A short notice above the bottom bar (a screenshot saved, a save that could not be read...)."""
    label = text(message, 20, INK, outline=False)
    box = label.get_rect(midbottom=(surface.get_width() // 2, surface.get_height() - BOTTOM_H - 10)).inflate(16, 8)
    pygame.draw.rect(surface, (255, 255, 240), box, border_radius=6)
    surface.blit(label, label.get_rect(center=box.center))


class LiveFigures:
    """The live run's pace, model calls and tokens per second, and thoughts in flight, over the last few
    seconds (sampled each frame from `Source.work`; nothing to say for a source that does not think)."""

    def __init__(self, window_s: float = 5.0):
        self.window_s = window_s
        self.samples: list[tuple[float, float, int, int]] = []  # (time, tick, calls, tokens)
        self.thinking = 0

    def sample(self, work: Work, at: float, tick_seconds: int) -> None:
        now = time.monotonic()
        self.samples.append((now, at, work.calls, work.tokens))
        while self.samples and now - self.samples[0][0] > self.window_s:
            self.samples.pop(0)
        self.thinking = work.thinking
        self.tick_seconds = tick_seconds

    def line(self) -> str:
        if len(self.samples) < 2:
            return ""
        (t0, a0, _, k0), (t1, a1, c1, k1) = self.samples[0], self.samples[-1]
        span = max(t1 - t0, 1e-6)
        pace = (a1 - a0) * self.tick_seconds / 60 / span
        return f"{pace:.2g} game min/s  {c1} calls  {(k1 - k0) / span:,.0f} tok/s  {self.thinking} thinking"
