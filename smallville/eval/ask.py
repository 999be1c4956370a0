"""The evaluation's interviews: every resident asked the scenario's questions at a moment, in two calls,
each "yes" checked against what the resident really remembers.

Owns the two batched prompts and the checking of their answers:

- the news call: the fact questions together ("Do you know who is running for mayor?", "Did you know there
  is a Valentine's Day party?"), answered from the memories retrieved for each (the paper's retrieval, no
  memory marked accessed), each answer labelled yes or no in the same structured answer;
- the names call: "Do you know of <name>?" for every other resident at once: the resident picks the
  numbers of those it knows, shown whom its persona knows and what its memories say of the others.

A "yes" is *verified* when a memory the resident had by then carries the fact (`Fact.carried_by`), or,
for a name, when its persona knows the person or a memory mentions them; an unverified "yes" is counted as
hallucinated, and a yes resting only on news the resident raised itself (nobody told it) as invented. A
"no" given while a memory carries the fact is kept apart too (held, not said). Nothing is
written to any memory: the streams are rebuilt from the log for the moment and thrown away.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, Field, create_model

from smallville.agents.interview import stream_as_of
from smallville.agents.memory import MemoryStream, RetrievalWeights
from smallville.agents.prompts import Step, ask
from smallville.agents.prompts.common import AnswerRejected, bounded_text, clean_text, count_fallback, numbered, persona
from smallville.core.events import Remember
from smallville.inference.base import Embedder, InferenceError, LanguageModel, Message
from smallville.world.residents import Resident
from smallville.world.scenario import Scenario

NEWS = Step("eval_news", max_tokens=60, temperature=0.0)  # plus 90 per question (below)
NAMES = Step("eval_names", max_tokens=120, temperature=0.0)
PER_QUESTION = 5  # memories retrieved per question
SHOWN = 10  # memories in a prompt at most


class NewsAnswer(BaseModel):
    answer: bounded_text(200)  # type: ignore[valid-type]
    heard: Literal["yes", "no"]


def news_model(n: int) -> type[BaseModel]:
    """Exactly one answer per question (the grammar holds the model to the count)."""
    return create_model("NewsAnswers", answers=(list[NewsAnswer], Field(min_length=n, max_length=n)))


def names_model(n: int) -> type[BaseModel]:
    return create_model("KnownPeople", known=(list[Annotated[int, Field(ge=1, le=n)]], Field(max_length=n)))


@dataclass
class Verdict:
    """One question's answer and what the log says of it."""

    question: str
    answer: str
    said: bool  # the resident said yes
    held: bool  # a memory it had carries it
    fallback: bool = False
    own: bool = False  # it holds the fact only from what it raised itself (nobody told it)
    relabelled: bool = False  # the yes/no label contradicted an answer that begins "yes" or "no": the answer won

    @property
    def label(self) -> str:
        if self.said:
            return ("invented" if self.own else "aware") if self.held else "hallucinated"
        return "held_not_said" if self.held else "unaware"

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "said": self.said, "held": self.held,
                "label": self.label, "fallback": self.fallback, "relabelled": self.relabelled}


@dataclass
class Interviewed:
    who: str
    tick: int
    facts: dict[str, Verdict] = field(default_factory=dict)
    people: dict[str, Verdict] = field(default_factory=dict)
    memories: int = 0

    def knows(self) -> set[str]:
        """Whom it says it knows, verified."""
        return {n for n, v in self.people.items() if v.label == "aware"}

    def to_dict(self) -> dict[str, Any]:
        return {"who": self.who, "t": self.tick, "memories": self.memories,
                "facts": {k: v.to_dict() for k, v in self.facts.items()},
                "people": {k: v.to_dict() for k, v in self.people.items()}}


def stated(answer: str) -> bool | None:
    """What an answer says outright: True for one that begins "yes", False for "no" (after a copied
    "1." and punctuation), None otherwise. A small model's yes/no label sometimes contradicts its own answer;
    the answer is what the resident said, so it wins."""
    first = re.match(r"\W*(?:\d+[.)]\s*)?\W*([A-Za-z]+)", answer)
    word = first.group(1).lower() if first else ""
    return True if word in ("yes", "yeah", "yep") else False if word in ("no", "nope") else None


def mentions(text: str, name: str, first_names: dict[str, str]) -> bool:
    """Whether a text names the resident: the full name, or the first name where no one else has it."""
    if name.lower() in text.lower():
        return True
    first = first_names.get(name)
    return first is not None and bool(first) and re.search(rf"\b{re.escape(first)}\b", text) is not None


def unique_first_names(names: Sequence[str]) -> dict[str, str]:
    firsts = [n.split()[0] for n in names]
    return {n: f for n, f in zip(names, firsts, strict=True) if firsts.count(f) == 1}


async def interview_resident(lm: LanguageModel, embedder: Embedder, resident: Resident, scenario: Scenario,
                             memories: Sequence[Remember], accesses: Sequence[tuple[int, Sequence[int]]],
                             names: Sequence[str], tick: int, tick_seconds: int, weights: RetrievalWeights,
                             *, seed: int = 0) -> Interviewed:
    """Both calls for one resident as of `tick` (`memories` and `accesses` up to then, from the log)."""
    texts = [m.text for m in memories]
    vectors = await embedder.embed(texts) if texts else np.zeros((0, embedder.dim), dtype=np.float32)
    stream = stream_as_of(memories, accesses, vectors, tick_seconds)
    result = Interviewed(resident.name, tick, memories=len(memories))
    others = [n for n in names if n != resident.name]
    await _ask_news(lm, embedder, resident, scenario, stream, memories, tick, weights, seed, result)
    await _ask_names(lm, resident, scenario, others, memories, seed + 1, result, names)
    return result


def excerpt(text: str, words: Sequence[str], width: int = 160) -> str:
    """A long memory (a talk's transcript) cut to `width` characters around the first of `words` it
    contains, so the line that mattered is what the model sees; else its beginning."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    lower = text.lower()
    found = [i for w in words if (i := lower.find(w)) >= 0]
    if not found:
        return text[: width - 1] + "…"
    start = max(0, min(found) - width // 3)
    cut = text[start:start + width - 2]
    return ("…" if start else "") + cut + ("…" if start + width - 2 < len(text) else "")


async def _recall(embedder: Embedder, stream: MemoryStream, questions: Sequence[str], tick: int,
                  weights: RetrievalWeights) -> list[str]:
    if not len(stream):
        return []
    try:
        vectors = await embedder.embed(list(questions))
    except InferenceError:
        count_fallback(NEWS.name, "recall failed")
        return []
    seen: dict[int, str] = {}
    for vector in vectors:
        for hit in stream.retrieve(vector, tick, PER_QUESTION, weights, touch=False):
            seen.setdefault(hit.memory.id, hit.memory.description)
    return list(seen.values())[:SHOWN]


async def _ask_news(lm: LanguageModel, embedder: Embedder, resident: Resident, scenario: Scenario,
                    stream: MemoryStream, memories: Sequence[Remember], tick: int, weights: RetrievalWeights,
                    seed: int, result: Interviewed) -> None:
    questions = [f.question for f in scenario.facts]
    if not questions:
        return
    words = [w for f in scenario.facts for w in f.evidence]
    recalled = [excerpt(t, words) for t in await _recall(embedder, stream, questions, tick, weights)]
    user = [f"What you remember:\n{numbered(recalled, 170)}" if recalled else "You remember nothing about it.",
            "Someone asks you:", numbered(questions, 200),
            "Answer each question in order, in one or two sentences, using only what you remember, and say "
            "whether you had heard of it (yes or no)."]
    model = news_model(len(questions))

    def check(answer: Any) -> list[tuple[str, bool, bool]]:
        got = []
        for a in answer.answers:
            text, label = clean_text(a.answer, 200), a.heard == "yes"
            said = stated(text)
            got.append((text, label if said is None else said, said is not None and said != label))
        if len(got) != len(questions):
            raise AnswerRejected(NEWS.name, f"{len(got)} answers to {len(questions)} questions")
        return got

    def fallback() -> Any:
        count_fallback(NEWS.name, "no usable answer")
        return model(answers=[NewsAnswer(answer="I am not sure.", heard="no") for _ in questions])

    step = Step(NEWS.name, NEWS.max_tokens + 90 * len(questions), NEWS.temperature)  # room for every answer
    got, status = await ask(lm, step, [Message("system", persona(resident)), Message("user", "\n".join(user))],
                            model, check, fallback, seed=seed)
    for fact, (answer, said, relabelled) in zip(scenario.facts, got, strict=True):
        held = any(fact.carried_by(m.text) for m in memories)
        result.facts[fact.id] = Verdict(fact.question, answer, said, held, status == "fallback", relabelled=relabelled)


async def _ask_names(lm: LanguageModel, resident: Resident, scenario: Scenario, others: Sequence[str],
                     memories: Sequence[Remember], seed: int, result: Interviewed, names: Sequence[str]) -> None:
    if not others:
        return
    firsts = unique_first_names(names)
    about = [m.text for m in reversed(memories) if any(mentions(m.text, o, firsts) for o in others)][:SHOWN]
    acquainted = [o for o in others if o in resident.relationships]
    user = [f"People you know: {', '.join(acquainted)}." if acquainted else "",
            f"What you remember of others:\n{numbered(about, 140)}" if about else "",
            "People of the town:", numbered(list(others), 60),
            "Which of them do you know of? Give the numbers of those you know; none if you know none."]
    model = names_model(len(others))

    def check(answer: Any) -> set[int]:
        picked = {int(i) for i in answer.known}
        if any(not 1 <= i <= len(others) for i in picked):
            raise AnswerRejected(NAMES.name, f"numbers out of range: {sorted(picked)}")
        return picked

    def fallback() -> Any:
        count_fallback(NAMES.name, "no usable answer")
        return model(known=[])

    prompt = [Message("system", persona(resident)), Message("user", "\n".join(u for u in user if u))]
    picked, status = await ask(lm, NAMES, prompt, model, check, fallback, seed=seed)
    for i, other in enumerate(others, 1):
        held = other in resident.relationships or any(mentions(m.text, other, firsts) for m in memories
                                                      if m.who == resident.name)
        said = i in picked
        result.people[other] = Verdict(scenario.relationship_question.ask(other), "yes" if said else "no", said, held,
                                       status == "fallback")
