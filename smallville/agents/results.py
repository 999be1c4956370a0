"""What each kind of thought answers: one typed, JSON-safe result per kind.

Owns the results of the eight thought kinds (day, block, rate, reflect, talk, digest, replan, react) as
msgspec structs tagged by their kind, the counterpart of the inputs in `smallville.agents.thoughts`. A thought
returns its struct; the apply step (`smallville.agents.apply`) dispatches on the struct's type; a checkpoint keeps a
settled thought's result as `to_builtins(result)`: the fields of the plain dicts that thoughts returned
before these structs existed, plus the `kind` tag. So a checkpoint written before (no tag; the job beside
it names the kind) decodes with `decode` into the same struct.
"""

from __future__ import annotations

from typing import Any

import msgspec

from smallville.agents.state import NewMemory

SpanRow = tuple[int, int, str]  # (start minute, minutes, activity)
StepRow = tuple[int, int, str, str]  # (start minute, minutes, action, address)


class Result(msgspec.Struct, tag_field="kind"):
    """A thought's answer: what the apply step needs to change the resident's mind and the town."""


class BlockResult(Result, tag="block"):
    """A block's 5-15 minute actions with their places, for the schedule `version` it was prepared for."""

    block: SpanRow
    version: int
    steps: list[StepRow]
    # (activity, arena) when the place was a fresh choice worth remembering; (steps key, steps as offsets
    # into the block) to split the same block alike today. Both absent from results saved before they existed.
    memo: tuple[str, str] | None = None
    steps_memo: tuple[str, list[SpanRow]] | None = None
    # What each step's object shows while used (aligned with `steps`; '' where the step is at an arena or
    # the state is the action), the (object kind|action, state) pairs newly asked, for the memo, and each
    # step's spare object (another of the arena, next nearest the action: used when the first is full).
    states: list[str] = []
    states_memo: list[tuple[str, str]] = []
    spares: list[str] = []


class DayResult(Result, tag="day"):
    """A day plan, its hourly schedule and the first block, for the day whose midnight is `day0`."""

    day0: int
    label: str
    daily: list[SpanRow]
    hourly: list[SpanRow]
    first: BlockResult
    notes: list[str] = []  # what the resident remembered about the day (shown to the model; kept for reading)
    status: str = ""  # the morning's revised `currently` ('' when not revised)
    agenda: list[str] = []  # what the resident had agreed to do that day, as shown to the model


class ReplanResult(Result, tag="replan"):
    """The rest of today's schedule re-planned and its first block; empty when too late in the day."""

    hourly: list[SpanRow]
    first: BlockResult | None
    reason: str


class RateResult(Result, tag="rate"):
    """New memories with their importance and vectors, ready to be stored."""

    items: list[NewMemory]


class ReflectResult(Result, tag="reflect"):
    questions: list[str]
    insights: list[tuple[str, list[int]]]  # (insight, ids of the memories it rests on)
    # the insights as memories, rated and embedded (absent from results saved before: then they are rated)
    items: list[NewMemory] = []


class ReactResult(Result, tag="react"):
    """Whether the resident reacts to something it saw, and what it does instead (a re-plan from now)."""

    observation: str
    react: str  # yes | no
    what: str


class TalkResult(Result, tag="talk"):
    """Whether the one who noticed the other spoke up, why, and the lines: (speaker, text, ended it)."""

    react: str
    reason: str
    lines: list[tuple[str, str, bool]]


class DigestResult(Result, tag="digest"):
    """What one side took from a talk just held (`smallville.agents.converse.digest`): the paper's memo
    ("what to remember") and planning thought ("what to do about it"), and the three memories to store,
    rated and embedded: the transcript, then the memo and the plan, each citing the transcript.

    The planner's hook: `plan` is what the resident means to do and `when` whether that changes today
    ("today"), a later day ("another day") or nothing ("no change"); the apply step asks for a re-plan of
    today on "today" (`Replan`, its reason the plan) and the plan is kept as a `planning` thought that a
    later day's planning recalls."""

    other: str
    memo: str
    plan: str
    when: str  # today | another day | no change
    importance: int
    items: list[NewMemory]  # transcript, memo, plan: stored together, in this order


BY_KIND: dict[str, type[Result]] = {t.__struct_config__.tag: t  # type: ignore[misc]  # tags are str here
                                    for t in (DayResult, BlockResult, RateResult, ReflectResult, TalkResult,
                                              DigestResult, ReplanResult, ReactResult)}


def decode(kind: str, raw: dict[str, Any]) -> Result:
    """A stored result as its struct: today's shape (tagged) or the untagged dict a checkpoint written
    before the structs holds. ValueError, in one line, when it is neither."""
    try:
        return msgspec.convert(raw, BY_KIND[kind])
    except KeyError:
        raise ValueError(f"unknown thought kind {kind!r}") from None
    except msgspec.ValidationError as exc:
        raise ValueError(f"a {kind} thought's stored result does not fit: {exc}") from None
