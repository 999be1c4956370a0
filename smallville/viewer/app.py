"""The window: input, update, draw, for a live run beside it or a replay of a saved one.

Owns what the user does with keys and mouse (keys in `hud.KEYS`) and the moment shown. In a replay that is
a fractional tick `at` that advances with real time at the chosen pace while playing, so walkers move
smoothly and the same save always shows the same picture at the same moment; in a live run it is the tick
the run has reached, and pause, step and pace act on the run itself (`smallville.live.Control`). Closing
the window stops a live run the way Ctrl-C does: thoughts finish, a checkpoint is written, the embedded
server stops. One `frame(events, dt)` is one turn of the
loop; `run()` feeds it from pygame, tests feed it synthetic events (with SDL's dummy video driver).
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import Future
from pathlib import Path

import pygame

from smallville.agents.interview import clean_question
from smallville.core.clock import Clock
from smallville.viewer import hud
from smallville.viewer.askers import Askers
from smallville.viewer.camera import Camera
from smallville.viewer.chat import HEIGHT as CHAT_H
from smallville.viewer.chat import ChatBox
from smallville.viewer.inspector import WIDTH as PANEL_W
from smallville.viewer.inspector import Inspector
from smallville.viewer.render import TownRenderer, font, load_map_surface, text
from smallville.viewer.sources import LiveSource, ReplaySource

log = logging.getLogger(__name__)

#: Paces in game minutes per real second (1 is real time x60).
SPEEDS = (0.25, 1, 2, 5, 10, 30, 60, 120, 240)
PAN_PX_PER_S = 600
SIZE = (1280, 720)


class _NoKeys:
    """No key held (while typing in the chat, WASD are letters, not camera moves)."""

    def __getitem__(self, key: int) -> bool:
        return False


_NO_KEYS = _NoKeys()


class Viewer:
    def __init__(self, source: ReplaySource | LiveSource, size: tuple[int, int] = SIZE, *,
                 start: int | None = None, speed_index: int = 3):
        if not pygame.get_init() or not pygame.font.get_init():
            pygame.init()
            # fonts and labels cached before a pygame.quit() point at freed memory (a segfault if drawn)
            font.cache_clear()
            text.cache_clear()
        self.live = isinstance(source, LiveSource)
        self.screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        pygame.display.set_caption(f"smallville: {'live' if self.live else 'replay'} {source.save.root}")
        self.source = source
        self.tick_seconds = source.clock.tick_seconds
        self.selected: str | None = None
        map_surface = load_map_surface(source.map_path)
        self.renderer = TownRenderer(map_surface, source.names, tick_seconds=source.clock.tick_seconds,
                                     sprites={n: p.sprite for n, p in source.personas.items()})
        self.camera = Camera(map_surface.get_width(), map_surface.get_height(), *self.map_area_size())
        self.scrubber = hud.Scrubber(source.first, source.last)
        self.inspector = Inspector(source.history, source.clock, source.personas)
        self.askers: Askers | None = None
        self.chat = ChatBox(self._interview, self._plant if self.live else None)
        if isinstance(source, LiveSource):
            self.scrubber = hud.Scrubber(source.first, source.target)
            self.scene, self.at = source.scene, float(source.last)
        else:
            self.at = float(source.first if start is None else max(source.first, min(start, source.last)))
            self.scene = source.scene_at(int(self.at))
        self.playing = self.live
        self.open_on_residents()
        self.speed_index = speed_index
        if isinstance(source, LiveSource):  # the run's own pace, to the nearest step of the ladder
            pace = source.control.speed
            self.speed_index = len(SPEEDS) if pace is None else \
                min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - pace))
        self.figures = hud.LiveFigures()
        self.show_help = False
        self.running = True
        self.message, self.message_until = "", 0.0
        self._drag: tuple[int, int] | None = None
        self._dragged = False
        self._scrubbing = False
        self._announced = False  # the end of a live run has been told
        if isinstance(source, LiveSource):
            source.start()

    def open_on_residents(self) -> None:
        """The first view, at the opening zoom: on the first resident awake (in the residents file's order),
        else on the largest group of residents that view can hold."""
        figures = [self.scene.figures[n] for n in self.source.names if n in self.scene.figures]
        if not figures:
            return
        awake = [f for f in figures if f.action and "sleep" not in f.action.lower()]
        tile = self.renderer.tile
        if awake:
            px, py = awake[0].point(self.at)
            self.camera.look_at((px + 0.5) * tile, (py + 0.5) * tile)
            return
        # Everyone asleep (a run's first hours): the view that holds the most of them at this zoom.
        _, _, w, h = self.camera.visible()
        half_w, half_h = w / tile / 2 * 0.8, h / tile / 2 * 0.8  # keep a margin for labels
        points = [f.point(self.at) for f in figures]
        groups = [[q for q in points if abs(q[0] - p[0]) <= half_w and abs(q[1] - p[1]) <= half_h]
                  for p in points]
        best = max(groups, key=len)  # first of the largest: the residents file's order breaks ties
        self.camera.look_at((sum(q[0] for q in best) / len(best) + 0.5) * tile,
                            (sum(q[1] for q in best) / len(best) + 0.5) * tile)

    # -- the loop -----------------------------------------------------------------------------------------

    def map_area_size(self) -> tuple[int, int]:
        w, h = self.screen.get_size()
        panel = PANEL_W if self.selected else 0
        return max(1, w - panel), max(1, h - hud.TOP_H - hud.BOTTOM_H)

    def select(self, name: str | None) -> None:
        """Select a resident (the inspector opens beside the map) or none (it closes)."""
        if name != self.selected:
            self.inspector.scroll = 0
        self.selected = name
        if name is None:
            self.camera.following = None
            self.chat.close()
        self.camera.resize(*self.map_area_size())

    @property
    def speed(self) -> float | None:
        """Game minutes per real second; None (live only): as fast as the run goes."""
        return SPEEDS[self.speed_index] if self.speed_index < len(SPEEDS) else None

    def run(self) -> None:
        clock = pygame.time.Clock()
        try:
            while self.running:
                dt = clock.tick(60) / 1000
                self.frame(pygame.event.get(), dt)
                pygame.display.flip()
        finally:
            self.close()

    def close(self) -> None:
        """Stop what the window started: a live run (thoughts finish, a checkpoint, the embedded server
        stops; the window keeps drawing meanwhile, if it still can) and the interviews' own models. Waits
        for the run's checkpoint: the thoughts under way get the runner's grace (`STOP_GRACE_S`), and those
        still thinking then are kept in it to start again on resume: closing never loses the run."""
        if self.askers is not None:
            self.askers.close()
            self.askers = None
        if isinstance(self.source, LiveSource) and self.source.thread.ident is not None:
            control = self.source.control
            control.stop()
            control.paused = False
            drawing = True
            while not control.finished.wait(0.05):
                if not drawing:
                    continue
                try:
                    pygame.event.pump()
                    self.notify("saving: the residents finish their thoughts (20 s at most), then a checkpoint...", 1.0)
                    self.update(0.05)
                    self.draw()
                    pygame.display.flip()
                except Exception as exc:  # the window broke (what ended it, maybe): the run still saves
                    log.warning("window not redrawn while the run stops: %s", exc)
                    drawing = False
            self.source.thread.join()

    def _interview(self, name: str, tick: int, question: str) -> Future:
        src = self.source
        run_over = isinstance(src, LiveSource) and src.control.finished.is_set()
        if self.askers is not None and self.askers.borrowed and run_over:
            self.askers = None  # the run and its loop are over: ask with models of the window's own
        if self.askers is None:
            run: dict[str, object] = {}
            if isinstance(src, LiveSource) and src.control.models is not None and not run_over:
                run = {"loop": src.control.loop, "models": src.control.models}  # the run's own model
            self.askers = Askers(src.settings, src.history, src.personas, src.save.root, src.clock.tick_seconds,
                                 **run)  # type: ignore[arg-type]
        return self.askers.interview(name, tick, question)

    def _plant(self, name: str, thought: str) -> None:
        assert isinstance(self.source, LiveSource)
        self.source.control.plant(name, clean_question(thought))  # cleaned like a question: it is data

    def frame(self, events: list[pygame.event.Event], dt: float) -> pygame.Surface:
        for event in events:
            self.handle(event)
        self.update(dt)
        self.draw()
        return self.screen

    def update(self, dt: float) -> None:
        self.chat.settle()
        keys = pygame.key.get_pressed() if not self.chat.active else _NO_KEYS
        # Right is also "step" when paused, so the arrow keys pan up/down and WASD pans every way.
        dx = (keys[pygame.K_d] - keys[pygame.K_a]) * PAN_PX_PER_S * dt
        dy = (keys[pygame.K_s] - keys[pygame.K_w] + keys[pygame.K_DOWN] - keys[pygame.K_UP]) * PAN_PX_PER_S * dt
        if dx or dy:
            self.camera.pan(dx, dy)
        if isinstance(self.source, LiveSource):
            self.scene = self.source.poll()
            self.at = float(self.source.last)
            self.playing = not self.source.control.paused
            self.figures.sample(self.source.control, self.at, self.tick_seconds)
            if self.source.control.finished.is_set() and not self._announced:
                self._announced = True
                error = self.source.control.error
                self.notify(f"the run stopped: {error}" if error else "the run is complete and saved", 1e9)
        elif self.playing:
            ticks_per_s = self.speed * 60 / self.tick_seconds
            self.go_to(self.at + ticks_per_s * dt)
            if self.at >= self.source.last:
                self.playing = False
        if self.camera.following and self.camera.following in self.scene.figures:
            px, py = self.scene.figures[self.camera.following].point(self.at)
            self.camera.look_at((px + 0.5) * self.renderer.tile, (py + 0.5) * self.renderer.tile)

    def go_to(self, at: float) -> None:
        if isinstance(self.source, LiveSource):
            return  # a live run is always shown where it stands
        self.at = max(float(self.source.first), min(at, float(self.source.last)))
        self.scene = self.source.forward(self.scene, int(self.at))

    def draw(self) -> None:
        self.screen.fill(hud.BAR)
        size = self.map_area_size()
        area = self.screen.subsurface(pygame.Rect((0, hud.TOP_H), size))
        self.renderer.draw(area, self.scene, self.camera, self.at, self.selected)
        if self.selected:
            chat_h = min(CHAT_H, size[1] // 2)
            panel = pygame.Rect(size[0], hud.TOP_H, self.screen.get_width() - size[0], size[1] - chat_h)
            self.inspector.draw(self.screen, panel, self.selected, self.scene)
            as_of = self.source.clock.time(int(self.at)).strftime("%a %H:%M")
            self.chat.draw(self.screen, pygame.Rect(panel.left, panel.bottom, panel.width, chat_h), self.selected,
                           as_of)
        clock = self.source.clock.time(int(self.at)).strftime("%a %d %b %Y %H:%M")
        mode = "live" if self.live else "replay"
        hud.draw_top(self.screen, hud.Status(clock, mode, self.playing, _pace(self.speed),
                                             self.figures.line() if self.live else ""))
        clock_of = self.source.clock
        self.scrubber.draw(self.screen, self.at, _hm(clock_of, self.scrubber.first), _hm(clock_of, self.scrubber.last))
        if self.show_help:
            hud.draw_help(self.screen)
        if self.message and time.monotonic() < self.message_until:
            hud.draw_message(self.screen, self.message)

    # -- input --------------------------------------------------------------------------------------------

    def handle(self, event: pygame.event.Event) -> None:
        if self.chat.active and self.selected and self.chat.handle(event, self.selected, int(self.at)):
            return
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.VIDEORESIZE:
            self.screen = pygame.display.set_mode((max(480, event.w), max(320, event.h)), pygame.RESIZABLE)
            self.camera.resize(*self.map_area_size())
        elif event.type == pygame.KEYDOWN:
            self._key(event)
        elif event.type == pygame.MOUSEWHEEL:
            pos = pygame.mouse.get_pos()
            if self.selected and pos[0] >= self.map_area_size()[0]:
                self.inspector.wheel(event.y)
            else:
                self.camera.zoom_by(1 if event.y > 0 else -1, self._map_point(pos))
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            if self.scrubber.hit(event.pos):
                self._scrubbing = True
                self.go_to(self.scrubber.tick_at(event.pos[0]))
            else:
                self._drag, self._dragged = event.pos, False
        elif event.type == pygame.MOUSEMOTION:
            if self._scrubbing:
                self.go_to(self.scrubber.tick_at(event.pos[0]))
            elif self._drag is not None:
                dx, dy = event.pos[0] - self._drag[0], event.pos[1] - self._drag[1]
                if self._dragged or abs(dx) + abs(dy) > 4:
                    self.camera.pan(-dx, -dy)
                    self._drag, self._dragged = event.pos, True
        elif event.type == pygame.MOUSEBUTTONUP and event.button == 1:
            if not self._scrubbing and self._drag is not None and not self._dragged:
                self.select_at(event.pos)
            self._drag, self._scrubbing = None, False

    def _key(self, event: pygame.event.Event) -> None:
        key = event.key
        if key == pygame.K_ESCAPE:
            if self.show_help:
                self.show_help = False
            elif self.selected:
                self.select(None)
                self.chat.close()
            else:
                self.running = False
        elif key in (pygame.K_RETURN, pygame.K_KP_ENTER) and self.selected:
            if not self.live:
                self.playing = False  # the moment stays put while the resident is asked about it
            self.chat.open()
        elif key in (pygame.K_h, pygame.K_F1):
            self.show_help = not self.show_help
        elif key == pygame.K_SPACE:
            if isinstance(self.source, LiveSource):
                self.source.control.paused = not self.source.control.paused
            else:
                self.playing = not self.playing and self.at < self.source.last
        elif key in (pygame.K_PERIOD, pygame.K_RIGHT) and not self.playing:
            if isinstance(self.source, LiveSource):
                self.source.control.step(round(60 / self.tick_seconds))
            else:
                self.go_to(self.at + 60 / self.tick_seconds)
        elif key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS, pygame.K_MINUS, pygame.K_KP_MINUS):
            faster = key not in (pygame.K_MINUS, pygame.K_KP_MINUS)
            top = len(SPEEDS) if self.live else len(SPEEDS) - 1  # live: one more step, as fast as it goes
            self.speed_index = max(0, min(top, self.speed_index + (1 if faster else -1)))
            if isinstance(self.source, LiveSource):
                self.source.control.speed = self.speed
        elif key in (pygame.K_RIGHTBRACKET, pygame.K_LEFTBRACKET):
            self.camera.zoom_by(1 if key == pygame.K_RIGHTBRACKET else -1)
        elif key == pygame.K_HOME:
            self.go_to(self.source.first)
        elif key == pygame.K_END:
            self.go_to(self.source.last)
        elif key == pygame.K_TAB:
            names = sorted(self.scene.figures)
            if names:
                self.select(names[(names.index(self.selected) + 1) % len(names)]
                            if self.selected in names else names[0])
        elif key == pygame.K_f and self.selected:
            self.camera.following = None if self.camera.following == self.selected else self.selected
        elif key in (pygame.K_F12, pygame.K_p):
            self.screenshot()

    def _map_point(self, pos: tuple[int, int]) -> tuple[int, int]:
        return pos[0], pos[1] - hud.TOP_H

    def select_at(self, pos: tuple[int, int]) -> None:
        """A click on the map selects who is drawn there (or nobody); a click on the panel does nothing."""
        if pos[0] < self.map_area_size()[0]:
            self.select(self.renderer.figure_at(self.scene, self.camera, self.at, self._map_point(pos)))

    def screenshot(self, path: Path | None = None) -> Path | None:
        """Save the window as a PNG (into the save's screenshots/ by default); None if it could not be
        written (a read-only or full disk): the window says so and goes on."""
        try:
            if path is None:
                folder = self.source.save.root / "screenshots"
                folder.mkdir(exist_ok=True)
                stamp = self.source.clock.time(int(self.at)).strftime("%Y%m%d-%H%M%S")
                stem = f"{'live' if self.live else 'replay'}-{stamp}"
                path, n = folder / f"{stem}.png", 2
                while path.exists():  # several shots of one game moment each keep their own file
                    path, n = folder / f"{stem}-{n}.png", n + 1
            pygame.image.save(self.screen, str(path))
        except (OSError, pygame.error) as exc:
            self.notify(f"no screenshot: {exc}")
            return None
        self.notify(f"screenshot: {path}")
        return path

    def notify(self, message: str, seconds: float = 3.0) -> None:
        self.message, self.message_until = message, time.monotonic() + seconds


def _pace(speed: float | None) -> str:
    return "as fast as it goes" if speed is None else f"{speed:g} game min/s"


def _hm(clock: Clock, tick: int) -> str:
    return clock.time(tick).strftime("%a %H:%M")


def headless() -> None:
    """Draw without a display (tests, benchmarks, screenshots on a server)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
