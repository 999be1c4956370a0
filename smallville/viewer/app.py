"""The window: input, update, draw, for a live run beside it or a replay of a saved one.

Owns what the user does with keys and mouse (what each key does: `KEYMAP`; the help lists them: `hud.KEYS`)
and the view: the camera, who is selected, the panels, the pace ladder (`SPEEDS`). The moment shown and
how it moves come from the source (`sources.Source`: a replay, or a live run whose pause, step and pace
act on the run itself), which the window drives the same way whichever it is. Closing the window stops a
live run the way Ctrl-C does: thoughts finish, a checkpoint is written, the embedded server stops. One
`frame(events, dt)` is one turn of the loop; `run()` feeds it from pygame, tests feed it synthetic events
(with SDL's dummy video driver).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Generic, TypeVar

import pygame

from smallville.agents.interview import Answer, clean_question
from smallville.core.clock import Clock
from smallville.viewer import hud
from smallville.viewer.askers import Askers
from smallville.viewer.camera import Camera
from smallville.viewer.chat import HEIGHT as CHAT_H
from smallville.viewer.chat import ChatBox
from smallville.viewer.inspector import WIDTH as PANEL_W
from smallville.viewer.inspector import Inspector
from smallville.viewer.render import TownRenderer, font, load_map_surface, text
from smallville.viewer.scene import Scene
from smallville.viewer.sources import Source

log = logging.getLogger(__name__)

#: Paces in game minutes per real second (1 is real time x60); a live run has one more: as fast as it goes.
SPEEDS = (0.25, 1, 2, 5, 10, 30, 60, 120, 240)
PAN_PX_PER_S = 600
SIZE = (1280, 720)

S = TypeVar("S", bound=Source)  # the window's own source, so its callers keep its type (a live run's result)


class _NoKeys:
    """No key held (while typing in the chat, WASD are letters, not camera moves)."""

    def __getitem__(self, key: int) -> bool:
        return False


_NO_KEYS = _NoKeys()


class Viewer(Generic[S]):
    def __init__(self, source: S, size: tuple[int, int] = SIZE, *, start: int | None = None):
        """`start`: the tick to open a replay at (a live run opens where it stands)."""
        if not pygame.get_init() or not pygame.font.get_init():
            pygame.init()
            # fonts and labels cached before a pygame.quit() point at freed memory (a segfault if drawn)
            font.cache_clear()
            text.cache_clear()
        self.screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        pygame.display.set_caption(f"smallville: {source.mode} {source.save.root}")
        self.source = source
        if start is not None:
            source.go_to(start)
        self.tick_seconds = source.clock.tick_seconds
        self.selected: str | None = None
        map_surface = load_map_surface(source.map_path)
        self.renderer = TownRenderer(map_surface, source.names, tick_seconds=source.clock.tick_seconds,
                                     sprites={n: p.sprite for n, p in source.personas.items()})
        self.camera = Camera(map_surface.get_width(), map_surface.get_height(), *self.map_area_size())
        self.scrubber = hud.Scrubber(source.first, source.end)
        self.inspector = Inspector(source.history, source.clock, source.personas)
        self.askers: Askers | None = None
        self.chat = ChatBox(self._interview, self._plant if source.inner_voice else None)
        self.open_on_residents()
        self.speed_index = _step_of(source.speed)  # the source's own pace, to the nearest step of the ladder
        self.figures = hud.LiveFigures()
        self.show_help = False
        self.running = True
        self.message, self.message_until = "", 0.0
        self._drag: tuple[int, int] | None = None
        self._dragged = False
        self._scrubbing = False
        self._announced = False  # the end of a live run has been told
        source.start()

    # -- the moment, as the source has it -------------------------------------------------------------------

    @property
    def at(self) -> float:
        return self.source.at

    @property
    def scene(self) -> Scene:
        return self.source.scene

    @property
    def playing(self) -> bool:
        return self.source.playing

    @playing.setter
    def playing(self, value: bool) -> None:
        self.source.playing = value

    @property
    def speed(self) -> float | None:
        """Game minutes per real second, the ladder's step; None (live only): as fast as the run goes."""
        return SPEEDS[self.speed_index] if self.speed_index < len(SPEEDS) else None

    def pace(self, index: int) -> None:
        """Go to step `index` of the ladder (one past its top, where the source has it: as fast as it goes)."""
        top = len(SPEEDS) if self.source.flat_out else len(SPEEDS) - 1
        self.speed_index = max(0, min(top, index))
        self.source.speed = self.speed

    def go_to(self, at: float) -> None:
        self.source.go_to(at)

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
        for the run's checkpoint: closing never loses the run (`LiveSource.stop`)."""
        if self.askers is not None:
            self.askers.close()
            self.askers = None
        drawing = True

        def waiting() -> None:
            nonlocal drawing
            if not drawing:
                return
            try:
                pygame.event.pump()
                self.notify("saving: the residents finish their thoughts (20 s at most), then a checkpoint...", 1.0)
                self.update(0.05)
                self.draw()
                pygame.display.flip()
            except Exception as exc:  # the window broke (what ended it, maybe): the run still saves
                log.warning("window not redrawn while the run stops: %s", exc)
                drawing = False

        self.source.stop(waiting)

    def _interview(self, name: str, tick: int, question: str) -> Future[Answer]:
        src = self.source
        run = src.run_models()  # a live run's own loop and model while it runs
        if self.askers is not None and self.askers.borrowed and run is None:
            self.askers = None  # the run and its loop are over: ask with models of the window's own
        if self.askers is None:
            loop, models = run if run is not None else (None, None)
            self.askers = Askers(src.settings, src.history, src.personas, src.save.root, src.clock.tick_seconds,
                                 loop=loop, models=models)
        return self.askers.interview(name, tick, question)

    def _plant(self, name: str, thought: str) -> None:
        self.source.plant(name, clean_question(thought))  # cleaned like a question: it is data

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
        self.source.advance(dt)
        work = self.source.work()
        if work is not None:
            self.figures.sample(work, self.at, self.tick_seconds)
        if not self._announced:
            ending = self.source.ending()
            if ending is not None:
                self._announced = True
                self.notify(ending, 1e9)
        if self.camera.following and self.camera.following in self.scene.figures:
            px, py = self.scene.figures[self.camera.following].point(self.at)
            self.camera.look_at((px + 0.5) * self.renderer.tile, (py + 0.5) * self.renderer.tile)

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
        hud.draw_top(self.screen, hud.Status(clock, self.source.mode, self.playing, _pace(self.speed),
                                             self.figures.line()))
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
            action = KEYMAP.get(event.key)
            if action is not None:
                action(self)
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

    # The keys' actions (`KEYMAP` says which key does which).

    def back(self) -> None:
        """Esc: close the help, else the inspector, else the window."""
        if self.show_help:
            self.show_help = False
        elif self.selected:
            self.select(None)
            self.chat.close()
        else:
            self.running = False

    def open_chat(self) -> None:
        if self.selected:
            self.source.hold()  # a replay keeps the moment asked about; a live run goes on
            self.chat.open()

    def toggle_help(self) -> None:
        self.show_help = not self.show_help

    def play_pause(self) -> None:
        self.playing = not self.playing

    def step(self) -> None:
        """One game minute on, while paused."""
        if not self.playing:
            self.source.step(60 / self.tick_seconds)

    def next_resident(self) -> None:
        names = sorted(self.scene.figures)
        if names:
            self.select(names[(names.index(self.selected) + 1) % len(names)] if self.selected in names else names[0])

    def follow(self) -> None:
        if self.selected:
            self.camera.following = None if self.camera.following == self.selected else self.selected

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
                stem = f"{self.source.mode}-{stamp}"
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


#: What each key does (the help overlay lists them: `hud.KEYS`). Arrows and WASD held pan the map
#: (`Viewer.update`); typing in the chat takes the keys first (`ChatBox.handle`).
KEYMAP: dict[int, Callable[[Viewer[Any]], object]] = {
    pygame.K_ESCAPE: Viewer.back,
    pygame.K_RETURN: Viewer.open_chat,
    pygame.K_KP_ENTER: Viewer.open_chat,
    pygame.K_h: Viewer.toggle_help,
    pygame.K_F1: Viewer.toggle_help,
    pygame.K_SPACE: Viewer.play_pause,
    pygame.K_PERIOD: Viewer.step,
    pygame.K_RIGHT: Viewer.step,
    pygame.K_PLUS: lambda v: v.pace(v.speed_index + 1),
    pygame.K_EQUALS: lambda v: v.pace(v.speed_index + 1),  # "+" without shift
    pygame.K_KP_PLUS: lambda v: v.pace(v.speed_index + 1),
    pygame.K_MINUS: lambda v: v.pace(v.speed_index - 1),
    pygame.K_KP_MINUS: lambda v: v.pace(v.speed_index - 1),
    pygame.K_RIGHTBRACKET: lambda v: v.camera.zoom_by(1),
    pygame.K_LEFTBRACKET: lambda v: v.camera.zoom_by(-1),
    pygame.K_HOME: lambda v: v.go_to(v.source.first),
    pygame.K_END: lambda v: v.go_to(v.source.last),
    pygame.K_TAB: Viewer.next_resident,
    pygame.K_f: Viewer.follow,
    pygame.K_F12: Viewer.screenshot,
    pygame.K_p: Viewer.screenshot,
}


def _step_of(speed: float | None) -> int:
    """The ladder's step nearest `speed` (None: the step past the top, as fast as it goes)."""
    if speed is None:
        return len(SPEEDS)
    return min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - speed))


def _pace(speed: float | None) -> str:
    return "as fast as it goes" if speed is None else f"{speed:g} game min/s"


def _hm(clock: Clock, tick: int) -> str:
    return clock.time(tick).strftime("%a %H:%M")


def headless() -> None:
    """Draw without a display (tests, benchmarks, screenshots on a server)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
