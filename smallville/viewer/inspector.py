"""The inspector: the panel beside the map about the selected resident, as of the moment shown.

Owns the panel's content and layout: the persona (age, job, traits, what occupies them), what they are
doing and where, today's plan (broad chunks, the hourly blocks, the current block's actions, the one under
way marked), the latest memories with their importance, reflections with the memories they cite, and the
people they have talked with. The content comes from `History.mind_at` and the scene; it is laid out
once per game minute shown (wrapping text is the costly part) into a tall surface the wheel scrolls.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from smallville.agents.history import History
from smallville.core.clock import Clock
from smallville.viewer.render import SELECTED, font, text, wrap
from smallville.viewer.scene import Scene
from smallville.world.residents import Resident

WIDTH = 420
BACK = (22, 24, 32)
HEAD = (255, 255, 255)
BODY = (215, 218, 228)
DIM = (150, 154, 170)
NOW = (120, 200, 255)
PAD = 12


@dataclass
class Row:
    value: str
    size: int = 17
    colour: tuple[int, int, int] = BODY
    indent: int = 0
    gap: int = 0  # extra space above


def _hm(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def _place(address: str) -> str:
    parts = address.split(":")
    return ": ".join(parts[1:3]) if len(parts) > 2 else address


def rows_for(name: str, scene: Scene, history: History, clock: Clock, persona: Resident | None) -> list[Row]:
    """The panel's lines for one resident at the scene's tick."""
    tick = scene.tick
    mind = history.mind_at(name, tick)
    figure = scene.figures.get(name)
    rows = [Row(name, 26, HEAD)]
    if persona is not None:
        rows.append(Row(f"{persona.age}, {persona.occupation}".strip(", "), 17, DIM))
        if persona.traits:
            rows.append(Row(", ".join(persona.traits), 17, DIM))
        if persona.currently:
            rows.append(Row(persona.currently, 16, BODY, gap=4))
    rows.append(Row("Now", 20, SELECTED, gap=10))
    if figure is not None:
        rows.append(Row(figure.action or "(nothing yet)", 17, HEAD))
        if figure.at:
            rows.append(Row(f"at {_place(figure.at)}", 16, DIM))
        if figure.talking_to:
            rows.append(Row(f"talking with {figure.talking_to}", 16, NOW))
    minute = clock.minute_of_day(tick)
    if mind.day_plan:
        rows.append(Row("Today", 20, SELECTED, gap=10))
        for start, minutes, activity in mind.day_plan:
            on = start <= minute < start + minutes
            rows.append(Row(f"{_hm(start)}  {activity}", 16, NOW if on else BODY))
    if mind.hourly:
        title = "Hours" + (f" (re-planned: {mind.replanned})" if mind.replanned else "")
        rows.append(Row(title, 20, SELECTED, gap=10))
        for start, minutes, activity in mind.hourly:
            if start + minutes < minute - 60:
                continue  # blocks long past: the day's shape is above
            on = start <= minute < start + minutes
            rows.append(Row(f"{_hm(start)}-{_hm(start + minutes)}  {activity}", 16, NOW if on else BODY))
    if mind.actions:
        rows.append(Row("This block", 20, SELECTED, gap=10))
        for start, minutes, activity in mind.actions:
            on = start <= minute < start + minutes
            rows.append(Row(f"{_hm(start)}  {activity} ({minutes} min)", 16, NOW if on else BODY, indent=8))
    rows.append(Row(f"Memories ({mind.memory_count})", 20, SELECTED, gap=10))
    for memory in mind.memories:
        when = clock.time(memory.t).strftime("%a %H:%M")
        rows.append(Row(f"[{memory.importance}] {memory.text}", 16, BODY))
        rows.append(Row(f"{when}, {memory.tag}", 14, DIM, indent=8))
    if mind.reflections:
        rows.append(Row("Reflections", 20, SELECTED, gap=10))
        for insight, cited in mind.reflections:
            rows.append(Row(insight.text, 16, HEAD, gap=2))
            for memory in cited[:4]:
                rows.append(Row(f"<- {memory.text}", 14, DIM, indent=12))
    if mind.talks:
        rows.append(Row("Talked with", 20, SELECTED, gap=10))
        for talk in mind.talks[:10]:
            ago = (tick - talk.last_t) * clock.tick_seconds // 60
            rows.append(Row(f"{talk.other}: {talk.times} talk{'s' if talk.times != 1 else ''}, "
                            f"last {ago} min ago", 16, BODY))
            if talk.last_line:
                rows.append(Row(talk.last_line, 14, DIM, indent=12))
    return rows


class Inspector:
    """The panel: content laid out per (resident, game minute, height), scrolled by the wheel."""

    def __init__(self, history: History, clock: Clock, personas: dict[str, Resident]):
        self.history, self.clock, self.personas = history, clock, personas
        self.scroll = 0
        self._key: tuple[object, ...] | None = None
        self._content: pygame.Surface | None = None

    def content(self, name: str, scene: Scene) -> pygame.Surface:
        key = (name, scene.tick // max(1, round(60 / self.clock.tick_seconds)))
        if key != self._key or self._content is None:
            rows = rows_for(name, scene, self.history, self.clock, self.personas.get(name))
            lines: list[tuple[pygame.Surface, int, int]] = []
            y = PAD
            for row in rows:
                y += row.gap
                for part in wrap(row.value, WIDTH - 2 * PAD - row.indent, row.size) or [""]:
                    label = text(part, row.size, row.colour, outline=False)
                    lines.append((label, PAD + row.indent, y))
                    y += font(row.size).get_linesize()
            surface = pygame.Surface((WIDTH, y + PAD))
            surface.fill(BACK)
            for label, x, top in lines:
                surface.blit(label, (x, top))
            self._key, self._content = key, surface
        return self._content

    def draw(self, surface: pygame.Surface, area: pygame.Rect, name: str, scene: Scene) -> None:
        content = self.content(name, scene)
        self.scroll = max(0, min(self.scroll, content.get_height() - area.height))
        surface.fill(BACK, area)
        surface.blit(content, area.topleft, pygame.Rect(0, self.scroll, WIDTH, area.height))
        pygame.draw.line(surface, (60, 64, 80), area.topleft, area.bottomleft, 2)

    def wheel(self, steps: int) -> None:
        self.scroll = max(0, self.scroll - steps * 40)
