"""What each kind of thought starts from, as JSON-safe data, and the one way a thought is started.

Owns the inputs of the six thought kinds (day, block, rate, reflect, talk, replan). A thought's input is
a snapshot taken when it starts; it is written as JSON-safe data into the thought's job and the coroutine
is always built from that data, the first time and any time after. So a thought that a stop cancelled
(its grace ran out) is kept in the checkpoint as its input and starts again on resume exactly as it
started the first time: same snapshot, same call seeds (they come from the tick it started at), so the
same answers from a recording. The streams a thought reads are not in the input: they are frozen while
it runs (`readers`, see `smallville.agents.state`), so the mind it names holds the same memories after a
resume as when it started.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import Any

from smallville.agents import converse, planner
from smallville.agents.prompts.planning import Span
from smallville.agents.reflect import reflect
from smallville.agents.state import NewMemory, ResidentMind, schedule_of, spans_of
from smallville.agents.think import Context, Trace, rate_thought

Input = dict[str, Any]
Result = Coroutine[Any, Any, dict[str, Any]]


def plan_input(p: planner.PlanInput) -> Input:
    return {"who": p.resident.name, "day_plan": spans_of(p.day_plan), "yesterday": p.yesterday, "here": p.here,
            "known": list(p.known), "memo": dict(p.memo), "version": p.version,
            "steps_memo": {k: [list(s) for s in v] for k, v in p.steps_memo.items()}}


def _plan(d: Input, minds: Mapping[str, ResidentMind]) -> planner.PlanInput:
    mind = minds[d["who"]]
    return planner.PlanInput(mind, mind.resident, schedule_of(d["day_plan"]), str(d["yesterday"]), str(d["here"]),
                             tuple(d["known"]), dict(d["memo"]), int(d["version"]), dict(d["steps_memo"]))


def block_input(b: planner.BlockInput) -> Input:
    return {"who": b.resident.name, "block": [b.block.start, b.block.minutes, b.block.activity], "before": b.before,
            "after": b.after, "here": b.here, "known": list(b.known), "memo": dict(b.memo), "version": b.version,
            "steps_memo": {k: [list(s) for s in v] for k, v in b.steps_memo.items()}}


def _block(d: Input, minds: Mapping[str, ResidentMind]) -> planner.BlockInput:
    start, minutes, activity = d["block"]
    return planner.BlockInput(minds[d["who"]].resident, Span(int(start), int(minutes), str(activity)),
                              str(d["before"]), str(d["after"]), str(d["here"]), tuple(d["known"]), dict(d["memo"]),
                              int(d["version"]), dict(d["steps_memo"]))


def meeting_input(m: converse.Meeting) -> Input:
    return {"first": m.first.name, "second": m.second.name, "first_doing": m.first_doing,
            "second_doing": m.second_doing, "where": m.where, "minute": m.minute}


def _meeting(d: Input, minds: Mapping[str, ResidentMind]) -> converse.Meeting:
    return converse.Meeting(minds[d["first"]], minds[d["second"]], str(d["first_doing"]), str(d["second_doing"]),
                            str(d["where"]), int(d["minute"]))


def rate_input(items: list[NewMemory], known: dict[str, int]) -> Input:
    return {"items": [i.to_dict() for i in items], "known": dict(known)}


def start(ctx: Context, trace: Trace, kind: str, who: str, inp: Input,
          minds: Mapping[str, ResidentMind]) -> Result:
    """The coroutine of a `kind` thought for `who` from its input (see the module docstring)."""
    if kind == "rate":
        items = [NewMemory.from_dict(i) for i in inp["items"]]
        return rate_thought(ctx, trace, who, items, {str(k): int(v) for k, v in inp["known"].items()})
    if kind == "day":
        return planner.plan_day(ctx, trace, _plan(inp["plan"], minds), int(inp["day0"]))
    if kind == "block":
        return planner.prepare_block(ctx, trace, _block(inp["block"], minds))
    if kind == "reflect":
        return reflect(ctx, trace, minds[who])
    if kind == "talk":
        return converse.converse(ctx, trace, _meeting(inp["meeting"], minds))
    if kind == "replan":
        return planner.replan(ctx, trace, _plan(inp["plan"], minds), int(inp["start"]), str(inp["reason"]))
    raise ValueError(f"unknown thought kind {kind!r}")
