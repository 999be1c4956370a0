"""Dealing with others: whether to react to what one perceives, one turn of a conversation, and an
interview answer.

Owns the three prompts, their answer models, their checks and their defaults:
- react: yes/no and a short reason; the default is to keep to the plan (a resident never stops for a
  failed call);
- conversation turn: an utterance and whether the speaker ends the talk. Either speaker can end it; the
  check also ends it at the turn limit (the original code's 8 rounds = 16 utterances) and rejects empty
  or parroted lines (a small model's way to loop), whose default is a polite goodbye;
- interview: a free answer grounded in the memories listed (the paper's interviews; they do not change
  memory, which is the caller's business).

Closed choices (`common.Choices`, the embedded model's profile): a turn first picks what the line is
about, among the memories shown (and how the other's day is going), then says it in plain words (a
sentence of 3-24 words of plain ASCII: `common.plain_words`). A 135M model that has just written
"about": "Sam Moore is running for mayor" tends to say something about it; and the pattern leaves no room
for URL fragments, code or runs of letters that are no word.

Prompt sizes: react ~90-140 tokens in (<= 5 memories), answer <= ~30; turn ~120-260 in (<= 5 memories
about the other, the last 6 lines), answer <= ~60; interview ~100-250 in (<= 10 memories), answer <= ~90.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

from smallville.agents.prompts.common import (
    AnswerRejected,
    Choices,
    Prompt,
    Step,
    bounded_text,
    clean_text,
    clock,
    count_fallback,
    has_words,
    numbered,
    one_of,
    persona,
    plain_words,
    shorten,
)
from smallville.inference.base import Message
from smallville.world.residents import Resident

REACT = Step("react", max_tokens=64, temperature=0.3)
TURN = Step("conversation", max_tokens=96, temperature=0.8)
# Closed: the topic (~15 tokens) and a line of at most 24 words; cooler, and a nucleus that drops the tail
# of the 135M model's vocabulary where its nonsense words come from.
TURN_PLAIN = Step("conversation", max_tokens=110, temperature=0.6, top_p=0.9)
INTERVIEW = Step("interview", max_tokens=128, temperature=0.5)

#: Utterances in one conversation, both speakers together (original code: 8 rounds).
MAX_TURNS = 16
#: Lines of the transcript shown to the speaker (older ones are in their memories if they mattered).
TRANSCRIPT_LINES = 6


def _memories(title: str, memories: Sequence[str], limit: int) -> list[str]:
    return [f"{title}\n{numbered(memories[:limit], 140)}"] if memories else []


# -- react or continue ----------------------------------------------------------------------------------


class Reaction(BaseModel):
    react: Literal["yes", "no"]
    reason: bounded_text(80)  # type: ignore[valid-type]


def render_react(resident: Resident, now: int, doing: str, seen: str, memories: Sequence[str] = ()) -> list[Message]:
    """`now` a day minute; `doing` the current action; `seen` the perceived event; `memories` a few
    retrieved about it (<= 5 used)."""
    user = [f"It is {clock(now)}. You are {shorten(doing, 80)}.", f"You notice: {shorten(seen, 140)}.",
            *_memories("You remember:", memories, 5),
            "Should you stop what you are doing and react to this? Say yes or no, and why in a few words."]
    return [Message("system", persona(resident)), Message("user", "\n".join(user))]


def check_react(answer: Reaction) -> Reaction:
    """Yes/no is fixed by the schema; a missing reason is filled in (it is only logged)."""
    if answer.react not in ("yes", "no"):
        raise AnswerRejected(REACT.name, f"react is {answer.react!r}, not yes/no")
    reason = clean_text(str(answer.reason), 80)
    return Reaction(react=answer.react, reason=reason if has_words(reason) else "no reason given")


def fallback_react(reason: str = "") -> Reaction:
    count_fallback(REACT.name, reason or "keep to the plan")
    return Reaction(react="no", reason="keep to the plan")


# -- conversation turn ----------------------------------------------------------------------------------


class Turn(BaseModel):
    utterance: bounded_text(200)  # type: ignore[valid-type]
    end: bool


def render_turn(resident: Resident, other: str, transcript: Sequence[tuple[str, str]], *, relation: str = "",
                memories: Sequence[str] = (), situation: str = "") -> list[Message]:
    """`transcript` (speaker, line) so far (the last 6 are shown); `relation` how the speaker relates to
    `other` (persona relationships); `memories` a few retrieved about the other and what is on the speaker's
    mind (<= 5 used); `situation` e.g. 'at Hobbs Cafe, 08:10'."""
    user = [f"You meet {other}" + (f" ({shorten(relation, 100)})" if relation else "")
            + (f" {situation}" if situation else "") + "."]
    user += _memories("What comes to mind:", memories, 5)
    if transcript:
        shown = transcript[-TRANSCRIPT_LINES:]
        user.append("So far:\n" + "\n".join(f"{who}: {shorten(line, 200)}" for who, line in shown))
        user.append("Say your next line. Set end to true if you are wrapping up the conversation.")
    else:
        user.append("Start the conversation with one line. Set end to true only if you want to leave at once.")
    return [Message("system", persona(resident)), Message("user", "\n".join(user))]


class PlainTurn(BaseModel):
    """A closed turn: `about` (one of the topics offered), then the line in plain words."""

    model_config = ConfigDict(title="Turn")
    about: str
    utterance: plain_words(24, min_words=3, sentence=True)  # type: ignore[valid-type]
    end: bool


@lru_cache(maxsize=1024)
def plain_turn_model(topics: tuple[str, ...]) -> type[PlainTurn]:
    return create_model("PlainTurn", __base__=PlainTurn, about=(one_of(topics), ...))


def _topic(memory: str) -> str:
    """A memory as a short topic: a talk's memory without its 'Conversation with X at Y.' head, cut at a
    word within 60 characters."""
    text = clean_text(re.sub(r"^Conversation with [^.]*\.\s*", "", memory), 200)
    out = ""
    for w in text.split():
        if len(out) + len(w) + 1 > 60:
            break
        out = f"{out} {w}".strip()
    return out.rstrip(" ,;:.")


def turn_topics(other: str, memories: Sequence[str]) -> tuple[str, ...]:
    """What a closed turn may be about: the memories shown (at most 5); the other's day only when there
    are none (offered beside news, small talk won most of the 135M model's picks: docs/benchmarks.md)."""
    first = other.split()[0] if other.split() else "them"
    topics = [t for t in (_topic(m) for m in memories[:5]) if has_words(t)]
    return tuple(dict.fromkeys(topics)) or (f"how {first}'s day is going",)


def turn(resident: Resident, other: str, transcript: Sequence[tuple[str, str]], *, relation: str = "",
         memories: Sequence[str] = (), situation: str = "", max_turns: int = MAX_TURNS,
         choices: Choices = "open") -> Prompt[Any, Turn]:
    """The turn's call, either way (see the module docstring)."""
    messages = render_turn(resident, other, transcript, relation=relation, memories=memories, situation=situation)
    if choices == "closed":
        topics = turn_topics(other, memories)
        # no example line: a greeting example made most lines greetings (docs/benchmarks.md)
        messages[-1] = Message("user", messages[-1].content + "\nFirst pick what your line is about, then say it "
                               "in one or two short sentences.")
        return Prompt(TURN_PLAIN, messages, plain_turn_model(topics), lambda t: check_turn(t, transcript, max_turns),
                      lambda: fallback_turn(other, transcript, topics=topics))
    return Prompt(TURN, messages, Turn, lambda t: check_turn(t, transcript, max_turns),
                  lambda: fallback_turn(other, transcript))


def check_turn(answer: Turn | PlainTurn, transcript: Sequence[tuple[str, str]], max_turns: int = MAX_TURNS) -> Turn:
    """A non-empty line (without a copied 'Name:' in front) that does not repeat or echo either of the
    last two lines; the last allowed turn ends the talk."""
    text = clean_text(answer.utterance, 200)
    for who in {w for w, _ in transcript}:  # 'Klaus Mueller: ...' copied from the transcript layout
        if text.lower().startswith(who.lower() + ":"):
            text = text[len(who) + 1:].strip()
    if not has_words(text):
        raise AnswerRejected(TURN.name, f"empty utterance {answer.utterance!r}")
    said = text.lower()
    for _, line in transcript[-2:]:
        prior = " ".join(line.lower().split())
        if said in prior or difflib.SequenceMatcher(None, said, prior).ratio() > 0.85:
            raise AnswerRejected(TURN.name, f"repeats a last line: {text!r}")
    last = len(transcript) + 1 >= max_turns
    return Turn(utterance=text, end=bool(answer.end) or last)


def fallback_turn(other: str, transcript: Sequence[tuple[str, str]], reason: str = "",
                  topics: tuple[str, ...] | None = None) -> Turn | PlainTurn:
    """A greeting when nothing has been said, otherwise a goodbye that ends the talk (`topics`: as the
    closed turn's answer model for those topics)."""
    count_fallback(TURN.name, reason or "polite default")
    first = other.split()[0] if other.split() else "there"
    line, end = (f"Hi {first}, how are you doing?", False) if not transcript else (
        f"Anyway, I should get going. Good to see you, {first}!", True)
    if topics is not None:
        return plain_turn_model(topics)(about=topics[-1], utterance=line, end=end)
    return Turn(utterance=line, end=end)


# -- interview ------------------------------------------------------------------------------------------


class InterviewAnswer(BaseModel):
    answer: bounded_text(300)  # type: ignore[valid-type]


def render_interview(resident: Resident, question: str, memories: Sequence[str]) -> list[Message]:
    """`memories` those retrieved for the question (<= 10 used): the answer may only draw on them."""
    user = [*_memories("What you remember:", memories, 10),
            f"Someone asks you: {shorten(question, 200)}",
            "Answer in the first person, in one to three sentences, using only what you remember. If you do "
            "not remember anything about it, say so."]
    return [Message("system", persona(resident)), Message("user", "\n".join(user))]


def check_interview(answer: InterviewAnswer) -> InterviewAnswer:
    text = clean_text(answer.answer, 300)
    if not has_words(text):
        raise AnswerRejected(INTERVIEW.name, f"empty answer {answer.answer!r}")
    return InterviewAnswer(answer=text)


def fallback_interview(reason: str = "") -> InterviewAnswer:
    count_fallback(INTERVIEW.name, reason or "does not know")
    return InterviewAnswer(answer="I am not sure. Nothing comes to mind about that.")
