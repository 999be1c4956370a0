"""Reflection (Park et al. 2023): the salient questions recent memories raise, then insights that cite the
memories they rest on.

Owns both prompts, their answer models, checks and defaults. The caller triggers reflection (summed
importance over the threshold), asks the questions of the ~100 latest memories, retrieves memories per
question and asks the insights, up to 5 a question, from them: all the questions in one call (the paper's
code makes one a question; the budget of calls pays for one), each insight naming its question. It stores
the insights as thoughts whose evidence is the cited memory ids, which makes the reflection tree. As in the
paper the questions are about whatever the memories are about ("the subjects in the statements"), not only
the resident.

Evidence is cited by the memories' own ids, shown in the prompt as `[id]`, and the answer model for a
call is built from those ids: `evidence` is a list of Literal[candidate ids], so the model cannot cite a
memory it was not shown; `check` still drops foreign ids (replays, prompt-mode endpoints) and insights
left with no evidence. Each insight also says how much it matters to the resident (1-10): the
importance the stream stores, without a rating call per insight (the original asked one each).

Prompt sizes: questions ~50 tokens + ~15-25 per memory (100 memories, fitted to the prompt budget: up to
~2,000), answer <= ~100; insights ~90 + ~20 per candidate (the questions' retrievals together, fitted
likewise: up to ~2,000), answer <= ~80 per insight (15: ~1,200).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, create_model

from smallville.agents.prompts.common import (
    AnswerRejected,
    Choices,
    Score,
    Step,
    bounded_text,
    clean_text,
    count_fallback,
    has_words,
    numbered,
    one_of,
    plain_words,
    shorten,
)
from smallville.inference.base import Message

QUESTIONS = Step("reflection_questions", max_tokens=160, temperature=0.5)
INSIGHTS = Step("reflection_insights", max_tokens=440, temperature=0.5)
#: The paper's numbers: 3 questions, and the original code's 5 insights per question.
N_QUESTIONS = 3
N_INSIGHTS = 5
#: The most a reflection may ask for (`reflect_questions` and `reflect_insights` go up to 5 each).
MOST_INSIGHTS = 5 * 5
#: The most memories one insight cites.
MAX_EVIDENCE = 5
#: The importance of an insight whose answer gave none (the original's default rating).
DEFAULT_IMPORTANCE: Score = 4

Candidates = Sequence[tuple[int, str]]  # (memory id, description)


# -- questions ------------------------------------------------------------------------------------------


class Questions(BaseModel):
    questions: list[bounded_text(100)] = Field(min_length=1, max_length=5)  # type: ignore[valid-type]


def insights_step(n: int) -> Step:
    """The insights call for up to `n` insights in all: room for each and the JSON around them."""
    return Step(INSIGHTS.name, max_tokens=40 + 80 * n, temperature=INSIGHTS.temperature)


def render_questions(name: str, recent: Sequence[str], n: int = N_QUESTIONS) -> list[Message]:
    """`recent`: the resident's recent memories, oldest first, as the prompt shows them (the caller fits
    them to its budget: `common.fit_memories`)."""
    return [Message("user", f"Statements from {name}'s memory:\n{numbered(recent, None)}\n"
                            f"Given only the statements above, what are the {n} most salient high-level "
                            f"questions we can answer about the subjects in the statements?")]


def check_questions(answer: Questions, n: int = N_QUESTIONS) -> Questions:
    """Up to `n` distinct questions with words in them; rejected when none is left."""
    seen: dict[str, str] = {}
    for q in answer.questions:
        text = clean_text(str(q), 100)
        if has_words(text) and len(text.split()) >= 3:
            seen.setdefault(text.lower().rstrip("?"), text)
    if not seen:
        raise AnswerRejected(QUESTIONS.name, "no usable question")
    return Questions(questions=list(seen.values())[:n])


def fallback_questions(name: str, reason: str = "", n: int = N_QUESTIONS) -> Questions:
    """Questions any life answers: with whom, at what, and what matters now."""
    count_fallback(QUESTIONS.name, reason or "generic questions")
    return Questions(questions=[f"What has {name} spent most time on lately?",
                                f"Who has {name} been seeing, and how do they get along?",
                                f"What matters most to {name} right now?"][:n])


# -- insights -------------------------------------------------------------------------------------------


class Insight(BaseModel):
    insight: bounded_text(160)  # type: ignore[valid-type]
    evidence: list[int] = Field(min_length=1, max_length=MAX_EVIDENCE)
    importance: Score = DEFAULT_IMPORTANCE
    question: int = 1  # which of the questions it answers (1 when there is one)


class Insights(BaseModel):
    insights: list[Insight] = Field(min_length=1, max_length=MOST_INSIGHTS)


@lru_cache(maxsize=256)
def _model(ids: tuple[int, ...], n: int, questions: int, plain: bool) -> type[Insights]:
    # annotations built at run time (see `one_of`); mypy reads `list[...]` as a type written in the code
    ids_cited: Any = list[one_of(ids)]  # type: ignore[misc]
    fields: dict[str, Any] = {"evidence": (ids_cited, Field(min_length=1, max_length=MAX_EVIDENCE)),
                              "importance": (Score, ...)}
    if plain:  # a sentence of plain words: a 135M model wrote "1" and "6.5" as its insights
        fields["insight"] = (plain_words(20, min_words=4, sentence=True), ...)
    if questions > 1:
        fields["question"] = (one_of(tuple(range(1, questions + 1))), ...)
    cited = create_model("CitedInsight", __base__=Insight, **fields)
    return create_model("Insights", __base__=Insights,
                        insights=(list[cited], Field(min_length=1, max_length=n * questions)))


def answer_model(candidates: Candidates, n: int = N_INSIGHTS, questions: int = 1,
                 choices: Choices = "open") -> type[Insights]:
    """Up to `n` insights for each of `questions` questions, each naming its question (when there are
    several) and citing only the candidates' ids (built once per id set); closed choices: each insight a
    sentence of plain words (`common.plain_words`)."""
    ids = tuple(sorted({int(i) for i, _ in candidates}))
    if not ids:
        raise ValueError("insights need at least one candidate memory")
    return _model(ids, max(1, min(N_INSIGHTS, n)), max(1, min(N_QUESTIONS + 2, questions)), choices == "closed")


def _asked(question: str | Sequence[str]) -> list[str]:
    return [question] if isinstance(question, str) else list(question)


def render_insights(name: str, question: str | Sequence[str], candidates: Candidates,
                    n: int = N_INSIGHTS) -> list[Message]:
    """`candidates`: the (id, description) of the memories retrieved for the question(s), best first, as
    the prompt shows them (fitted by the caller). Several questions are answered in one call, each with up
    to `n` insights (the paper's per-question call, for the call budget)."""
    questions = _asked(question)
    shown = "\n".join(f"[{i}] {' '.join(text.split())}" for i, text in candidates)
    many = f"{n} high-level insights" if n > 1 else "high-level insight"
    if len(questions) == 1:
        asked = (f"Question: {shorten(questions[0], 260)}\n"
                 f"What {many} can you infer from the statements above that answer it?")
    else:
        listed = "\n".join(f"{i}. {shorten(q, 200)}" for i, q in enumerate(questions, 1))
        asked = (f"Questions:\n{listed}\nFor each question, what {many} can you infer from the statements "
                 f"above that answer it? Give each insight the number of its question.")
    return [Message("user", f"Statements from {name}'s memory:\n{shown}\n{asked} Each cites the [numbers] of the "
                            f"statements it rests on as evidence, and rates how much it matters to {name} (1 to "
                            f"10).")]


def check_insights(answer: Insights, candidates: Candidates, n: int = N_INSIGHTS, questions: int = 1) -> Insights:
    """Evidence restricted to the candidates (others dropped, duplicates merged); an insight left with no
    evidence or no words, or repeating another, is dropped; at most `n` per question (a question number
    out of range counts as the first); rejected when none is left."""
    ids = {int(i) for i, _ in candidates}
    kept: list[dict[str, object]] = []
    seen: set[str] = set()
    per: dict[int, int] = {}
    for ins in answer.insights:
        text = clean_text(str(ins.insight), 160)
        evidence = list(dict.fromkeys(int(e) for e in ins.evidence if int(e) in ids))[:MAX_EVIDENCE]
        importance = getattr(ins, "importance", DEFAULT_IMPORTANCE)
        score = min(10, max(1, int(importance))) if isinstance(importance, int | float) else DEFAULT_IMPORTANCE
        asked = getattr(ins, "question", 1)
        number = int(asked) if isinstance(asked, int) and 1 <= asked <= questions else 1
        if has_words(text) and evidence and text.lower() not in seen and per.get(number, 0) < n:
            seen.add(text.lower())
            per[number] = per.get(number, 0) + 1
            kept.append({"insight": text, "evidence": evidence, "importance": score, "question": number})
    if not kept:
        raise AnswerRejected(INSIGHTS.name, "no insight cites a memory it was shown")
    return Insights.model_validate({"insights": kept})


def fallback_insights(name: str, question: str | Sequence[str], candidates: Candidates, reason: str = "",
                      n: int = N_INSIGHTS) -> Insights:
    """No invented content: each question itself becomes a thought, citing the most relevant memories (the
    first candidates, as the caller ranked them)."""
    count_fallback(INSIGHTS.name, reason or "question as thought")
    questions = _asked(question)
    evidence = list(dict.fromkeys(int(i) for i, _ in candidates))[:2]
    return answer_model(candidates, n, len(questions)).model_validate({"insights": [
        {"insight": clean_text(f"{name} has been wondering: {clean_text(q, 100).rstrip('?') or 'recent events'}",
                               160),
         "evidence": evidence, "importance": DEFAULT_IMPORTANCE, **({"question": i} if len(questions) > 1 else {})}
        for i, q in enumerate(questions, 1)]})
