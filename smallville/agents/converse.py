"""Conversations: whether one resident starts talking to another they meet, and the talk itself.

Owns the conversation thought. The one who notices the other decides (the react step, grounded in what
they remember about the other); on a yes the two take turns, each line written from the speaker's
memories about the other and the last lines of the dialogue, until either ends it or the turn limit is
reached. Both then remember the transcript (the apply step stores it as a chat memory on each side), which
is how news travels through the town.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from smallville.agents.perceive import doing
from smallville.agents.prompts import social
from smallville.agents.prompts.common import clock, shorten
from smallville.agents.results import TalkResult
from smallville.agents.state import ResidentMind, place_label
from smallville.agents.think import Context, Trace, ask, recall


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


async def converse(ctx: Context, trace: Trace, m: Meeting) -> TalkResult:
    """Whether the first spoke up and why, and the lines (none on a no)."""
    a, b = m.first, m.second
    seen = doing(b.name, m.second_doing) if m.second_doing else f"{b.name} is here"
    remembered = await recall(ctx, trace, a, f"{b.name}. {_relation(a, b.name)}", "react", k=5)
    decision = await ask(ctx, trace, a.name, social.REACT,
                         social.render_react(a.resident, m.minute, m.first_doing or "going about your day",
                                             seen + ". You could start a conversation",
                                             [h.memory.description for h in remembered]),
                         social.Reaction, social.check_react, social.fallback_react)
    result = TalkResult(decision.react, decision.reason, [])
    if decision.react != "yes":
        return result
    situation = f"at {place_label(m.where)}, {clock(m.minute)}" if m.where else f"outside, {clock(m.minute)}"
    transcript: list[tuple[str, str]] = []
    speakers = (a, b)
    max_turns = ctx.settings.talk_turns
    on_mind: dict[str, list[str]] = {}
    for turn in range(max_turns):
        speaker, listener = speakers[turn % 2], speakers[(turn + 1) % 2]
        if speaker.name not in on_mind:
            # What occupies the speaker these days (plans, news, what others told them): what people bring
            # up when they meet, and how news travels. Asked once per talk.
            own = await recall(ctx, trace, speaker, f"What {speaker.name} is planning, looking forward to or has "
                                                    f"just heard", "conversation", k=2, kinds=("thought", "chat"))
            on_mind[speaker.name] = [h.memory.description for h in own]
        last = transcript[-1][1] if transcript else ""
        # What comes to mind: the other person, and what they just said.
        query = f"{listener.name}. {shorten(last, 120) if last else _relation(speaker, listener.name)}"
        about = [h.memory.description for h in await recall(ctx, trace, speaker, query, "conversation", k=3)]
        memories = list(dict.fromkeys([*about, *on_mind[speaker.name]]))
        p = social.turn(speaker.resident, listener.name, transcript, relation=_relation(speaker, listener.name),
                        memories=memories, situation=situation, max_turns=max_turns, choices=ctx.settings.choices)
        line = await ask(ctx, trace, speaker.name, p.step, p.messages, p.answer, p.check, p.fallback, n=turn)
        transcript.append((speaker.name, line.utterance))
        result.lines.append((speaker.name, line.utterance, bool(line.end)))
        if line.end:
            break
    return result


def transcript_memory(me: str, other: str, lines: Sequence[tuple[str, str, bool]], where: str) -> str:
    """The chat memory one side keeps: who, where, and the lines (long talks are cut at ~900 characters)."""
    said = " / ".join(f"{'I' if who == me else who.split()[0]}: {text}" for who, text, _ in lines)
    place = f" at {place_label(where)}" if where else ""
    return shorten(f"Conversation with {other}{place}. {said}", 900)
