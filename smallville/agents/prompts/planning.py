"""Planning, top-down and lazy (Park et al. 2023): the daily plan, the hourly schedule, and the 5-15 minute
actions of the one block that starts now.

Owns the three prompts, their answer models, their checks and their defaults. The checks turn an answer
into a `Schedule`: spans with integer day minutes that start at the given start, follow each other without
gap or overlap and end exactly at the given end (bedtime for a day; the block's end for a decomposition).
Day minutes count from the waking day's midnight, so a 00:30 bedtime is 24*60+30.

Re-planning after a reaction is the hourly step again with `start` = now and the reason in `event`.

What the resident has agreed to do today (`agreed`: (day minute or None, what), read by
`smallville.agents.agenda` from its own intentions) is shown to the day plan and the hourly schedule, to be
kept at its time; closed, it is offered first at its time. The morning's status (the paper's revised
"currently", `status`) and the decision to react to something seen (`reaction`) are here too.

Two ways to ask for the day plan and the hourly schedule (`choices`, see `common.Choices`):
- `open`: the model writes times and activities (a capable model plans freely; the check sorts, clips and
  tiles what it wrote);
- `closed`: the times are fixed from the persona's wake, work and bed hours (`routine.day_slots`; the
  hourly blocks cut the day plan's parts into blocks of at most two hours) and for each time the model
  picks one of a few activities that fit it (`routine.options_at`), as a JSON-schema enum: a
  grammar-constrained model cannot write anything else, so every plan is in order, awake and made of
  the resident's own activities. `daily(...)`, `hourly(...)` and `decompose(...)` hand back the prompt
  for either way (`Prompt`: step, messages, answer model, check, fallback).

Prompt sizes (words * 1.3): daily plan ~130-190 tokens in, answer <= ~200; hourly ~130-200 in (the plan is
in it), answer <= ~300 for 12 blocks; decomposition ~90-120 in, answer <= ~250 for 12 actions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from smallville.agents.prompts import routine
from smallville.agents.prompts.common import (
    AnswerRejected,
    Choices,
    Clock,
    Prompt,
    Step,
    bounded_text,
    clean_text,
    clock,
    closest,
    count_fallback,
    day_minute,
    has_words,
    numbered,
    one_of,
    persona,
    plain_words,
    shorten,
)
from smallville.inference.base import Message
from smallville.world.residents import Resident

DAILY = Step("daily_plan", max_tokens=320)
HOURLY = Step("hourly_schedule", max_tokens=400)
DECOMPOSE = Step("decompose", max_tokens=300)
STATUS = Step("status", max_tokens=220, temperature=0.5)
REACTION = Step("reaction", max_tokens=72, temperature=0.3)
# Closed: a pick per time is ~10-20 tokens. A low temperature keeps the pick to what the prompt makes
# likely (a 135M model's second choice is often the odd one), no penalty (the options share words).
DAILY_CHOICE = Step("daily_plan", max_tokens=220, temperature=0.3, frequency_penalty=0.0)
HOURLY_CHOICE = Step("hourly_schedule", max_tokens=260, temperature=0.3, frequency_penalty=0.0)
DECOMPOSE_PLAIN = Step("decompose", max_tokens=200, temperature=0.5)
#: Options listed for one time of the day plan (a known place today's notes name may come on top).
DAILY_OPTIONS = 5
#: Options listed for one hourly block (the plan's own activity first).
HOURLY_OPTIONS = 4
#: The longest hourly block of a closed schedule, in minutes.
HOURLY_BLOCK = 120


BlockMinutes = Literal[30, 60, 90, 120, 180, 240]
ActionMinutes = Literal[5, 10, 15, 20, 30]


@dataclass(frozen=True)
class Span:
    start: int  # day minute
    minutes: int
    activity: str

    @property
    def end(self) -> int:
        return self.start + self.minutes

    def line(self) -> str:
        return f"{clock(self.start)}-{clock(self.end)} {self.activity}"


@dataclass(frozen=True)
class Schedule:
    """Checked spans: in order, contiguous, from `spans[0].start` to `spans[-1].end`."""

    spans: tuple[Span, ...]

    def at(self, minute: int) -> Span | None:
        return next((s for s in self.spans if s.start <= minute < s.end), None)

    def lines(self) -> str:
        return "\n".join(s.line() for s in self.spans)


def _tile(starts: list[tuple[int, str]], begin: int, end: int) -> tuple[Span, ...]:
    """Sorted (start, activity) pairs inside [begin, end) -> contiguous spans from begin to end."""
    spans = []
    for i, (start, activity) in enumerate(starts):
        stop = starts[i + 1][0] if i + 1 < len(starts) else end
        spans.append(Span(start, stop - start, activity))
    assert spans and spans[0].start == begin and spans[-1].end == end
    return tuple(spans)


def _day(resident: Resident) -> tuple[int, int]:
    return resident.wake_minute, resident.bed_minute


def _hours(resident: Resident) -> str:
    line = f"You wake at {resident.wake} and go to bed at {resident.bed}."
    if resident.work_hours and resident.workplace:
        line += f" You work {resident.work_hours[0]}-{resident.work_hours[1]} at {resident.workplace[0]}."
    return line


# -- daily plan -----------------------------------------------------------------------------------------


class PlanChunk(BaseModel):
    start: Clock
    activity: bounded_text(80)  # type: ignore[valid-type]


class DayPlan(BaseModel):
    chunks: list[PlanChunk] = Field(min_length=5, max_length=8)


Agreed = Sequence[tuple[int | None, str]]  # what the resident agreed to do today: (day minute or None, what)


def agreed_lines(agreed: Agreed, max_chars: int = 140) -> str:
    """'Agreed for today...' and one '- 17:00 what' line each ('' when nothing is agreed)."""
    if not agreed:
        return ""
    return "Agreed for today, keep each at its time:\n" + "\n".join(
        f"- {clock(m) + ' ' if m is not None else ''}{shorten(what, max_chars)}" for m, what in agreed)


def render_daily(resident: Resident, day: str, yesterday: str = "", notes: Sequence[str] = (),
                 agreed: Agreed = (), status: str = "") -> list[Message]:
    """`day` e.g. 'Tuesday February 14'; `yesterday` what happened yesterday, in a line; `notes` a few
    retrieved memories that bear on today (an invitation, a promise), already fitted to the prompt's memory
    budget by the caller (`fit_memories`: their point kept, never cut here) - at most 5 are used; `agreed` what the
    resident agreed to do today; `status` the morning's revised status."""
    user = [f"Today is {day}. {_hours(resident)}"]
    if status:
        user.append(f"Your status today: {shorten(status, 300)}")
    if yesterday:
        user.append(f"Yesterday: {shorten(yesterday, 200)}")
    if notes:
        user.append("Keep in mind: " + "; ".join(" ".join(n.split()) for n in notes[:5]))  # fitted by the caller
    if agreed:
        user.append(agreed_lines(agreed))
    user.append("Plan today in 5 to 8 broad parts, each with its start time (HH:MM), from waking to bed.")
    return [Message("system", persona(resident, lifestyle=True)), Message("user", "\n".join(user))]


def _starts(pairs: list[tuple[str, str]], begin: int, end: int, wake: int, step: str) -> list[tuple[int, str]]:
    """Model (clock, text) pairs -> sorted unique (minute, text) inside [begin, end); unknowns dropped."""
    out: dict[int, str] = {}
    for when, text in pairs:
        minute = day_minute(when, wake)
        activity = clean_text(text, 80)
        if minute is None or not has_words(activity):
            continue
        if begin - 30 <= minute < begin:  # "06:45" for a 07:00 riser: a little early, not another time
            minute = begin
        if begin <= minute < end:
            out.setdefault(minute, activity)
    if not out:
        raise AnswerRejected(step, "no activity at a time within the day")
    return sorted(out.items())


def check_daily(answer: DayPlan, resident: Resident) -> Schedule:
    """Keep the chunks that fall between waking and bed, in time order; open the day at the wake time
    (a 'get ready' chunk when the first one starts later); each chunk runs until the next one."""
    wake, bed = _day(resident)
    starts = _starts([(c.start, c.activity) for c in answer.chunks], wake, bed, wake, DAILY.name)
    if len(starts) < 3:
        raise AnswerRejected(DAILY.name, f"only {len(starts)} usable chunk(s)")
    if starts[0][0] != wake:
        starts.insert(0, (wake, "wake up and get ready"))
    return Schedule(_tile(starts, wake, bed))


def fallback_daily(resident: Resident, reason: str = "") -> DayPlan:
    """A plain day from the resident's routine: wake, breakfast, work (or their interests), meals, evening."""
    count_fallback(DAILY.name, reason or "routine day")
    wake, bed = _day(resident)
    plan: dict[int, str] = {wake: "wake up and get ready", wake + 30: "have breakfast"}
    work = resident.work_minutes
    if work and resident.workplace:
        start, stop = work if work[1] > work[0] else (work[0], work[1] + 24 * 60)
        plan[start] = f"go to work at {resident.workplace[0]}"
        if start + 60 <= 12 * 60 and stop >= 13 * 60 + 60:
            plan[12 * 60] = "have lunch"
            plan[13 * 60] = f"back to work at {resident.workplace[0]}"
        # dinner after a late shift, free time after an early one (never dinner in the middle of work)
        plan[stop] = "have dinner" if stop >= 17 * 60 + 30 else "free time"
        if stop < 17 * 60 + 30:
            plan[18 * 60] = "have dinner"
    else:
        plan[max(wake + 90, 9 * 60)] = shorten(resident.currently, 70) if resident.currently else "own projects"
        plan[12 * 60] = "have lunch"
        plan[14 * 60] = "spend the afternoon out" if resident.haunts else "spend the afternoon at home"
        plan[18 * 60] = "have dinner"
    plan[bed - 60] = "wind down before bed"
    kept = sorted((m, a) for m, a in plan.items() if wake <= m < bed)
    # 5-8 chunks, at least 30 minutes apart: drop the later of two close ones.
    spaced: list[tuple[int, str]] = []
    for m, a in kept:
        if not spaced or m - spaced[-1][0] >= 30:
            spaced.append((m, clean_text(a, 80) or "free time"))
    while len(spaced) < 5:  # very short days: split the longest gap
        i = max(range(len(spaced)), key=lambda j: (spaced[j + 1][0] if j + 1 < len(spaced) else bed) - spaced[j][0])
        stop = spaced[i + 1][0] if i + 1 < len(spaced) else bed
        spaced.insert(i + 1, ((spaced[i][0] + stop) // 2, "rest"))
    return DayPlan(chunks=[PlanChunk(start=clock(m), activity=a) for m, a in spaced[:8]])


# -- choices (closed) -----------------------------------------------------------------------------------


class Choice(BaseModel):
    """An answer of one activity per time: fields named by clock time ("07:30"), each an enum of options."""

    model_config = ConfigDict(populate_by_name=True)


@lru_cache(maxsize=1024)
def choice_model(title: str, slots: tuple[tuple[str, tuple[str, ...]], ...]) -> type[Choice]:
    """`{"07:30": <one of its options>, ...}` in slot order, built once per slot list (shared schema)."""
    fields: dict[str, Any] = {f"at_{key.replace(':', '')}": (one_of(options), Field(alias=key))
                              for key, options in slots}
    return create_model(title, __base__=Choice, **fields)


def _picks(answer: Choice, slots: Sequence[routine.Slot], step: str) -> list[tuple[int, str]]:
    """(minute, activity) for each slot (a slot with one option is not asked: that option); an activity
    that is not among the slot's options (a replay of another prompt, a prompt-mode endpoint) is mapped to
    the nearest one or rejected."""
    got = answer.model_dump(by_alias=True)
    out = []
    for slot in slots:
        if len(slot.options) == 1:
            out.append((slot.minute, slot.options[0]))
            continue
        value = closest(str(got.get(clock(slot.minute), "")), slot.options)
        if value is None:
            raise AnswerRejected(step, f"{clock(slot.minute)}: {got.get(clock(slot.minute))!r} is not an option")
        out.append((slot.minute, value))
    return out


def _merged(starts: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Consecutive picks of the same activity are one part of the day."""
    out: list[tuple[int, str]] = []
    for minute, activity in starts:
        if not out or out[-1][1] != activity:
            out.append((minute, activity))
    return out


def _choice_lines(slots: Sequence[routine.Slot], end: int | None = None) -> str:
    """One line a slot: its time span and its options ('08:00-12:00: work at Hobbs Cafe' when fixed)."""
    lines = []
    for i, slot in enumerate(slots):
        stop = slots[i + 1].minute if i + 1 < len(slots) else end
        when = clock(slot.minute) + (f"-{clock(stop)}" if stop is not None else "")
        lines.append(f"{when}: {' | '.join(slot.options)}")
    return "\n".join(lines)


def _asked(slots: Sequence[routine.Slot]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The slots the model picks for (those with a choice), as `choice_model` keys them."""
    return tuple((clock(s.minute), s.options) for s in slots if len(s.options) > 1)


def _with_agreed(slots: Sequence[routine.Slot], resident: Resident, agreed: Agreed, begin: int,
                 end: int, keep: int) -> tuple[routine.Slot, ...]:
    """`slots` with what was agreed for a time in [begin, end) offered first at that time (a slot of its
    own when none starts there; the slot before it then ends there)."""
    out = {s.minute: s for s in slots}
    for minute, what in agreed:
        if minute is None or not begin <= minute < end:
            continue
        activity = routine.commitment_activity(what, resident)
        base = out[minute].options if minute in out else routine.options_at(resident, minute)
        out[minute] = routine.Slot(minute, tuple(dict.fromkeys([activity, *base]))[:keep])
    return tuple(out[m] for m in sorted(out))


def day_choices(resident: Resident, notes: Sequence[str] = (), agreed: Agreed = ()) -> tuple[routine.Slot, ...]:
    """The day plan's slots; a known place that today's notes name ("the party at Hobbs Cafe") is offered
    from the afternoon on, last (it is there to pick, not pushed); what was agreed for a time is offered
    first at that time."""
    slots = tuple(routine.Slot(s.minute, s.options[:DAILY_OPTIONS]) for s in routine.day_slots(resident))
    known = {s for s, _ in [*resident.knows, *resident.haunts]} - {resident.home[0]}
    named = [s for s in sorted(known) if any(s.lower() in n.lower() for n in notes[:5])]
    if named:
        slots = tuple(routine.Slot(s.minute, tuple(dict.fromkeys([*s.options, *(f"go to {p}" for p in named)])))
                      if s.minute >= 14 * 60 and routine.WIND_DOWN not in s.options else s for s in slots)
    return _with_agreed(slots, resident, agreed, resident.wake_minute + 30, resident.bed_minute - 60,
                        DAILY_OPTIONS + 1)


def render_daily_choice(resident: Resident, day: str, slots: Sequence[routine.Slot], yesterday: str = "",
                        notes: Sequence[str] = (), agreed: Agreed = ()) -> list[Message]:
    user = [f"Today is {day}. {_hours(resident)}"]
    if yesterday:
        user.append(f"Yesterday: {shorten(yesterday, 160)}")
    if notes:
        user.append("Keep in mind: " + "; ".join(" ".join(n.split()) for n in notes[:3]))  # fitted by the caller
    if agreed:
        user.append(agreed_lines(agreed, 100))
    user.append(f"At {resident.wake} you {routine.WAKE_UP}. What do you do next at each of these times? "
                "Pick one activity for each:")
    user.append(_choice_lines(slots))
    return [Message("system", persona(resident, lifestyle=True)), Message("user", "\n".join(user))]


def check_daily_choice(answer: Choice, resident: Resident, slots: Sequence[routine.Slot]) -> Schedule:
    """Waking, then each slot's pick from its time until the next (equal neighbours merged), until bed."""
    wake, bed = _day(resident)
    starts = _merged([(wake, routine.WAKE_UP), *_picks(answer, slots, DAILY.name)])
    return Schedule(_tile(starts, wake, bed))


def fallback_daily_choice(resident: Resident, slots: Sequence[routine.Slot], reason: str = "") -> Choice:
    """Each slot's first option: the persona's routine day."""
    count_fallback(DAILY.name, reason or "routine choices")
    model = choice_model("DayChoices", _asked(slots))
    return model.model_validate({key: options[0] for key, options in _asked(slots)})


def hourly_choices(resident: Resident, plan: Schedule, start: int | None = None, event: str = "",
                   agreed: Agreed = ()) -> tuple[routine.Slot, ...]:
    """The hourly blocks from `start` (default waking) to bed: each part of the plan cut into blocks of at
    most `HOURLY_BLOCK` minutes (on the half hour), each offering the part's own activity first, then what
    else fits the time (`routine.options_at`). A re-plan's first block offers what came up first; what was
    agreed for a later time today is offered first at that time."""
    begin = resident.wake_minute if start is None else start
    bed = resident.bed_minute
    slots: list[routine.Slot] = []
    for span in plan.spans:
        at, end = max(span.start, begin), min(span.end, bed)
        while at < end:
            length = end - at if end - at <= HOURLY_BLOCK + 30 else HOURLY_BLOCK
            options = (clean_text(span.activity, 60) or "free time", *routine.options_at(resident, at))
            if span.activity == routine.WAKE_UP:  # nothing else to do on waking (a 135M model picked work)
                options = (routine.WAKE_UP,)
            if at % (24 * 60) == 12 * 60 and end - at > 90 and any("lunch" in o for o in options):
                length = 60  # a lunch picked in a long part is an hour, not the whole block
            slots.append(routine.Slot(at, tuple(dict.fromkeys(options))[:HOURLY_OPTIONS]))
            at += length
    if not slots or slots[0].minute != begin:  # a start inside no part of the plan (after bedtime)
        slots.insert(0, routine.Slot(begin, routine.options_at(resident, begin)[:HOURLY_OPTIONS]))
    if event and (came := clean_text(event, 60)) and has_words(came):
        slots[0] = routine.Slot(begin, tuple(dict.fromkeys([came, *slots[0].options]))[:HOURLY_OPTIONS])
    slots = list(_with_agreed(slots, resident, [(m, w) for m, w in agreed if m is not None and m > begin],
                              begin + 1, bed, HOURLY_OPTIONS))
    fixed = {m for m, _ in agreed if m is not None}
    while len(slots) > 12:  # a very long day: the two shortest neighbours become one block (never an agreed one)
        i = min((j for j in range(len(slots) - 1) if slots[j + 1].minute not in fixed),
                key=lambda j: slots[j + 1].minute - slots[j].minute + (
                    (slots[j + 2].minute if j + 2 < len(slots) else bed) - slots[j + 1].minute), default=None)
        if i is None:
            break
        del slots[i + 1]
    return tuple(slots)


def render_hourly_choice(resident: Resident, plan: Schedule, slots: Sequence[routine.Slot],
                         event: str = "", agreed: Agreed = ()) -> list[Message]:
    begin = slots[0].minute
    user = []
    if event:
        user.append(f"It is {clock(begin)}. Something came up: {shorten(event, 160)}.")
    if agreed:
        user.append(agreed_lines(agreed, 100))
    # the plan itself is not listed: each block's first option is the plan's part (or what came up)
    user.append("Your day in blocks; the first option of each is what you planned" + (" (or what came up)" if event
                else "") + ". Pick what you do in each block:")
    user.append(_choice_lines(slots, resident.bed_minute))
    return [Message("system", persona(resident)), Message("user", "\n".join(user))]


def check_hourly_choice(answer: Choice, resident: Resident, slots: Sequence[routine.Slot]) -> Schedule:
    picks = _merged(_picks(answer, slots, HOURLY.name))
    return Schedule(_tile(picks, slots[0].minute, resident.bed_minute))


def fallback_hourly_choice(resident: Resident, slots: Sequence[routine.Slot], reason: str = "") -> Choice:
    """Each block's first option: the day plan's own activity (or, re-planning, what came up)."""
    count_fallback(HOURLY.name, reason or "plan's activities as blocks")
    model = choice_model("HourChoices", _asked(slots))
    return model.model_validate({key: options[0] for key, options in _asked(slots)})


# -- the prompts, either way ----------------------------------------------------------------------------


def daily(resident: Resident, day: str, yesterday: str = "", notes: Sequence[str] = (),
          choices: Choices = "open", agreed: Agreed = (), status: str = "") -> Prompt[Any, Schedule]:
    """The day plan's call (see the module docstring for `choices`)."""
    if choices == "closed":
        slots = day_choices(resident, notes, agreed)
        return Prompt(DAILY_CHOICE, render_daily_choice(resident, day, slots, yesterday, notes, agreed),
                      choice_model("DayChoices", _asked(slots)),
                      lambda a: check_daily_choice(a, resident, slots), lambda: fallback_daily_choice(resident, slots))
    return Prompt(DAILY, render_daily(resident, day, yesterday, notes, agreed, status), DayPlan,
                  lambda a: check_daily(a, resident), lambda: fallback_daily(resident))


def hourly(resident: Resident, plan: Schedule, start: int | None = None, event: str = "",
           choices: Choices = "open", agreed: Agreed = ()) -> Prompt[Any, Schedule]:
    """The hourly schedule's call (also the re-plan from `start` because of `event`)."""
    if choices == "closed":
        slots = hourly_choices(resident, plan, start, event, agreed)
        return Prompt(HOURLY_CHOICE, render_hourly_choice(resident, plan, slots, event, agreed),
                      choice_model("HourChoices", _asked(slots)),
                      lambda a: check_hourly_choice(a, resident, slots),
                      lambda: fallback_hourly_choice(resident, slots))
    return Prompt(HOURLY, render_hourly(resident, plan, start, event, agreed), HourlySchedule,
                  lambda a: check_hourly(a, resident, start), lambda: fallback_hourly(resident, plan, start))


#: The steps of getting up, when answers are closed: the same for everyone (asked, the 135M model split
#: "wake up and get ready" into "sleep" and "take a walk"; one call a resident every morning).
WAKE_STEPS = (("get out of bed", 5), ("wash and get dressed", 15))


def fixed_steps(block: Span, choices: Choices = "open") -> Schedule | None:
    """The block's steps without a call, where closed answers know them (waking up), else None."""
    if choices != "closed" or block.activity != routine.WAKE_UP:
        return None
    spans, at = [], block.start
    for text, minutes in WAKE_STEPS:
        length = min(minutes, block.end - at)
        if length > 0:
            spans.append(Span(at, length, text))
            at += length
    if at < block.end:  # the rest of the block: ready for the day
        spans.append(Span(at, block.end - at, "get ready for the day"))
    return Schedule(tuple(spans))


def decompose(resident: Resident, block: Span, before: str = "", after: str = "",
              choices: Choices = "open") -> Prompt[Any, Schedule]:
    """The decomposition's call; closed, each action is plain words (`PlainActions`)."""
    messages = render_decompose(resident, block, before, after)
    if choices == "closed":
        return Prompt(DECOMPOSE_PLAIN, messages, PlainActions, lambda a: check_decompose(a, block),
                      lambda: fallback_decompose(block, plain=True))
    return Prompt(DECOMPOSE, messages, Actions, lambda a: check_decompose(a, block), lambda: fallback_decompose(block))


# -- hourly schedule ------------------------------------------------------------------------------------


class HourBlock(BaseModel):
    start: Clock
    minutes: BlockMinutes
    activity: bounded_text(60)  # type: ignore[valid-type]


class HourlySchedule(BaseModel):
    blocks: list[HourBlock] = Field(min_length=3, max_length=12)


def render_hourly(resident: Resident, plan: Schedule, start: int | None = None, event: str = "",
                  agreed: Agreed = ()) -> list[Message]:
    """Break the plan into blocks of about an hour from `start` (default: waking) to bed. With `event`
    (something just perceived that calls for a reaction) this re-plans the rest of the day from now;
    `agreed`: what the resident agreed to do today, to keep at its time."""
    begin = resident.wake_minute if start is None else start
    user = [f"Your plan for today:\n{plan.lines()}"]
    if event:
        user.append(f"It is {clock(begin)}. Something came up: {shorten(event, 160)}. Adjust the rest of today.")
    if agreed:
        user.append(agreed_lines(agreed))
    user.append(f"Write up to 12 blocks of one to four hours from {clock(begin)} to {resident.bed}: start (HH:MM), "
                "minutes, and what you do.")
    return [Message("system", persona(resident)), Message("user", "\n".join(user))]


def check_hourly(answer: HourlySchedule, resident: Resident, start: int | None = None) -> Schedule:
    """Blocks tiling [start, bed) exactly. The clock times win when they are in order; when they are not
    (or unreadable) the blocks are laid end to end by their minutes. Blocks past bedtime are cut and the
    last one runs until bed."""
    wake, bed = _day(resident)
    begin = wake if start is None else start
    minutes = [day_minute(b.start, wake) for b in answer.blocks]
    usable = [(m, b) for m, b in zip(minutes, answer.blocks, strict=True) if has_words(clean_text(b.activity, 60))]
    if not usable:
        raise AnswerRejected(HOURLY.name, "no block says what to do")
    times = [m for m, _ in usable if m is not None]
    if len(times) == len(usable) and all(a < b for a, b in pairwise(times)):
        starts = _starts([(b.start, b.activity) for _, b in usable], begin, bed, wake, HOURLY.name)
    else:
        starts, at = [], begin
        for _, b in usable:
            if at >= bed:
                break
            starts.append((at, clean_text(b.activity, 60)))
            at += int(b.minutes)
    if not starts:
        raise AnswerRejected(HOURLY.name, f"nothing left between {clock(begin)} and bedtime")
    if starts[0][0] != begin:  # the first block opens the span: its clock time was a little off
        starts[0] = (begin, starts[0][1])
    return Schedule(_tile(starts, begin, bed))


def _block_minutes(m: int) -> int:
    return min((30, 60, 90, 120, 180, 240), key=lambda v: abs(v - m))


def fallback_hourly(resident: Resident, plan: Schedule, start: int | None = None, reason: str = "") -> HourlySchedule:
    """The plan's own chunks from `start`, long ones cut into blocks of at most four hours."""
    count_fallback(HOURLY.name, reason or "plan chunks as blocks")
    begin = resident.wake_minute if start is None else start
    blocks: list[HourBlock] = []
    for span in plan.spans:
        at = max(span.start, begin)
        while at < span.end and len(blocks) < 12:
            length = min(240, span.end - at)
            blocks.append(HourBlock(start=clock(at), minutes=_block_minutes(length),
                                    activity=clean_text(span.activity, 60) or "free time"))
            at += length
    while len(blocks) < 3:  # a re-plan late in the evening: pad with rest (check trims past bed)
        blocks.append(HourBlock(start=clock(resident.bed_minute), minutes=30, activity="rest"))
    return HourlySchedule(blocks=blocks)


# -- decomposition of the current block -----------------------------------------------------------------


class Action(BaseModel):
    action: bounded_text(60)  # type: ignore[valid-type]
    minutes: ActionMinutes


class Actions(BaseModel):
    actions: list[Action] = Field(min_length=1, max_length=12)


class PlainAction(BaseModel):
    action: plain_words(8)  # type: ignore[valid-type]
    minutes: ActionMinutes


class PlainActions(BaseModel):
    """`Actions` in plain words (closed choices): its title stays "Actions" for readers of the schema."""

    model_config = ConfigDict(title="Actions")
    actions: list[PlainAction] = Field(min_length=1, max_length=12)


def render_decompose(resident: Resident, block: Span, before: str = "", after: str = "") -> list[Message]:
    """Split the block that starts now into 5-15 minute actions. `before`/`after`: the neighbouring
    blocks' activities, so the split leads into the next thing."""
    user = [f"From {clock(block.start)} to {clock(block.end)} you will: {block.activity}."]
    if before or after:
        user.append(f"Before: {before or '-'}. After: {after or '-'}.")
    user.append(f"List the small steps, 5 to 15 minutes each, that fill these {block.minutes} minutes.")
    return [Message("system", persona(resident)), Message("user", "\n".join(user))]


def check_decompose(answer: Actions | PlainActions, block: Span) -> Schedule:
    """Actions laid end to end from the block's start that add up to exactly its minutes: an action that
    would run past the end is shortened and the rest dropped; when they fall short by up to 15 minutes the
    last one runs on, by more the block's own activity fills the rest."""
    at, spans = block.start, []
    for a in answer.actions:
        text = clean_text(a.action, 60)
        if not has_words(text) or at >= block.end:
            continue
        length = min(int(a.minutes), block.end - at)
        if length <= 0:
            continue
        spans.append(Span(at, length, text))
        at += length
    if not spans:
        raise AnswerRejected(DECOMPOSE.name, "no usable action")
    if block.end - at > 15:  # far short: the block's own activity fills the rest
        spans.append(Span(at, block.end - at, block.activity))
    elif at < block.end:
        last = spans[-1]
        spans[-1] = Span(last.start, block.end - last.start, last.activity)
    return Schedule(tuple(spans))


def fallback_decompose(block: Span, reason: str = "", *, plain: bool = False) -> Actions | PlainActions:
    """The block's activity itself in 15-minute steps (the last one runs to the block's end in check);
    `plain`: as `PlainActions` (the activity kept to what that pattern allows)."""
    count_fallback(DECOMPOSE.name, reason or "whole block as one activity")
    text = clean_text(block.activity, 60) or "carry on"
    n = max(1, min(12, block.minutes // 15))
    if plain:
        words = " ".join(w[:20] for w in re.sub(r"[^A-Za-z0-9,.;:!?'()&\- ]", " ", text).split()[:8])
        return PlainActions.model_validate({"actions": [{"action": words or "carry on", "minutes": 15}] * n})
    return Actions(actions=[Action(action=text, minutes=15) for _ in range(n)])


# -- the morning's status (the paper's revised "currently") ---------------------------------------------


class Status(BaseModel):
    currently: bounded_text(300)  # type: ignore[valid-type]
    yesterday: bounded_text(200)  # type: ignore[valid-type]


def render_status(resident: Resident, day: str, memories: Sequence[str]) -> list[Message]:
    """The paper's morning in one call (its plan note, thought note and new "currently"): from what the
    resident remembers about today's plans and recent events (`memories`, fitted by the caller), its
    status for `day` and what happened yesterday that matters."""
    name = resident.name
    return [Message("system", persona(resident)),
            Message("user", f"Statements from {name}'s memory:\n{numbered(memories, None)}\n"
                            f"{name}'s status until now: {shorten(resident.currently, 300) or '-'}\n"
                            f"It is now the morning of {day}. Given the statements, write {name}'s status for today "
                            f"in the third person: what occupies {name} and anything scheduled (with date, time and "
                            f"place where stated), in at most three sentences. Then, in one sentence, what happened "
                            f"to {name} yesterday that matters today.")]


def check_status(answer: Status) -> Status:
    currently, yesterday = clean_text(answer.currently, 300), clean_text(answer.yesterday, 200)
    if not has_words(currently) or len(currently.split()) < 3:
        raise AnswerRejected(STATUS.name, f"no status in {answer.currently!r}")
    return Status(currently=currently, yesterday=yesterday if has_words(yesterday) else "-")


def fallback_status(resident: Resident, yesterday: str = "", reason: str = "") -> Status:
    """The status as it was; yesterday as the caller read it from the memories (or nothing)."""
    count_fallback(STATUS.name, reason or "status unchanged")
    return Status(currently=clean_text(resident.currently, 300) or f"{resident.name} goes about the day",
                  yesterday=clean_text(yesterday, 200) or "-")


# -- reacting to what one sees --------------------------------------------------------------------------


class ReactDecision(BaseModel):
    react: Literal["yes", "no"]
    what: bounded_text(80)  # type: ignore[valid-type]


def render_reaction(resident: Resident, minute: int, doing: str, seen: str, memories: Sequence[str]) -> list[Message]:
    """Whether to drop what one does for what one just saw (Park et al.: "should X react to the
    observation, and if so, what would be an appropriate reaction?"). `memories` fitted by the caller."""
    remembered = f"What you remember about it:\n{numbered(memories, None)}\n" if memories else ""
    return [Message("system", persona(resident)),
            Message("user", f"It is {clock(minute)}. You are {shorten(doing, 80)}. "
                            f"You notice: {shorten(seen, 160)}.\n"
                            f"{remembered}Should you stop what you are doing and react to it? Answer yes or no, and "
                            f"what you would do instead (a few words; '-' for no).")]


def check_reaction(answer: ReactDecision, seen: str) -> ReactDecision:
    """A yes says what to do (else it is to see to what was seen); a no says nothing."""
    if answer.react != "yes":
        return ReactDecision(react="no", what="-")
    what = clean_text(answer.what, 80)
    return ReactDecision(react="yes", what=what if has_words(what) else clean_text(f"see to it: {seen}", 80))


def fallback_reaction(reason: str = "") -> ReactDecision:
    """Carry on (what one was doing was planned; a failed decision should not upset the day)."""
    count_fallback(REACTION.name, reason or "carry on")
    return ReactDecision(react="no", what="-")
