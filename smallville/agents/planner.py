"""Planning thoughts: the day plan at waking, the preparation of each block before it starts, the re-plan
when something calls for it, and the decision to react to something seen.

Owns the order of the planning calls and where actions happen. Top-down and lazy, as in Park et al.
2023. Each morning the resident recalls its plans for the day and the important recent events (the
paper's two focal points, `retrieve_plan` memories each), revises its status from them (the paper's new
"currently", with what happened yesterday: one call, `revise_currently`), and plans the day in broad chunks
from that status, yesterday, what it remembers and what it agreed to do today (`smallville.agents.agenda`);
then an hourly schedule, and the 5-15 minute actions of one block only, prepared while the previous block
runs. A block's place is an arena among those the resident knows, named outright by the activity ("work at
Hobbs Cafe") or chosen by the model from the known places; each action's object is the arena's object
nearest to the action in embedding space ("brew coffee" -> the coffee machine), and what the object shows
while used is asked for the whole block in one call (`object_states`; the town remembers it per object kind
and action). That keeps a block at three calls at most.

A re-plan keeps what was agreed for later today at its time. The decision to react (an important sight,
started by the scheduler) recalls what the resident knows about it and answers yes or no; a yes is a
re-plan from now, which the apply step asks for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from smallville.agents import agenda
from smallville.agents.prompts import place, planning
from smallville.agents.prompts.common import clean_text, clock, fit_memories, gist, shorten
from smallville.agents.prompts.planning import Agreed, Schedule, Span
from smallville.agents.results import BlockResult, DayResult, ReactResult, ReplanResult
from smallville.agents.state import ResidentMind, place_label, spans_of
from smallville.agents.think import Context, Trace, ask, recall, shown_memories
from smallville.inference.base import InferenceError
from smallville.world.residents import Resident
from smallville.world.town import Arena, GameObject

log = logging.getLogger(__name__)
_ASLEEP = ("sleep", "go to bed", "nap")
#: Activities done at home unless they name another place (no call needed to place them).
_AT_HOME = ("wake up", "get ready", "shower", "wind down", "get dressed", "bedtime", "at home")
#: Tokens of memories the day plan's "Keep in mind" and the decision to react show at most.
NOTES_TOKENS = 160
REACT_TOKENS = 400


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
    state_memo: dict[str, str] = field(default_factory=dict)  # "object kind|action" -> what it shows (the town's)


def block_input(plan: PlanInput, schedule: Schedule, index: int) -> BlockInput:
    spans = schedule.spans
    return BlockInput(plan.resident, spans[index], spans[index - 1].activity if index else "",
                      spans[index + 1].activity if index + 1 < len(spans) else "", plan.here, plan.known,
                      plan.memo, plan.version, plan.steps_memo, plan.state_memo)


@dataclass(frozen=True)
class PlanInput:
    """A snapshot of a resident's planning state, taken when a planning thought starts (the mind changes
    while the thought runs; the stream does not, see `smallville.agents.state`)."""

    mind: ResidentMind
    resident: Resident
    day_plan: Schedule | None
    yesterday: str  # yesterday's plan in a line: kept in the input's JSON, no longer shown (see plan_day)
    here: str
    known: tuple[str, ...]
    memo: dict[str, str]
    version: int
    steps_memo: dict[str, list[list[Any]]]
    agenda: tuple[tuple[int | None, str], ...] = ()  # what was agreed for the day planned: (minute, what)
    state_memo: dict[str, str] = field(default_factory=dict)


def snapshot(mind: ResidentMind, here: str, agreed: Sequence[agenda.Commitment] = (),
             states: dict[str, str] | None = None) -> PlanInput:
    """`agreed`: what the resident's intentions put on the day planned (`agenda.for_day`); `states`: what
    the objects of the places it knows show for the uses seen before (the town's memo, `Applier.states_for`);
    both read when the thought starts."""
    return PlanInput(mind, mind.resident, mind.day_plan, mind.yesterday, here, tuple(mind.known),
                     dict(mind.place_memo), mind.version, dict(mind.steps_memo),
                     tuple((c.minute, c.text) for c in agreed), dict(states or {}))


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
                         bed: bool = False, who: str = "") -> list[tuple[str, str]]:
    """Each action's object in the arena, the nearest by embedding (ties: the first listed), and the next
    nearest of another kind as its spare (used when the first is full; '' when there is none); the arena
    itself when it has no objects, or when the embedder fails (a fallback)."""
    if not arena.objects:
        return [(arena.address, "")] * len(actions)
    if bed:
        beds = [o for o in arena.objects if o.kind == "bed"]
        if beds:
            return [(beds[0].address, "")] * len(actions)
    kinds = list(dict.fromkeys(o.kind for o in arena.objects))
    number = trace.calls
    try:
        vectors = await ctx.embedder.embed([*kinds, *actions])
    except InferenceError as exc:
        log.info("choosing objects in %s failed: %s", arena.address, exc)
        trace.fallback(who, "objects", number)
        return [(arena.address, "")] * len(actions)
    objects, wanted = vectors[: len(kinds)], vectors[len(kinds):]
    # best first, ties by the order listed (a stable sort of the negated similarities)
    ranked = np.argsort(-(wanted @ objects.T), axis=1, kind="stable")
    by_kind = {o.kind: o.address for o in reversed(arena.objects)}
    return [(by_kind[kinds[int(row[0])]], by_kind[kinds[int(row[1])]] if len(kinds) > 1 else "") for row in ranked]


async def prepare_block(ctx: Context, trace: Trace, inp: BlockInput) -> BlockResult:
    """The block's actions with their places: decomposition (skipped for short blocks, sleep, and where
    `decompose` is off) and the place choice run concurrently."""
    r, block = inp.resident, inp.block
    asleep = any(w in block.activity.lower() for w in _ASLEEP)

    async def actions() -> Schedule:
        if block.minutes <= 15 or asleep:
            return Schedule((block,))
        if (fixed := planning.fixed_steps(block, ctx.settings.choices)) is not None:
            return fixed
        if not ctx.settings.decompose:
            return Schedule((block,))
        if (again := inp.steps_memo.get(steps_key(block))) is not None:
            return Schedule(tuple(Span(block.start + int(off), int(n), str(a)) for off, n, a in again))
        p = planning.decompose(r, block, inp.before, inp.after, ctx.settings.choices)
        return await ask(ctx, trace, r.name, p.step, p.messages, p.answer, p.check, p.fallback)

    steps, (address, fresh) = await asyncio.gather(actions(), choose_place(ctx, trace, inp))
    arena = ctx.town.lookup(address)
    assert isinstance(arena, Arena)
    chosen = await choose_objects(ctx, trace, arena, [s.activity for s in steps.spans], bed=asleep, who=r.name)
    objects = [obj for obj, _ in chosen]
    states, asked = ([""] * len(objects), []) if asleep else await object_states(
        ctx, trace, inp, [s.activity for s in steps.spans], objects)
    return BlockResult((block.start, block.minutes, block.activity), inp.version,
                       [(s.start, s.minutes, s.activity, obj) for s, obj in zip(steps.spans, objects, strict=True)],
                       (block.activity.lower(), address) if fresh else None,
                       (steps_key(block), [(s.start - block.start, s.minutes, s.activity) for s in steps.spans]),
                       states, asked, [spare for _, spare in chosen])


def state_key(kind: str, action: str) -> str:
    return f"{kind}|{action.lower()}"


async def object_states(ctx: Context, trace: Trace, inp: BlockInput, actions: list[str], addresses: list[str]
                        ) -> tuple[list[str], list[tuple[str, str]]]:
    """What each action's object shows while used ('' for an action at an arena): a fixed phrase
    (`object_states = "fixed"`), or the model's words, asked in one call for the uses nobody in town has
    asked before (the town's memo keeps them by object kind and action: a shower shows the same whoever
    showers). Also the (key, state) pairs newly asked."""
    things = [thing if isinstance(thing := ctx.town.lookup(a), GameObject) else None for a in addresses]
    if ctx.settings.object_states == "fixed":
        return [place.IN_USE if t is not None else "" for t in things], []
    keys = [state_key(t.kind, a) if t is not None else "" for t, a in zip(things, actions, strict=True)]
    ask_for = list(dict.fromkeys((k, a, t.kind) for k, a, t in zip(keys, actions, things, strict=True)
                                 if t is not None and k not in inp.state_memo))
    known = dict(inp.state_memo)
    asked: list[tuple[str, str]] = []
    if ask_for:
        uses = [(a, kind) for _, a, kind in ask_for]
        got = await ask(ctx, trace, inp.resident.name, place.states_step(len(uses)),
                        place.render_object_states(inp.resident.name, uses), place.states_model(len(uses)),
                        lambda a: place.check_object_states(a, uses), lambda: place.fallback_object_states(uses))
        asked = [(k, str(state)) for (k, _, _), state in zip(ask_for, got.states, strict=True)]
        known.update(asked)
    return [known.get(k, "") for k in keys], asked


def day_label(ctx: Context, day0: int) -> str:
    return ctx.clock.time(day0).strftime("%A %B %-d")


async def plan_day(ctx: Context, trace: Trace, inp: PlanInput, day0: int) -> DayResult:
    """The morning (status, day plan, hourly schedule) and the first block, for the day whose midnight is
    `day0`."""
    r, s, mind = inp.resident, ctx.settings, inp.mind
    label = day_label(ctx, day0)
    # The paper's two focal points: what the resident meant to do today, and what has been happening.
    about_today = f"{r.name}'s plans, promises and events for {label}"
    plans = shown_memories(mind, [h.memory for h in await recall(
        ctx, trace, mind, about_today, "daily_plan", k=s.retrieve_plan, kinds=("chat", "thought"))])
    events = shown_memories(mind, [h.memory for h in await recall(
        ctx, trace, mind, f"Important recent events for {r.name}'s life", "daily_plan", k=s.retrieve_plan)])
    notes = [m.description for m in plans]
    since = day0 - ctx.clock.ticks_per_day  # yesterday's midnight
    happened = [m.description for m in events if m.created >= since]
    yesterday = "; ".join(gist(t, "", 90) for t in happened[:3])
    status = ""
    if s.revise_currently and (plans or events):
        seen = list(dict.fromkeys([*notes, *(m.description for m in events)]))
        shown = fit_memories(seen, about_today, s.prompt_tokens)
        got = await ask(ctx, trace, r.name, planning.STATUS, planning.render_status(r, label, shown),
                        planning.Status, planning.check_status, lambda: planning.fallback_status(r, yesterday))
        if got.currently != clean_text(r.currently, 300):
            status = got.currently
            r = r.model_copy(update={"currently": status})
            inp = replace(inp, resident=r)
        yesterday = "" if got.yesterday == "-" else got.yesterday
    agreed: Agreed = inp.agenda
    shown_notes = fit_memories(notes[:5], about_today, min(NOTES_TOKENS, s.prompt_tokens))
    p = planning.daily(r, label, yesterday, shown_notes, s.choices, agreed, status)
    daily = await ask(ctx, trace, r.name, p.step, p.messages, p.answer, p.check, p.fallback)
    h = planning.hourly(r, daily, choices=s.choices, agreed=agreed)
    hourly = await ask(ctx, trace, r.name, h.step, h.messages, h.answer, h.check, h.fallback)
    first = await prepare_block(ctx, trace, block_input(inp, hourly, 0))
    return DayResult(day0, label, spans_of(daily), spans_of(hourly), first, notes[:5], status,
                     [planning.agreed_lines([c]).splitlines()[-1][2:] for c in agreed])


async def replan(ctx: Context, trace: Trace, inp: PlanInput, start: int, reason: str) -> ReplanResult:
    """The rest of today re-planned from day minute `start` because of `reason`, and its first block. What
    was agreed for later today (and a time the reason itself names) is kept at its time."""
    r, plan = inp.resident, inp.day_plan
    if plan is None or start >= r.bed_minute - 15:
        return ReplanResult([], None, reason)
    agreed = [(m, w) for m, w in inp.agenda if m is None or m > start]  # untimed ones each their own
    when = agenda.due_today(reason, ctx.clock, trace.tick)
    if when.days in (0, None) and when.minute is not None and start < when.minute < r.bed_minute \
            and all(m != when.minute for m, _ in agreed):
        agreed.append((when.minute, agenda.intention(agenda.own_words(reason))))
    h = planning.hourly(r, plan, start, reason, ctx.settings.choices,
                        sorted(agreed, key=lambda kv: (kv[0] is None, kv[0] or 0)))
    hourly = await ask(ctx, trace, r.name, h.step, h.messages, h.answer, h.check, h.fallback)
    first = await prepare_block(ctx, trace, block_input(inp, hourly, 0))
    return ReplanResult(spans_of(hourly), first, shorten(reason, 200))


async def react(ctx: Context, trace: Trace, mind: ResidentMind, seen: str, doing: str, minute: int) -> ReactResult:
    """Whether the resident drops what it is `doing` for what it has `seen` (an important sight), from what
    it remembers about it, and what it does instead."""
    s = ctx.settings
    recalled = shown_memories(mind, [h.memory for h in await recall(ctx, trace, mind, seen, "reaction",
                                                                    k=s.retrieve_react)])
    memories = fit_memories([m.description for m in recalled], seen, min(REACT_TOKENS, s.prompt_tokens))
    got = await ask(ctx, trace, mind.name, planning.REACTION,
                    planning.render_reaction(mind.resident, minute, doing, seen, memories), planning.ReactDecision,
                    lambda a: planning.check_reaction(a, seen), planning.fallback_reaction)
    return ReactResult(seen, got.react, got.what)


def summary_of(schedule: Schedule | None) -> str:
    """A schedule in one line (today's plans, for a talk's digest). No longer the next day plan's
    "yesterday": that is what happened, from the morning's retrieval."""
    if schedule is None:
        return ""
    return clean_text("; ".join(f"{clock(s.start)} {s.activity}" for s in schedule.spans), 200)
