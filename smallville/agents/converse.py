"""Conversations: whether one resident starts talking to another they meet, the talk itself, and what
each side takes from it.

Owns the conversation thought and the digest thought. The one who notices the other decides (the react
step, grounded in what they remember about the other); on a yes the two take turns, each line written from
the speaker's memories (what the last line brings to mind, what occupies them, what they recall of the
other) and the last lines of the dialogue, until either ends it or the turn limit is reached.

Then each side digests the talk (a thought of its own, started when the talk is applied): Park et al.'s
memo ("what to remember": who, what, when, where, in its own words) and planning thought ("what to do about
it"), in one call that also rates how much the talk matters. The transcript, the memo and the plan are
stored together, rated and embedded, minutes after the talk (not when a batch of ratings comes due): the
memo and the plan cite the transcript as their evidence. A prompt that recalls the talk later shows its
memo (`MemoryStream.shown`), which keeps the point that a cut transcript lost; that is how news travels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from smallville.agents.memory import TALK_MEMO, TALK_PLAN, Kind
from smallville.agents.perceive import doing
from smallville.agents.prompts import social
from smallville.agents.prompts.common import clock, shorten
from smallville.agents.results import DigestResult, TalkResult
from smallville.agents.state import NewMemory, ResidentMind, place_label
from smallville.agents.think import Context, Trace, ask, recall
from smallville.inference.base import InferenceError
from smallville.world.residents import Resident

log = logging.getLogger(__name__)

#: A transcript is kept whole up to this many characters (10 lines of at most 200 and their names).
TRANSCRIPT_CHARS = 2400


@dataclass(frozen=True)
class Meeting:
    """The situation when one resident notices another (a snapshot for the thought)."""

    first: ResidentMind
    second: ResidentMind
    first_doing: str
    second_doing: str
    where: str  # arena address ('' outdoors)
    minute: int  # day minute


def _relation(mind: ResidentMind, other: str) -> str:
    return mind.resident.relationships.get(other, "")


def _budget(ctx: Context, own: int) -> int:
    """A prompt's memory budget: its own, within the run's cap on any prompt (`prompt_tokens`)."""
    return min(own, ctx.settings.prompt_tokens)


async def converse(ctx: Context, trace: Trace, m: Meeting) -> TalkResult:
    """Whether the first spoke up and why, and the lines (none on a no)."""
    a, b = m.first, m.second
    s = ctx.settings
    seen = doing(b.name, m.second_doing) if m.second_doing else f"{b.name} is here"
    about_b = f"{b.name}. {_relation(a, b.name)}"
    remembered = await recall(ctx, trace, a, about_b, "react", k=s.retrieve_react)
    decision = await ask(ctx, trace, a.name, social.REACT,
                         social.render_react(a.resident, m.minute, m.first_doing or "going about your day",
                                             seen + ". You could start a conversation",
                                             a.stream.shown(h.memory for h in remembered), query=about_b,
                                             budget=_budget(ctx, social.REACT_MEMORY_TOKENS)),
                         social.Reaction, social.check_react, social.fallback_react)
    result = TalkResult(decision.react, decision.reason, [])
    if decision.react != "yes":
        return result
    situation = f"at {place_label(m.where)}, {clock(m.minute)}" if m.where else f"outside, {clock(m.minute)}"
    transcript: list[tuple[str, str]] = []
    speakers = (a, b)
    max_turns = s.talk_turns
    context: dict[str, list[str]] = {}
    for turn in range(max_turns):
        speaker, listener = speakers[turn % 2], speakers[(turn + 1) % 2]
        if speaker.name not in context:
            # Once per talk: what occupies the speaker these days (plans, news, what others told them: what
            # people bring up when they meet, and how news travels), then what they recall of the other.
            own = await recall(ctx, trace, speaker, f"What {speaker.name} is planning, looking forward to or has "
                                                    f"just heard", "conversation", k=2, kinds=("thought", "chat"))
            other = await recall(ctx, trace, speaker, f"{listener.name}. {_relation(speaker, listener.name)}",
                                 "conversation", k=s.retrieve_talk_context)
            context[speaker.name] = speaker.stream.shown([*(h.memory for h in own), *(h.memory for h in other)])
        last = transcript[-1][1] if transcript else ""
        # What comes to mind: what was just said (and the other person), best first; then the talk's context.
        query = f"{listener.name}. {shorten(last, 200) if last else _relation(speaker, listener.name)}"
        now = speaker.stream.shown(h.memory for h in await recall(ctx, trace, speaker, query, "conversation",
                                                                  k=s.retrieve_talk))
        on_mind = context[speaker.name]
        memories = list(dict.fromkeys([*now[:3], *on_mind[:2], *now[3:], *on_mind[2:]]))
        p = social.turn(speaker.resident, listener.name, transcript, relation=_relation(speaker, listener.name),
                        memories=memories, situation=situation, max_turns=max_turns, choices=s.choices,
                        query=query, budget=_budget(ctx, social.TURN_MEMORY_TOKENS))
        line = await ask(ctx, trace, speaker.name, p.step, p.messages, p.answer, p.check, p.fallback, n=turn)
        transcript.append((speaker.name, line.utterance))
        result.lines.append((speaker.name, line.utterance, bool(line.end)))
        if line.end:
            break
    return result


def transcript_memory(me: str, other: str, lines: Sequence[tuple[str, str, bool]], where: str) -> str:
    """The chat memory one side keeps: who, where, and the lines, whole (prompts show its memo, or fit it)."""
    said = " / ".join(f"{'I' if who == me else who.split()[0]}: {text}" for who, text, _ in lines)
    place = f" at {place_label(where)}" if where else ""
    return shorten(f"Conversation with {other}{place}. {said}", TRANSCRIPT_CHARS)


# -- what each side takes from a talk ------------------------------------------------------------------------


@dataclass(frozen=True)
class Talked:
    """One side of a talk just held, for its digest (a snapshot; JSON-safe through `thoughts.talked_input`)."""

    me: str
    other: str
    lines: tuple[tuple[str, str, bool], ...]  # (speaker, line, ended it)
    where: str  # arena address ('' outdoors)
    situation: str  # 'Monday February 13, 08:10, at Hobbs Cafe: cafe'
    plans: str  # today's plan in one line ('' when none)
    created: int  # the talk's tick: when its memories are dated


def memo_memory(me: str, other: str, memo: str) -> str:
    """The memo thought as stored (the paper's form: the resident's name, then what to remember)."""
    return f"{me} noted after talking with {other}: {memo}"


def plan_memory(me: str, plan: str) -> str:
    """The planning thought as stored, in the paper's form: 'For Klaus Mueller's planning: ...'."""
    return f"For {me}'s planning: {plan}"


async def digest(ctx: Context, trace: Trace, resident: Resident, talked: Talked) -> DigestResult:
    """The memo, the plan and the talk's importance (one call), and the three memories to store (the
    transcript, the memo and the plan, embedded together), for `resident`'s side of the talk."""
    lines = [(who, text) for who, text, _ in talked.lines]
    p = social.digest(resident, talked.other, lines, situation=talked.situation, plans=talked.plans,
                      choices=ctx.settings.choices)
    got = await ask(ctx, trace, resident.name, p.step, p.messages, p.answer, p.check, p.fallback)
    texts = [transcript_memory(talked.me, talked.other, talked.lines, talked.where),
             memo_memory(talked.me, talked.other, got.memo), plan_memory(talked.me, got.plan)]
    number = trace.calls
    try:
        vectors = await ctx.embedder.embed(texts)
    except InferenceError as exc:  # stored without vectors: found by importance and recency only
        log.info("embedding the talk of %s with %s failed: %s", resident.name, talked.other, exc)
        trace.fallback(resident.name, "embed", number)
        vectors = np.zeros((len(texts), ctx.dim), dtype=np.float32)
    importance = int(got.importance)
    # the memo and the plan cite the transcript stored just before them (its id is known only when stored)
    kinds: tuple[tuple[Kind, str, tuple[int, ...]], ...] = (
        ("chat", "conversation", ()), ("thought", TALK_MEMO, (-1,)), ("thought", TALK_PLAN, (-2,)))
    items = [NewMemory(text, kind, tag, talked.created, talked.other, evidence, importance,
                       [float(x) for x in vectors[i]])
             for i, (text, (kind, tag, evidence)) in enumerate(zip(texts, kinds, strict=True))]
    return DigestResult(talked.other, got.memo, got.plan, got.when, importance, items)
