"""Planning, top-down and lazy (Park et al. 2023): the daily plan, the hourly schedule, and the 5-15 minute
actions of the one block that starts now.

Owns the three prompts, their answer models, their checks and their defaults. The checks turn an answer
into a `Schedule`: spans with integer day minutes that start at the given start, follow each other without
gap or overlap and end exactly at the given end (bedtime for a day; the block's end for a decomposition).
Day minutes count from the waking day's midnight, so a 00:30 bedtime is 24*60+30.

Re-planning after a reaction is the hourly step again with `start` = now and the reason in `event`.

Prompt sizes (words * 1.3): daily plan ~130-190 tokens in, answer <= ~200; hourly ~130-200 in (the plan is
in it), answer <= ~300 for 12 blocks; decomposition ~90-120 in, answer <= ~250 for 12 actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, Field

from smallville.agents.prompts.common import (
    AnswerRejected,
    Clock,
    Step,
    bounded_text,
    clean_text,
    clock,
    count_fallback,
    day_minute,
    has_words,
    persona,
    shorten,
)
from smallville.inference.base import Message
from smallville.world.residents import Resident

DAILY = Step("daily_plan", max_tokens=320)
HOURLY = Step("hourly_schedule", max_tokens=400)
DECOMPOSE = Step("decompose", max_tokens=300)

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


def render_daily(resident: Resident, day: str, yesterday: str = "", notes: Sequence[str] = ()) -> list[Message]:
    """`day` e.g. 'Tuesday February 14'; `yesterday` a one-line summary; `notes` a few retrieved memories
    that bear on today (an invitation, a promise) - at most 5 are used."""
    user = [f"Today is {day}. {_hours(resident)}"]
    if yesterday:
        user.append(f"Yesterday: {shorten(yesterday, 200)}")
    if notes:
        user.append("Keep in mind: " + "; ".join(shorten(n, 120) for n in notes[:5]))
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


# -- hourly schedule ------------------------------------------------------------------------------------


class HourBlock(BaseModel):
    start: Clock
    minutes: BlockMinutes
    activity: bounded_text(60)  # type: ignore[valid-type]


class HourlySchedule(BaseModel):
    blocks: list[HourBlock] = Field(min_length=3, max_length=12)


def render_hourly(resident: Resident, plan: Schedule, start: int | None = None, event: str = "") -> list[Message]:
    """Break the plan into blocks of about an hour from `start` (default: waking) to bed. With `event`
    (something just perceived that calls for a reaction) this re-plans the rest of the day from now."""
    begin = resident.wake_minute if start is None else start
    user = [f"Your plan for today:\n{plan.lines()}"]
    if event:
        user.append(f"It is {clock(begin)}. Something came up: {shorten(event, 160)}. Adjust the rest of today.")
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
            blocks.append(HourBlock(start=clock(at), minutes=_block_minutes(length),  # type: ignore[arg-type]
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


def render_decompose(resident: Resident, block: Span, before: str = "", after: str = "") -> list[Message]:
    """Split the block that starts now into 5-15 minute actions. `before`/`after`: the neighbouring
    blocks' activities, so the split leads into the next thing."""
    user = [f"From {clock(block.start)} to {clock(block.end)} you will: {block.activity}."]
    if before or after:
        user.append(f"Before: {before or '-'}. After: {after or '-'}.")
    user.append(f"List the small steps, 5 to 15 minutes each, that fill these {block.minutes} minutes.")
    return [Message("system", persona(resident)), Message("user", "\n".join(user))]


def check_decompose(answer: Actions, block: Span) -> Schedule:
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


def fallback_decompose(block: Span, reason: str = "") -> Actions:
    """The block's activity itself in 15-minute steps (the last one runs to the block's end in check)."""
    count_fallback(DECOMPOSE.name, reason or "whole block as one activity")
    text = clean_text(block.activity, 60) or "carry on"
    n = max(1, min(12, block.minutes // 15))
    return Actions(actions=[Action(action=text, minutes=15) for _ in range(n)])
