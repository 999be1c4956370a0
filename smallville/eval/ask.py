"""The evaluation's interviews: every resident asked the scenario's questions at a moment, through the same
interview the viewer's chat uses, each "yes" checked against what the resident really remembers.

Owns the questions' order and the checking of their answers. The resident is interviewed exactly as the
chat interviews it (`smallville.agents.interview`): the memories the paper's retrieval brings up for the
question (a talk shown as the memo the resident wrote of it, a long memory fitted to the question), what its
persona says of the people the question names, nothing else. No privilege the chat lacks: no list of
acquaintances beyond what the question names, no memory cut around the news words.

- the news questions ("Do you know who is running for mayor?", "Did you know there is a Valentine's Day
  party?"), one interview each: a free answer. An answer that begins "yes" or "no" says so; the others are
  labelled yes or no in one more call per resident (`LABEL`), by the evaluator, who reads only the
  questions and the answers (as the paper's researchers labelled theirs);
- the names question: "Do you know of <name>?" for every other resident at once (`interview_people`): what
  comes to mind for each name, and the numbers of those the resident says it knows of.

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
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, create_model

from smallville.agents.interview import interview, interview_people, stream_as_of
from smallville.agents.memory import MemoryStream, RetrievalWeights
from smallville.agents.prompts import Step, ask
from smallville.agents.prompts.common import AnswerRejected, count_fallback, numbered
from smallville.agents.prompts.social import INTERVIEW_MEMORY_TOKENS
from smallville.core.events import Remember
from smallville.inference.base import Embedder, LanguageModel, Message
from smallville.world.residents import Resident
from smallville.world.scenario import Scenario

LABEL = Step("eval_label", max_tokens=40, temperature=0.0)
#: Memories retrieved per question (the chat's interview depth; the run's `retrieve_interview` when given).
RETRIEVE_K = 10
#: Memories recalled per name for the names question.
PER_NAME = 3


Heard = Literal["yes", "no"]


def labels_model(n: int) -> type[BaseModel]:
    """Exactly one yes/no per answer (the grammar holds the model to the count)."""
    return create_model("HeardLabels", heard=(list[Heard], Field(min_length=n, max_length=n)))


@dataclass
class Verdict:
    """One question's answer and what the log says of it."""

    question: str
    answer: str
    said: bool  # the resident said yes
    held: bool  # a memory it had carries it
    fallback: bool = False
    own: bool = False  # it holds the fact only from what it raised itself (nobody told it)
    judged: bool = False  # the answer said neither "yes" nor "no" outright: the evaluator's label call decided

    @property
    def label(self) -> str:
        if self.said:
            return ("invented" if self.own else "aware") if self.held else "hallucinated"
        return "held_not_said" if self.held else "unaware"

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "said": self.said, "held": self.held,
                "label": self.label, "fallback": self.fallback, "judged": self.judged}


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
    "1." and punctuation), None otherwise (then the evaluator's label call decides)."""
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
                             *, seed: int = 0, k: int = RETRIEVE_K,
                             budget: int = INTERVIEW_MEMORY_TOKENS) -> Interviewed:
    """Every question for one resident as of `tick` (`memories` and `accesses` up to then, from the log):
    the news questions one interview each (and a label call for answers that say neither yes nor no), then
    the names question; `k` and `budget` the run's interview depth and memory budget, as the chat's."""
    texts = [m.text for m in memories]
    vectors = await embedder.embed(texts) if texts else np.zeros((0, embedder.dim), dtype=np.float32)
    stream = stream_as_of(memories, accesses, vectors, tick_seconds)
    result = Interviewed(resident.name, tick, memories=len(memories))
    others = [n for n in names if n != resident.name]
    await _ask_news(lm, embedder, resident, scenario, stream, memories, tick, weights, seed, result, k, budget)
    await _ask_names(lm, embedder, resident, scenario, others, stream, memories, tick, weights, seed + 1, result,
                     names, budget)
    return result


async def _ask_news(lm: LanguageModel, embedder: Embedder, resident: Resident, scenario: Scenario,
                    stream: MemoryStream, memories: Sequence[Remember], tick: int, weights: RetrievalWeights,
                    seed: int, result: Interviewed, k: int, budget: int) -> None:
    answers = []
    for i, fact in enumerate(scenario.facts):
        # each its own interview, as the chat would ask it (a fresh one: no earlier turns)
        answers.append(await interview(lm, embedder, resident, stream, fact.question, tick, weights,
                                       seed=seed + 1000 * i, k=k, budget=budget))
    said = [None if a.fallback else stated(a.answer) for a in answers]
    judged = [i for i, (a, s) in enumerate(zip(answers, said, strict=True)) if s is None and not a.fallback]
    if judged:
        labels = await _label(lm, [(scenario.facts[i].question, answers[i].answer) for i in judged], seed)
        for i, label in zip(judged, labels, strict=True):
            said[i] = label
    for i, (fact, answer) in enumerate(zip(scenario.facts, answers, strict=True)):
        held = any(fact.carried_by(m.text) for m in memories)
        result.facts[fact.id] = Verdict(fact.question, answer.answer, bool(said[i]), held, bool(answer.fallback),
                                        judged=i in judged)


async def _label(lm: LanguageModel, pairs: Sequence[tuple[str, str]], seed: int) -> list[bool]:
    """The evaluator's yes/no for answers that say neither outright: did the person say they had heard of
    it? It reads the questions and the answers only."""
    model = labels_model(len(pairs))
    shown = numbered([f"Q: {q} A: {a}" for q, a in pairs], 600)
    messages = [Message("system", "You label interview answers."),
                Message("user", f"{shown}\nFor each answer, in order: did the person say they knew of it or had "
                                "heard of it (yes), or not (no)?")]

    def check(answer: Any) -> list[bool]:
        got = [h == "yes" for h in answer.heard]
        if len(got) != len(pairs):
            raise AnswerRejected(LABEL.name, f"{len(got)} labels for {len(pairs)} answers")
        return got

    def fallback() -> Any:
        count_fallback(LABEL.name, "no usable label: counted as no")
        return model(heard=["no"] * len(pairs))

    got, _ = await ask(lm, Step(LABEL.name, LABEL.max_tokens + 6 * len(pairs), LABEL.temperature), messages, model,
                       check, fallback, seed=seed)
    return got


async def _ask_names(lm: LanguageModel, embedder: Embedder, resident: Resident, scenario: Scenario,
                     others: Sequence[str], stream: MemoryStream, memories: Sequence[Remember], tick: int,
                     weights: RetrievalWeights, seed: int, result: Interviewed, names: Sequence[str],
                     budget: int) -> None:
    if not others:
        return
    firsts = unique_first_names(names)
    question = "Do you know of these people?"
    picked, reason = await interview_people(lm, embedder, resident, stream, question, others, tick, weights,
                                            seed=seed, k=PER_NAME, budget=budget)
    for other in others:
        held = other in resident.relationships or any(mentions(m.text, other, firsts) for m in memories
                                                      if m.who == resident.name)
        said = other in picked
        result.people[other] = Verdict(scenario.relationship_question.ask(other), "yes" if said else "no", said, held,
                                       bool(reason))
