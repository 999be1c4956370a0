"""Reflection (Park et al. 2023): the salient questions recent memories raise, then insights that cite the
memories they rest on.

Owns both prompts, their answer models, checks and defaults. The caller triggers reflection (summed
importance over the threshold), retrieves memories per question and stores the insights as thoughts whose
evidence is the cited memory ids, which makes the reflection tree.

Evidence is cited by the memories' own ids, shown in the prompt as `[id]`, and the answer model for a
call is built from those ids: `evidence` is a list of Literal[candidate ids], so the model cannot cite a
memory it was not shown; `check` still drops foreign ids (replays, prompt-mode endpoints) and insights
left with no evidence.

Prompt sizes: questions ~40 tokens + ~15 per memory (the caller passes ~20-30 recent ones: ~350-500),
answer <= ~90; insights ~50 + ~15 per candidate (10-15 retrieved: ~200-280), answer <= ~170.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, create_model

from smallville.agents.prompts.common import (
    AnswerRejected,
    Step,
    bounded_text,
    clean_text,
    count_fallback,
    has_words,
    numbered,
    one_of,
    shorten,
)
from smallville.inference.base import Message

QUESTIONS = Step("reflection_questions", max_tokens=128, temperature=0.5)
INSIGHTS = Step("reflection_insights", max_tokens=224, temperature=0.5)

Candidates = Sequence[tuple[int, str]]  # (memory id, description)


# -- questions ------------------------------------------------------------------------------------------


class Questions(BaseModel):
    questions: list[bounded_text(80)] = Field(min_length=1, max_length=3)  # type: ignore[valid-type]


def render_questions(name: str, recent: Sequence[str]) -> list[Message]:
    """`recent`: the descriptions of the resident's recent memories, oldest first."""
    return [Message("user", f"Things {name} noticed, did and thought lately:\n{numbered(recent, 120)}\n"
                            f"Given only these, what are the 3 most important high-level questions one could "
                            f"ask about {name}'s life?")]


def check_questions(answer: Questions) -> Questions:
    """Up to 3 distinct questions with words in them; rejected when none is left."""
    seen: dict[str, str] = {}
    for q in answer.questions:
        text = clean_text(str(q), 80)
        if has_words(text) and len(text.split()) >= 3:
            seen.setdefault(text.lower().rstrip("?"), text)
    if not seen:
        raise AnswerRejected(QUESTIONS.name, "no usable question")
    return Questions(questions=list(seen.values())[:3])


def fallback_questions(name: str, reason: str = "") -> Questions:
    """Questions any life answers: with whom, at what, and what matters now."""
    count_fallback(QUESTIONS.name, reason or "generic questions")
    return Questions(questions=[f"What has {name} spent most time on lately?",
                                f"Who has {name} been seeing, and how do they get along?",
                                f"What matters most to {name} right now?"])


# -- insights -------------------------------------------------------------------------------------------


class Insight(BaseModel):
    insight: bounded_text(120)  # type: ignore[valid-type]
    evidence: list[int] = Field(min_length=1, max_length=4)


class Insights(BaseModel):
    insights: list[Insight] = Field(min_length=1, max_length=3)


@lru_cache(maxsize=256)
def _model(ids: tuple[int, ...]) -> type[Insights]:
    # an annotation built at run time (see `one_of`); mypy reads `list[...]` as a type written in the code
    ids_cited: Any = list[one_of(ids)]  # type: ignore[misc]
    cited = create_model("CitedInsight", __base__=Insight, evidence=(ids_cited, Field(min_length=1, max_length=4)))
    return create_model("Insights", __base__=Insights, insights=(list[cited], Field(min_length=1, max_length=3)))


def answer_model(candidates: Candidates) -> type[Insights]:
    """Insights whose evidence can only be among the candidates' ids (built once per id set)."""
    ids = tuple(sorted({int(i) for i, _ in candidates}))
    if not ids:
        raise ValueError("insights need at least one candidate memory")
    return _model(ids)


def render_insights(name: str, question: str, candidates: Candidates) -> list[Message]:
    """`candidates`: the (id, description) of the memories retrieved for `question`."""
    shown = "\n".join(f"[{i}] {shorten(text, 140)}" for i, text in candidates)
    return [Message("user", f"What {name} remembers:\n{shown}\n"
                            f"Question: {shorten(question, 260)}\n"
                            f"Write 1 to 3 insights about {name} that answer it. Each cites the [numbers] of the "
                            f"memories it rests on as evidence.")]


def check_insights(answer: Insights, candidates: Candidates) -> Insights:
    """Evidence restricted to the candidates (others dropped, duplicates merged); an insight left with no
    evidence or no words is dropped; rejected when none is left."""
    ids = {int(i) for i, _ in candidates}
    kept: list[dict[str, object]] = []
    seen: set[str] = set()
    for ins in answer.insights:
        text = clean_text(str(ins.insight), 120)
        evidence = list(dict.fromkeys(int(e) for e in ins.evidence if int(e) in ids))[:4]
        if has_words(text) and evidence and text.lower() not in seen:
            seen.add(text.lower())
            kept.append({"insight": text, "evidence": evidence})
    if not kept:
        raise AnswerRejected(INSIGHTS.name, "no insight cites a memory it was shown")
    return answer_model(candidates).model_validate({"insights": kept[:3]})


def fallback_insights(name: str, question: str, candidates: Candidates, reason: str = "") -> Insights:
    """No invented content: the question itself becomes the thought, citing the most relevant memories
    (the first candidates, as the caller ranked them)."""
    count_fallback(INSIGHTS.name, reason or "question as thought")
    topic = clean_text(question, 80).rstrip("?") or "recent events"
    evidence = list(dict.fromkeys(int(i) for i, _ in candidates))[:2]
    return answer_model(candidates).model_validate(
        {"insights": [{"insight": clean_text(f"{name} has been wondering: {topic}", 120), "evidence": evidence}]})
