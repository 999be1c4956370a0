"""Dealing with others: whether to react to what one perceives, one turn of a conversation, what one
takes from a talk, and an interview answer.

Owns the four prompts, their answer models, their checks and their defaults:
- react: yes/no and a short reason; the default is to keep to the plan (a resident never stops for a
  failed call);
- conversation turn: an utterance and whether the speaker ends the talk. Either speaker can end it; the
  check also ends it at the turn limit (the original code's 8 rounds = 16 utterances) and rejects empty
  or parroted lines (a small model's way to loop), whose default is a polite goodbye;
- digest (after a talk, for each side): the paper's memo ("what to remember": who, what, when, where, in
  the resident's own words) and planning thought ("what to do about it", and whether that is today, another
  day or nothing), with how much the talk matters (1-10, so the talk is rated in the same call); the
  default keeps the other's most telling line as the memo and changes nothing;
- interview: a free answer grounded in the memories listed and, for the people the question names, what
  the persona says of them (the paper's interviews; they do not change memory, which is the caller's
  business), with the earlier turns of the same interview.

Memories are shown through `common.fit_memories` within each prompt's token budget (`*_MEMORY_TOKENS`),
fitted to what the prompt is about: a long one keeps its sentences nearest that, never just its head.

Closed choices (`common.Choices`, the embedded model's profile): a turn first picks what the line is
about, among the memories shown (and how the other's day is going), then says it in plain words (a
sentence of 3-24 words of plain ASCII: `common.plain_words`). A 135M model that has just written
"about": "Sam Moore is running for mayor" tends to say something about it; and the pattern leaves no room
for URL fragments, code or runs of letters that are no word.

Closed digest: the memo is one of the talk's lines, picked (said in the speaker's words, so its point is
whole), the plan a sentence of plain words.

Prompt sizes: react ~90-190 tokens in (<= 5 memories in 150 tokens), answer <= ~30; turn ~120-330 in (<= 5
memories in 200 tokens, the last 6 lines), answer <= ~60; digest ~120-650 in (the whole talk), answer <=
~110; interview ~100-600 in (<= 10 memories in 360 tokens, 3 earlier turns), answer <= ~90.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from smallville.agents.prompts.common import (
    AnswerRejected,
    Choices,
    Prompt,
    Score,
    Step,
    bounded_text,
    clean_text,
    clock,
    count_fallback,
    fit_memories,
    gist,
    has_words,
    numbered,
    one_of,
    persona,
    plain_words,
    shorten,
    telling,
)
from smallville.inference.base import Message
from smallville.world.residents import Resident

REACT = Step("react", max_tokens=64, temperature=0.3)
TURN = Step("conversation", max_tokens=96, temperature=0.8)
# Closed: the topic (~15 tokens) and a line of at most 24 words; cooler, and a nucleus that drops the tail
# of the 135M model's vocabulary where its nonsense words come from.
TURN_PLAIN = Step("conversation", max_tokens=110, temperature=0.6, top_p=0.9)
INTERVIEW = Step("interview", max_tokens=128, temperature=0.5)
DIGEST = Step("digest", max_tokens=170, temperature=0.3)
# Closed: a line picked (no penalty: it is copied from the options) and a short plain sentence.
DIGEST_PLAIN = Step("digest", max_tokens=150, temperature=0.3, frequency_penalty=0.0)

#: Token budgets of the memories each prompt shows (see `common.fit_memories`).
REACT_MEMORY_TOKENS = 150
TURN_MEMORY_TOKENS = 400
INTERVIEW_MEMORY_TOKENS = 360
#: Memories a prompt lists at most (the budget usually decides first).
MEMORIES_SHOWN = 10
#: People the interview says the persona knows, at most (those the question names).
PEOPLE_SHOWN = 24
#: Earlier turns of an interview shown with the next question.
INTERVIEW_TURNS = 3

#: Utterances in one conversation, both speakers together (original code: 8 rounds).
MAX_TURNS = 16
#: Lines of the transcript shown to the speaker (older ones are in their memories if they mattered).
TRANSCRIPT_LINES = 6


def _memories(title: str, memories: Sequence[str], limit: int, query: str, budget: int) -> list[str]:
    if not memories:
        return []
    return [f"{title}\n{numbered(fit_memories(memories[:limit], query, budget), None)}"]


# -- react or continue ----------------------------------------------------------------------------------


class Reaction(BaseModel):
    react: Literal["yes", "no"]
    reason: bounded_text(80)  # type: ignore[valid-type]


def render_react(resident: Resident, now: int, doing: str, seen: str, memories: Sequence[str] = (),
                 query: str = "", budget: int = REACT_MEMORY_TOKENS) -> list[Message]:
    """`now` a day minute; `doing` the current action; `seen` the perceived event; `memories` those
    retrieved about it, best first (<= 10, within `budget` tokens, fitted to `query`: what they were
    retrieved for, else `seen`)."""
    user = [f"It is {clock(now)}. You are {shorten(doing, 80)}.", f"You notice: {shorten(seen, 140)}.",
            *_memories("You remember:", memories, MEMORIES_SHOWN, query or seen, budget),
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
                memories: Sequence[str] = (), situation: str = "", query: str = "",
                budget: int = TURN_MEMORY_TOKENS) -> list[Message]:
    """`transcript` (speaker, line) so far (the last 6 are shown); `relation` how the speaker relates to
    `other` (persona relationships); `memories` those that come to mind, best first: about what was just
    said, what is on the speaker's mind, the other (<= 10, within `budget` tokens, fitted to `query`: what
    they were recalled for); `situation` e.g. 'at Hobbs Cafe, 08:10'."""
    user = [f"You meet {other}" + (f" ({shorten(relation, 100)})" if relation else "")
            + (f" {situation}" if situation else "") + "."]
    if not query:
        query = f"{other}. {transcript[-1][1]}" if transcript else other
    user += _memories("What comes to mind:", memories, MEMORIES_SHOWN, query, budget)
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


def _headless(memory: str) -> str:
    """A memory without the head that says where it came from ('Conversation with X at Y.', 'Klaus Mueller
    noted after talking with X:', "For Klaus Mueller's planning:"): what it is about."""
    return re.sub(r"^(Conversation with [^.]*\.|[^:]{1,60} noted after talking with [^:]*:|For [^:]{1,60}'s planning:)"
                  r"\s*", "", " ".join(memory.split()))


def _topic(memory: str) -> str:
    """A memory as a short topic: without its head (`_headless`), cut at a word within 60 characters."""
    text = clean_text(_headless(memory), 200)
    out = ""
    for w in text.split():
        if len(out) + len(w) + 1 > 60:
            break
        out = f"{out} {w}".strip()
    return out.rstrip(" ,;:.")


def turn_topics(other: str, memories: Sequence[str], query: str = "") -> tuple[str, ...]:
    """What a closed turn may be about: the memories shown (at most 5), each as its sentence nearest
    `query` (the point of a talk, not its greeting); the other's day only when there are none (offered
    beside news, small talk won most of the 135M model's picks: docs/benchmarks.md)."""
    first = other.split()[0] if other.split() else "them"
    topics = [t for t in (_topic(gist(_headless(m), query, 60)) for m in memories[:5]) if has_words(t)]
    return tuple(dict.fromkeys(topics)) or (f"how {first}'s day is going",)


def turn(resident: Resident, other: str, transcript: Sequence[tuple[str, str]], *, relation: str = "",
         memories: Sequence[str] = (), situation: str = "", max_turns: int = MAX_TURNS,
         choices: Choices = "open", query: str = "", budget: int = TURN_MEMORY_TOKENS) -> Prompt[Any, Turn]:
    """The turn's call, either way (see the module docstring)."""
    messages = render_turn(resident, other, transcript, relation=relation, memories=memories, situation=situation,
                           query=query, budget=budget)
    if choices == "closed":
        topics = turn_topics(other, memories, query or other)
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
    if _echoes(text, transcript):
        raise AnswerRejected(TURN.name, f"repeats a last line: {text!r}")
    last = len(transcript) + 1 >= max_turns
    return Turn(utterance=text, end=bool(answer.end) or last)


def _echoes(text: str, transcript: Sequence[tuple[str, str]]) -> bool:
    """Whether a line repeats, or is found in, either of the last two lines."""
    said = text.lower()
    for _, line in transcript[-2:]:
        prior = " ".join(line.lower().split())
        if said in prior or difflib.SequenceMatcher(None, said, prior).ratio() > 0.85:
            return True
    return False


def fallback_turn(other: str, transcript: Sequence[tuple[str, str]], reason: str = "",
                  topics: tuple[str, ...] | None = None) -> Turn | PlainTurn:
    """A greeting when nothing has been said, otherwise a goodbye that ends the talk (`topics`: as the
    closed turn's answer model for those topics)."""
    count_fallback(TURN.name, reason or "polite default")
    first = other.split()[0] if other.split() else "there"
    if not transcript:
        line, end = f"Hi {first}, how are you doing?", False
    else:  # a goodbye that does not echo the last lines (which may quote the usual one): it must pass the check
        byes = (f"Anyway, I should get going. Good to see you, {first}!", f"I have to run now. Take care, {first}.",
                f"Well, {first}, time for me to go. See you around!")
        line, end = next((b for b in byes if not _echoes(b, transcript)), byes[-1]), True
    if topics is not None:
        return plain_turn_model(topics)(about=topics[-1], utterance=line, end=end)
    return Turn(utterance=line, end=end)


# -- digest: what a resident takes from a talk -------------------------------------------------------------

#: A talk's line as the closed digest offers it (a closed line is at most 24 plain words: ~200 characters).
SAID_CHARS = 240
MEMO_CHARS = 280
When = Literal["today", "another day", "no change"]
WHEN: tuple[str, ...] = ("today", "another day", "no change")


class Digest(BaseModel):
    """The memo and the planning thought of one side of a talk, and how much the talk matters."""

    # room for a closed memo: '<speaker's full name> said: ' and a line of up to SAID_CHARS
    memo: bounded_text(MEMO_CHARS)  # type: ignore[valid-type]
    plan: bounded_text(160)  # type: ignore[valid-type]
    when: When
    importance: Score


class PlainDigest(BaseModel):
    """A closed digest: the line worth remembering (one of the talk's, as said), a plan in plain words."""

    model_config = ConfigDict(title="Digest")
    memo_line: str
    plan: plain_words(20, sentence=True)  # type: ignore[valid-type]
    when: When
    importance: Score


@lru_cache(maxsize=256)
def plain_digest_model(lines: tuple[str, ...]) -> type[PlainDigest]:
    return create_model("PlainDigest", __base__=PlainDigest, memo_line=(one_of(lines), ...))


def _said(lines: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """A talk's lines as the closed digest offers them: 'First: line', once each."""
    return tuple(dict.fromkeys(f"{who.split()[0] if who.split() else who}: {clean_text(line, SAID_CHARS)}"
                               for who, line in lines))


_MEMO_OPEN = ("memo: what you want to remember from this talk, in one or two sentences of your own: who said "
              "what, and every time, date and place named (write dates out, e.g. 'on February 14', not 'tomorrow')")
_MEMO_CLOSED = "memo_line: the line of the talk most worth remembering"


def render_digest(resident: Resident, other: str, lines: Sequence[tuple[str, str]], *, situation: str,
                  plans: str = "", closed: bool = False) -> list[Message]:
    """`lines` the whole talk (speaker, line), every line whole: this is where its point is kept;
    `situation` e.g. 'Monday February 13, 08:10, at Hobbs Cafe: cafe'; `plans` today's plan in a line;
    `closed`: the memo is a line picked, not written."""
    user = [f"It is {situation}. You just talked with {other}:",
            "\n".join(f"{who}: {' '.join(line.split())}" for who, line in lines)]
    if plans and not closed:  # closed: a small model's plan line is its persona's (and a sixth of the prompt)
        user.append(f"Your plans for today: {shorten(plans, 240)}")
    user.append(f"Give {_MEMO_CLOSED if closed else _MEMO_OPEN}. Then plan: what you will do about it (go "
                "somewhere at a time, tell someone, bring something), or that nothing changes; when: whether that "
                "changes your plans for today, for another day, or nothing (no change); importance: how much "
                "this talk matters to you, from 1 (small talk) to 10 (life-changing).")
    return [Message("system", persona(resident)), Message("user", "\n".join(user))]


def digest(resident: Resident, other: str, lines: Sequence[tuple[str, str]], *, situation: str, plans: str = "",
           choices: Choices = "open") -> Prompt[Any, Digest]:
    """The digest's call, either way (see the module docstring)."""
    said = _said(lines) if choices == "closed" else ()
    messages = render_digest(resident, other, lines, situation=situation, plans=plans, closed=bool(said))
    if said:
        return Prompt(DIGEST_PLAIN, messages, plain_digest_model(said), lambda d: check_digest(d, lines),
                      lambda: fallback_digest(other, lines, said=said))
    return Prompt(DIGEST, messages, Digest, lambda d: check_digest(d, lines), lambda: fallback_digest(other, lines))


def _speaker(first: str, lines: Sequence[tuple[str, str]]) -> str:
    """The full name of the speaker whose first name is `first`."""
    return next((who for who, _ in lines if who.split() and who.split()[0] == first), first)


def check_digest(answer: Digest | PlainDigest, lines: Sequence[tuple[str, str]]) -> Digest:
    """A memo with words (a closed one: '<speaker> said: <line>'); a plan with none becomes 'nothing
    changes'; the importance clamped to 1-10."""
    if isinstance(answer, PlainDigest):
        first, _, line = str(answer.memo_line).partition(": ")
        memo = f"{_speaker(first, lines)} said: {line}"
    else:
        memo = str(answer.memo)
    memo = clean_text(memo, MEMO_CHARS)
    if not has_words(memo):
        raise AnswerRejected(DIGEST.name, f"empty memo {memo!r}")
    plan = clean_text(str(answer.plan), 160)
    when = answer.when if answer.when in WHEN else "no change"
    if not has_words(plan):
        plan, when = "nothing changes", "no change"
    return Digest(memo=memo, plan=plan, when=when, importance=min(10, max(1, int(answer.importance))))


def fallback_digest(other: str, lines: Sequence[tuple[str, str]], reason: str = "",
                    said: tuple[str, ...] | None = None) -> Digest | PlainDigest:
    """The other's most telling line as the memo (what they said, whole), no change of plans, importance
    4 (the importance step's default)."""
    count_fallback(DIGEST.name, reason or "kept the most telling line")
    theirs = [(who, line) for who, line in lines if who == other] or list(lines) or [(other, "we talked")]
    who, line = max(theirs, key=lambda wl: telling(wl[1]))
    if said is not None:
        first = f"{who.split()[0] if who.split() else who}: {clean_text(line, SAID_CHARS)}"
        return plain_digest_model(said)(memo_line=first if first in said else said[0],
                                        plan="Nothing changes in my plans.", when="no change", importance=4)
    return Digest(memo=clean_text(f"{who} said: {line}", MEMO_CHARS), plan="nothing changes", when="no change",
                  importance=4)


# -- interview ------------------------------------------------------------------------------------------


class InterviewAnswer(BaseModel):
    answer: bounded_text(300)  # type: ignore[valid-type]


def render_interview(resident: Resident, question: str, memories: Sequence[str], *,
                     earlier: Sequence[tuple[str, str]] = (), people: Sequence[str] = (),
                     budget: int = INTERVIEW_MEMORY_TOKENS, among: Sequence[str] = ()) -> list[Message]:
    """`memories` those retrieved for the question, best first (<= 10, within `budget` tokens, fitted to
    it): the answer may only draw on them; `people` what the persona says of the people the question names
    ('Klaus Mueller: a regular'); `earlier` the interview's earlier (question, answer) turns (the last 3);
    `among`: the people asked about, listed to pick from (the evaluation's "Do you know of <name>?" asked of
    all of them at once: the answer is their numbers, `known_people_model`)."""
    # asked of many people at once, as many memories as people (one each, say), still within the budget
    about = f"{question} {' '.join(among)}" if among else question  # long memories keep the lines naming them
    user = [*_memories("What you remember:", memories, max(MEMORIES_SHOWN, len(among)), about, budget)]
    if people:
        user.append("People you know:\n" + "\n".join(shorten(p, 160) for p in people[:PEOPLE_SHOWN]))
    if earlier:
        user.append("Earlier in this interview:\n" + "\n".join(
            f"Q: {shorten(q, 200)}\nYou: {shorten(a, 300)}" for q, a in earlier[-INTERVIEW_TURNS:]))
    user.append(f"Someone asks you: {shorten(question, 200)}")
    if among:
        user += ["People of the town:", numbered(list(among), 60),
                 "Give the numbers of those you know of, using only what you remember; none if you know none."]
    else:
        user.append("Answer in the first person, in one to three sentences, using only what you remember. If you "
                    "do not remember anything about it, say so.")
    return [Message("system", persona(resident)), Message("user", "\n".join(user))]


class KnownPeople(BaseModel):
    known: list[int]


@lru_cache(maxsize=64)
def known_people_model(n: int) -> type[KnownPeople]:
    """The numbers (1..n) of the people listed whom the resident knows of, each at most once."""
    return create_model("KnownPeople", __base__=KnownPeople,
                        known=(list[Annotated[int, Field(ge=1, le=n)]], Field(max_length=n)))


def check_known(answer: KnownPeople, n: int) -> set[int]:
    picked = {int(i) for i in answer.known}
    if any(not 1 <= i <= n for i in picked):
        raise AnswerRejected(INTERVIEW.name, f"numbers out of range: {sorted(picked)}")
    return picked


def fallback_known(n: int, reason: str = "") -> KnownPeople:
    count_fallback(INTERVIEW.name, reason or "knows no one")
    return known_people_model(n)(known=[])


def check_interview(answer: InterviewAnswer) -> InterviewAnswer:
    text = clean_text(answer.answer, 300)
    if not has_words(text):
        raise AnswerRejected(INTERVIEW.name, f"empty answer {answer.answer!r}")
    return InterviewAnswer(answer=text)


def fallback_interview(reason: str = "") -> InterviewAnswer:
    count_fallback(INTERVIEW.name, reason or "does not know")
    return InterviewAnswer(answer="I am not sure. Nothing comes to mind about that.")
