"""Planning thoughts: the day plan at waking, the preparation of each block before it starts, and the
re-plan when something calls for it.

Owns the order of the planning calls and where actions happen. Top-down and lazy, as in Park et al.
2023: a day plan of broad chunks (from the persona, yesterday and what the resident remembers about
today), an hourly schedule, and the 5-15 minute actions of one block only, prepared while the previous
block runs. A block's place is an arena among those the resident knows, named outright by the activity
("work at Hobbs Cafe") or chosen by the model from the known places; each action's object is the arena's
object nearest to the action in embedding space ("brew coffee" -> the coffee machine). That keeps a
block at two calls at most (and one when the place is named or was chosen before for the same activity).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from smallville.agents.prompts import place, planning
from smallville.agents.prompts.common import clean_text, clock, shorten
from smallville.agents.prompts.planning import Schedule, Span
from smallville.agents.results import BlockResult, DayResult, ReplanResult
from smallville.agents.state import ResidentMind, place_label, spans_of
from smallville.agents.think import Context, Trace, ask, recall
from smallville.inference.base import InferenceError
from smallville.world.residents import Resident
from smallville.world.town import Arena

log = logging.getLogger(__name__)
_ASLEEP = ("sleep", "go to bed", "nap")
#: Activities done at home unless they name another place (no call needed to place them).
_AT_HOME = ("wake up", "get ready", "shower", "wind down", "get dressed", "bedtime", "at home")


@dataclass(frozen=True)
class BlockInput:
    """A snapshot of what preparing a block needs (taken when the thought starts)."""

    resident: Resident
    block: Span
    before: str
    after: str
    here: str  # arena address where the resident is now ('' outdoors)
    known: tuple[str, ...]
    memo: dict[str, str]
    version: int
    steps_memo: dict[str, list[list[Any]]]


def block_input(plan: PlanInput, schedule: Schedule, index: int) -> BlockInput:
    spans = schedule.spans
    return BlockInput(plan.resident, spans[index], spans[index - 1].activity if index else "",
                      spans[index + 1].activity if index + 1 < len(spans) else "", plan.here, plan.known,
                      plan.memo, plan.version, plan.steps_memo)


@dataclass(frozen=True)
class PlanInput:
    """A snapshot of a resident's planning state, taken when a planning thought starts (the mind changes
    while the thought runs; the stream does not, see `smallville.agents.state`)."""

    mind: ResidentMind
    resident: Resident
    day_plan: Schedule | None
    yesterday: str
    here: str
    known: tuple[str, ...]
    memo: dict[str, str]
    version: int
    steps_memo: dict[str, list[list[Any]]]


def snapshot(mind: ResidentMind, here: str) -> PlanInput:
    return PlanInput(mind, mind.resident, mind.day_plan, mind.yesterday, here, tuple(mind.known),
                     dict(mind.place_memo), mind.version, dict(mind.steps_memo))


def steps_key(block: Span) -> str:
    """Blocks of the same activity and length on one day (a shift cut into two-hour blocks) are split
    into the same steps: the decomposition is asked once."""
    return f"{block.minutes}|{block.activity.lower()}"


def _named(activity: str, known: tuple[str, ...]) -> str | None:
    """The known arena an activity names: by its sector's name (the arena too when several are known
    there), or the resident's home when it says 'home'. None when it names no known place."""
    text = activity.lower()
    in_sector: dict[str, list[str]] = {}
    for address in known:
        parts = address.split(":")
        if len(parts) >= 3 and len(parts[1]) > 3 and parts[1].lower() in text:
            in_sector.setdefault(parts[1], []).append(address)
    if not in_sector:
        return None
    sector = max(in_sector, key=len)  # the longest name mentioned wins ('Oak Hill College' over 'Oak Hill')
    arenas = in_sector[sector]
    return next((a for a in arenas if a.split(":")[2].lower() in text), arenas[0])


async def choose_place(ctx: Context, trace: Trace, inp: BlockInput) -> tuple[str, bool]:
    """(arena address, whether it was a fresh model choice the memo should keep)."""
    r, activity = inp.resident, inp.block.activity
    home = ctx.town.arena(*r.home).address
    if any(w in activity.lower() for w in _ASLEEP):
        return home, False
    key = activity.lower()
    if key in inp.memo and inp.memo[key] in inp.known:
        return inp.memo[key], False
    named = _named(activity, inp.known)
    if named:
        return named, False
    if "home" in activity.lower().split() or any(w in activity.lower() for w in _AT_HOME):
        return home, False
    labels = {place_label(a): a for a in inp.known}
    options = list(labels)
    if (only := place.only_option(options)) is not None:
        return labels[only], False
    preferred = [place_label(a) for a in (inp.here, home) if a in inp.known]
    if ctx.settings.place_by == "embedding":
        return labels[await _nearest_label(ctx, trace, r.name, activity, options, preferred)], True
    got = await ask(ctx, trace, r.name, place.PLACE,
                    place.render("arena", r.name, activity, options, within="town",
                                 here=place_label(inp.here) if inp.here else ""),
                    place.answer_model(options), lambda a: place.check(a, options, "arena"),
                    lambda: place.fallback(options, preferred, "arena"))
    return labels[got.choice], True


async def _nearest_label(ctx: Context, trace: Trace, who: str, activity: str, options: list[str],
                         preferred: list[str]) -> str:
    """The option whose "sector: arena" label is nearest the activity by embedding (ties: the first
    listed); when the embedder fails, the place step's default (a fallback)."""
    number = trace.calls
    try:
        vectors = await ctx.embedder.embed([activity, *options])
    except InferenceError as exc:
        log.info("choosing a place for %s failed: %s", who, exc)
        trace.fallback(who, place.PLACE.name, number)
        return place.fallback(options, preferred, "arena", reason="embedder failed").choice
    return options[int(np.argmax(vectors[1:] @ vectors[0]))]


async def choose_objects(ctx: Context, trace: Trace, arena: Arena, actions: list[str], *,
                         bed: bool = False, who: str = "") -> list[str]:
    """Each action's object in the arena: the nearest by embedding (ties: the first listed); the arena
    itself when it has no objects, or when the embedder fails (a fallback)."""
    if not arena.objects:
        return [arena.address] * len(actions)
    if bed:
        beds = [o for o in arena.objects if o.kind == "bed"]
        if beds:
            return [beds[0].address] * len(actions)
    kinds = list(dict.fromkeys(o.kind for o in arena.objects))
    number = trace.calls
    try:
        vectors = await ctx.embedder.embed([*kinds, *actions])
    except InferenceError as exc:
        log.info("choosing objects in %s failed: %s", arena.address, exc)
        trace.fallback(who, "objects", number)
        return [arena.address] * len(actions)
    objects, wanted = vectors[: len(kinds)], vectors[len(kinds):]
    best = np.argmax(wanted @ objects.T, axis=1)
    by_kind = {o.kind: o.address for o in reversed(arena.objects)}
    return [by_kind[kinds[int(i)]] for i in best]


async def prepare_block(ctx: Context, trace: Trace, inp: BlockInput) -> BlockResult:
    """The block's actions with their places: decomposition (skipped for short blocks and sleep) and the
    place choice run concurrently."""
    r, block = inp.resident, inp.block
    asleep = any(w in block.activity.lower() for w in _ASLEEP)

    async def actions() -> Schedule:
        if block.minutes <= 15 or asleep:
            return Schedule((block,))
        if (fixed := planning.fixed_steps(block, ctx.settings.choices)) is not None:
            return fixed
        if (again := inp.steps_memo.get(steps_key(block))) is not None:
            return Schedule(tuple(Span(block.start + int(off), int(n), str(a)) for off, n, a in again))
        p = planning.decompose(r, block, inp.before, inp.after, ctx.settings.choices)
        return await ask(ctx, trace, r.name, p.step, p.messages, p.answer, p.check, p.fallback)

    steps, (address, fresh) = await asyncio.gather(actions(), choose_place(ctx, trace, inp))
    arena = ctx.town.lookup(address)
    assert isinstance(arena, Arena)
    objects = await choose_objects(ctx, trace, arena, [s.activity for s in steps.spans], bed=asleep, who=r.name)
    return BlockResult((block.start, block.minutes, block.activity), inp.version,
                       [(s.start, s.minutes, s.activity, obj) for s, obj in zip(steps.spans, objects, strict=True)],
                       (block.activity.lower(), address) if fresh else None,
                       (steps_key(block), [(s.start - block.start, s.minutes, s.activity) for s in steps.spans]))


def day_label(ctx: Context, day0: int) -> str:
    return ctx.clock.time(day0).strftime("%A %B %-d")


async def plan_day(ctx: Context, trace: Trace, inp: PlanInput, day0: int) -> DayResult:
    """Day plan, hourly schedule and the first block, for the day whose midnight is `day0`."""
    r = inp.resident
    label = day_label(ctx, day0)
    hits = await recall(ctx, trace, inp.mind, f"{r.name}'s plans, promises and events for {label}", "daily_plan", k=5,
                        kinds=("chat", "thought"))
    notes = [h.memory.description for h in hits]
    p = planning.daily(r, label, inp.yesterday, notes, ctx.settings.choices)
    daily = await ask(ctx, trace, r.name, p.step, p.messages, p.answer, p.check, p.fallback)
    h = planning.hourly(r, daily, choices=ctx.settings.choices)
    hourly = await ask(ctx, trace, r.name, h.step, h.messages, h.answer, h.check, h.fallback)
    first = await prepare_block(ctx, trace, block_input(inp, hourly, 0))
    return DayResult(day0, label, spans_of(daily), spans_of(hourly), first, notes)


async def replan(ctx: Context, trace: Trace, inp: PlanInput, start: int, reason: str) -> ReplanResult:
    """The rest of today re-planned from day minute `start` because of `reason`, and its first block."""
    r, plan = inp.resident, inp.day_plan
    if plan is None or start >= r.bed_minute - 15:
        return ReplanResult([], None, reason)
    h = planning.hourly(r, plan, start, reason, ctx.settings.choices)
    hourly = await ask(ctx, trace, r.name, h.step, h.messages, h.answer, h.check, h.fallback)
    first = await prepare_block(ctx, trace, block_input(inp, hourly, 0))
    return ReplanResult(spans_of(hourly), first, shorten(reason, 200))


def summary_of(schedule: Schedule | None) -> str:
    """Yesterday in one line, for the next day plan."""
    if schedule is None:
        return ""
    return clean_text("; ".join(f"{clock(s.start)} {s.activity}" for s in schedule.spans), 200)
