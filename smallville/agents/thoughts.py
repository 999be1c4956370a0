"""What each kind of thought starts from, as JSON-safe data, the one way a thought is started, and the job
that carries a thought from its start to its apply step.

Owns the inputs of the eight thought kinds (day, block, rate, reflect, talk, digest, replan, react) (their results are
`smallville.agents.results`) and `Job`, the record the scheduler (`smallville.agents.mind`) keeps of each
thought and hands to the applier (`smallville.agents.apply`) when it is due. A thought's input is
a snapshot taken when it starts; it is written as JSON-safe data into the thought's job and the coroutine
is always built from that data, the first time and any time after. So a thought that a stop cancelled
(its grace ran out) is kept in the checkpoint as its input and starts again on resume exactly as it
started the first time: same snapshot, same call seeds (they come from the tick it started at), so the
same answers from a recording. The streams a thought reads are not in the input: they are frozen while
it runs (`readers`, see `smallville.agents.state`), so the mind it names holds the same memories after a
resume as when it started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from smallville.agents import converse, planner, results
from smallville.agents.prompts.planning import Span
from smallville.agents.reflect import reflect
from smallville.agents.results import Result
from smallville.agents.state import NewMemory, ResidentMind, schedule_of, spans_of
from smallville.agents.think import Context, Trace, rate_thought
from smallville.world.residents import Resident

Input = dict[str, Any]


def _resident(d: Input, minds: Mapping[str, ResidentMind]) -> Resident:
    """The resident as the snapshot saw it: its status (`currently`) as it was then (absent from inputs
    written before the morning's status: as it is)."""
    resident = minds[d["who"]].resident
    if "currently" in d and d["currently"] != resident.currently:
        return resident.model_copy(update={"currently": str(d["currently"])})
    return resident


def plan_input(p: planner.PlanInput) -> Input:
    return {"who": p.resident.name, "day_plan": spans_of(p.day_plan), "yesterday": p.yesterday, "here": p.here,
            "known": list(p.known), "memo": dict(p.memo), "version": p.version,
            "steps_memo": {k: [list(s) for s in v] for k, v in p.steps_memo.items()},
            "agenda": [list(a) for a in p.agenda], "currently": p.resident.currently,
            "state_memo": dict(p.state_memo)}


def _plan(d: Input, minds: Mapping[str, ResidentMind]) -> planner.PlanInput:
    mind = minds[d["who"]]
    return planner.PlanInput(mind, _resident(d, minds), schedule_of(d["day_plan"]), str(d["yesterday"]),
                             str(d["here"]), tuple(d["known"]), dict(d["memo"]), int(d["version"]),
                             dict(d["steps_memo"]),
                             tuple((None if m is None else int(m), str(w)) for m, w in d.get("agenda", [])),
                             dict(d.get("state_memo", {})))


def block_input(b: planner.BlockInput) -> Input:
    return {"who": b.resident.name, "block": [b.block.start, b.block.minutes, b.block.activity], "before": b.before,
            "after": b.after, "here": b.here, "known": list(b.known), "memo": dict(b.memo), "version": b.version,
            "steps_memo": {k: [list(s) for s in v] for k, v in b.steps_memo.items()},
            "currently": b.resident.currently, "state_memo": dict(b.state_memo)}


def _block(d: Input, minds: Mapping[str, ResidentMind]) -> planner.BlockInput:
    start, minutes, activity = d["block"]
    return planner.BlockInput(_resident(d, minds), Span(int(start), int(minutes), str(activity)),
                              str(d["before"]), str(d["after"]), str(d["here"]), tuple(d["known"]), dict(d["memo"]),
                              int(d["version"]), dict(d["steps_memo"]), dict(d.get("state_memo", {})))


def meeting_input(m: converse.Meeting) -> Input:
    return {"first": m.first.name, "second": m.second.name, "first_doing": m.first_doing,
            "second_doing": m.second_doing, "where": m.where, "minute": m.minute}


def _meeting(d: Input, minds: Mapping[str, ResidentMind]) -> converse.Meeting:
    return converse.Meeting(minds[d["first"]], minds[d["second"]], str(d["first_doing"]), str(d["second_doing"]),
                            str(d["where"]), int(d["minute"]))


def talked_input(t: converse.Talked) -> Input:
    return {"me": t.me, "other": t.other, "lines": [list(line) for line in t.lines], "where": t.where,
            "situation": t.situation, "plans": t.plans, "created": t.created}


def _talked(d: Input) -> converse.Talked:
    return converse.Talked(str(d["me"]), str(d["other"]), tuple((str(w), str(x), bool(e)) for w, x, e in d["lines"]),
                           str(d["where"]), str(d["situation"]), str(d["plans"]), int(d["created"]))


def rate_input(items: list[NewMemory], known: dict[str, int]) -> Input:
    return {"items": [i.to_dict() for i in items], "known": dict(known)}


def start(ctx: Context, trace: Trace, kind: str, who: str, inp: Input,
          minds: Mapping[str, ResidentMind]) -> Coroutine[Any, Any, Result]:
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
    if kind == "digest":
        return converse.digest(ctx, trace, minds[who].resident, _talked(inp["talked"]))
    if kind == "replan":
        return planner.replan(ctx, trace, _plan(inp["plan"], minds), int(inp["start"]), str(inp["reason"]))
    if kind == "react":
        return planner.react(ctx, trace, minds[who], str(inp["seen"]), str(inp["doing"]), int(inp["minute"]))
    raise ValueError(f"unknown thought kind {kind!r}")


@dataclass
class Job:
    """One thought from its start to its apply step: its input, its trace, its task, then its result."""

    id: int
    kind: str  # day, block, rate, reflect, talk, digest, replan, react
    who: str
    readers: tuple[str, ...]  # residents whose streams the thought reads
    launched: int
    due: int
    data: dict[str, Any]  # what the apply step needs besides the result
    trace: Trace
    inp: Input  # what the thought starts from (JSON-safe): how it starts again after a cancel
    task: asyncio.Task[Result] | None = None
    result: Result | None = None

    @property
    def cancelled(self) -> bool:
        """Stopped before it answered (a stop's grace ran out): it starts again from `inp`."""
        return self.task is None and self.result is None

    def to_dict(self) -> dict[str, Any]:
        """A settled thought is kept as its result; any other (thinking, cancelled, or answered but not yet
        taken) as its input, to start again on resume as it started the first time."""
        answered = self.result is not None
        return {"id": self.id, "kind": self.kind, "who": self.who, "readers": list(self.readers),
                "launched": self.launched, "due": self.due, "data": self.data,
                "trace": (self.trace if answered else Trace(self.launched)).to_dict(),
                "result": msgspec.to_builtins(self.result) if answered else None,
                "input": None if answered else self.inp}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        """A job as `to_dict` wrote it, or as a checkpoint written before the typed results holds it (the
        result an untagged dict: `results.decode` reads both)."""
        raw, inp = d["result"], d.get("input")
        if raw is None and not isinstance(inp, dict):
            raise ValueError(f"thought {d.get('id')} ({d.get('kind')}) has neither a result nor an input")
        try:
            result = None if raw is None else results.decode(str(d["kind"]), raw)
        except ValueError as exc:
            raise ValueError(f"thought {d.get('id')} ({d.get('kind')}): {exc}") from None
        return cls(int(d["id"]), str(d["kind"]), str(d["who"]), tuple(d["readers"]), int(d["launched"]),
                   int(d["due"]), d["data"], Trace.from_dict(d["trace"]), inp or {}, None, result)
