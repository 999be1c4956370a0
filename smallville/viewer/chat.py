"""The in-game chat with the selected resident: what the user types, what was said, who is thinking.

Owns the chat box at the foot of the inspector: typing (pygame's text input, so any keyboard layout and
pasted unicode work), the two modes (interview: answers from the resident's memories, nothing changes;
inner voice: a thought planted in a live resident, which may change what it does), the conversation per
resident, and answers that arrive later from `Askers` (shown as "thinking..." until then). What the user
types is cleaned as it arrives (`clean_typed`: one line of at most `MAX_INPUT` characters, nothing pygame
cannot draw, no chat-template token), so the box never holds or draws what the model must not read; the
interview cleans the question again for any other caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import pygame

from smallville.agents.interview import clean_question
from smallville.agents.prompts.common import clean_typed
from smallville.viewer.render import SELECTED, font, text, wrap

log = logging.getLogger(__name__)

MAX_INPUT = 2000
HEIGHT = 250
BACK = (30, 33, 44)
YOU = (255, 235, 160)
THEM = (215, 235, 255)
NOTE = (150, 154, 170)


@dataclass
class Line:
    who: str  # "you", the resident's name, or "" for a note
    value: str
    pending: Future | None = None  # an answer still being thought


@dataclass
class ChatBox:
    """`interview(name, tick, question) -> Future` asks; `plant(name, text)` (live runs only) plants."""

    interview: Callable[[str, int, str], Future]
    plant: Callable[[str, str], None] | None = None
    active: bool = False
    mode: str = "interview"
    typed: str = ""
    lines: dict[str, list[Line]] = field(default_factory=dict)

    def open(self) -> None:
        self.active = True
        pygame.key.start_text_input()

    def close(self) -> None:
        self.active = False
        pygame.key.stop_text_input()

    def toggle_mode(self, name: str) -> None:
        if self.plant is None:
            self._note(name, "inner voice needs a live run: a replay never changes what happened")
            return
        self.mode = "inner voice" if self.mode == "interview" else "interview"

    def handle(self, event: pygame.event.Event, name: str, tick: int) -> bool:
        """Take a key or text event while the box is open; True if it was the chat's."""
        if event.type == pygame.TEXTINPUT:
            self.take(event.text)
            return True
        if event.type != pygame.KEYDOWN:
            return False
        if event.key == pygame.K_ESCAPE:
            self.close()
        elif event.key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            self.send(name, tick)
        elif event.key == pygame.K_BACKSPACE:
            self.typed = self.typed[:-1]
        elif event.key == pygame.K_TAB:
            self.toggle_mode(name)
        return True

    def take(self, value: str) -> None:
        """Typed or pasted text, added to the line. The whole line is cleaned again, not just the new part:
        a template token typed in two halves is whole only now."""
        self.typed = clean_typed(self.typed + str(value), MAX_INPUT)

    def send(self, name: str, tick: int) -> None:
        said, self.typed = clean_typed(self.typed, MAX_INPUT), ""  # `typed` may have been set, not typed
        try:
            clean_question(said)  # nothing but spaces and control characters: not sent, no model started
        except ValueError:
            if said:
                self._note(name, "not sent: nothing but spaces and control characters")
            return
        lines = self.lines.setdefault(name, [])
        lines.append(Line("you", said))
        if self.mode == "inner voice" and self.plant is not None:
            try:
                self.plant(name, said)
            except (KeyError, RuntimeError, ValueError) as exc:  # a routine run, no such resident, no text
                self._note(name, f"not heard: {exc}")
                return
            self._note(name, f"{name.split()[0]} will think this before the next tick")
            return
        try:
            lines.append(Line(name, "", self.interview(name, tick, said)))
        except Exception as exc:  # the thread or loop that asks is gone: say so, keep the window
            log.warning("interview not asked: %s", exc)
            self._note(name, f"not asked: {type(exc).__name__}: {exc}")

    def _note(self, name: str, value: str) -> None:
        # notes quote exceptions, which may quote what was typed or answered: cleaned like them
        self.lines.setdefault(name, []).append(Line("", clean_typed(value, MAX_INPUT)))

    def settle(self) -> None:
        """Take the answers that have arrived."""
        for lines in self.lines.values():
            for line in lines:
                if line.pending is not None and line.pending.done():
                    try:
                        # cleaned to draw (the interview cleans its answers; another asker might not)
                        line.value = clean_typed(line.pending.result().answer, MAX_INPUT)
                    except ValueError as exc:  # an empty question, after cleaning
                        line.who, line.value = "", clean_typed(f"not asked: {exc}", MAX_INPUT)
                    except Exception as exc:  # the model is gone: say so, keep the window
                        line.who, line.value = "", clean_typed(f"no answer: {type(exc).__name__}: {exc}", MAX_INPUT)
                    line.pending = None

    def busy(self) -> bool:
        return any(line.pending is not None for lines in self.lines.values() for line in lines)

    def draw(self, surface: pygame.Surface, area: pygame.Rect, name: str, as_of: str) -> None:
        surface.fill(BACK, area)
        pygame.draw.line(surface, (60, 64, 80), area.topleft, area.topright, 2)
        width = area.width - 20
        title = f"Chat ({self.mode}, as of {as_of})" if self.active else "Enter: chat with " + name.split()[0]
        surface.blit(text(title, 18, SELECTED, outline=False), (area.left + 10, area.top + 6))
        size = 16
        step = font(size).get_linesize()
        rows: list[tuple[str, tuple[int, int, int]]] = []
        for line in self.lines.get(name, [])[-12:]:
            if line.who == "you":
                label, colour = f"You: {line.value}", YOU
            elif line.who:
                label, colour = f"{line.who.split()[0]}: {line.value or 'thinking...'}", THEM
            else:
                label, colour = line.value, NOTE
            rows.extend((part, colour) for part in wrap(label[:600], width, size))
        input_h = step + 10 if self.active else 0
        room = max(0, (area.height - 30 - input_h) // step)
        y = area.top + 28
        for part, colour in rows[-room:] if room else []:
            try:
                surface.blit(text(part, size, colour, outline=False), (area.left + 10, y))
            except pygame.error as exc:  # a cut through a long word can leave a row of nothing but a mark
                log.debug("chat row not drawn: %s", exc)
            y += step
        if self.active:
            box = pygame.Rect(area.left + 6, area.bottom - input_h, area.width - 12, input_h - 4)
            pygame.draw.rect(surface, (250, 250, 245), box, border_radius=4)
            shown = self.typed[-200:]
            while shown and font(size).size(shown + "|")[0] > box.width - 10:
                shown = shown[1:]  # the end of a long line stays in view
            surface.blit(text(shown + "|", size, (20, 20, 30), outline=False), (box.left + 5, box.top + 3))
