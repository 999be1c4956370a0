"""Interviews: a resident answers a question from the memories that come to mind, and nothing changes.

Owns the paper's interview (Park et al. 2023, 6.1): the question is embedded, the resident's stream is
searched with the paper's retrieval (recency, importance, relevance) without marking anything accessed,
and the answer may draw only on what was retrieved (a talk shown as the memo the resident wrote of it, a
long memory fitted to the question: `MemoryStream.shown`, `prompts.common.fit_memories`) and on what its
persona says of the people the question names. The earlier turns of the same interview are shown with a
question (the chat's interviews are conversations). The viewer's chat and the evaluation ask through these
same functions (`interview`; `interview_people`, the names question asked of many people at once), so the
evaluation sees nothing the chat would not. It works on a live mind or on a resident as it was at
any moment of a saved run (`stream_as_of`: the memories made up to then, rebuilt from the log, last
accessed when the log says they were retrieved), which is what lets the replay interview the past.

What a user types is treated as data, never as instructions to the program: it is cleaned by
`prompts.common.clean_typed` (control characters, unencodable and invisible code points go, whitespace
collapses, chat-template tokens such as <|im_start|> are broken so the model's tokenizer reads them as text),
at most `MAX_QUESTION` characters are kept, and an empty question is refused before any call. The answer is
cleaned the same way before it is shown or kept (a model can echo a lone surrogate, which no file takes).
The resident's memory is never written here, whatever the question says; a prompt that talks the model
into nonsense only gets a nonsense answer (checked like every answer, with a default).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from smallville.agents.memory import MemoryStream, RetrievalHit, RetrievalWeights
from smallville.agents.prompts import ask, social
from smallville.agents.prompts.common import clean_typed
from smallville.core.events import Remember
from smallville.inference.base import Embedder, InferenceError, LanguageModel
from smallville.world.residents import Resident

MAX_QUESTION = 500
RETRIEVE_K = 10


def clean_question(text: str) -> str:
    """The question as the model will see it; ValueError when nothing is left. Also what an inner voice
    becomes before it is planted (viewer/app.py), so both ways into a prompt are cleaned alike."""
    kept = clean_typed(text, MAX_QUESTION).strip()
    if not kept:
        raise ValueError("an empty question")
    return kept


@dataclass
class Answer:
    who: str
    tick: int
    question: str
    answer: str
    memories: list[tuple[int, str, float]] = field(default_factory=list)  # (id, text, score) retrieved
    fallback: str = ""  # why the default answer was given, if it was
    earlier: int = 0  # earlier turns of the same interview shown with the question

    def to_dict(self) -> dict[str, Any]:
        return {"who": self.who, "t": self.tick, "question": self.question, "answer": self.answer,
                "memories": [list(m) for m in self.memories], "fallback": self.fallback, "earlier": self.earlier}


def stream_as_of(memories: Sequence[Remember], accesses: Iterable[tuple[int, Sequence[int]]],
                 vectors: np.ndarray, tick_seconds: int) -> MemoryStream:
    """A resident's stream rebuilt from its `memory` events (oldest first, with their vectors) and the
    (tick, ids) of its `retrieve` events up to the moment. Access times are those of the events, which the
    log writes when a thought's result is applied (a few game minutes after it was thought)."""
    stream = MemoryStream(int(vectors.shape[1]) if vectors.ndim == 2 and len(vectors) else 1, tick_seconds,
                          capacity=max(1, len(memories)))
    for memory, vector in zip(memories, vectors, strict=True):
        evidence = [e for e in memory.evidence if e < memory.id]
        stream.add(memory.text, vector, kind=memory.kind, tag=memory.tag, created=memory.t,  # type: ignore[arg-type]
                   importance=min(10, max(1, memory.importance)), evidence=evidence, subject=memory.subject)
    n = len(stream)
    for tick, ids in accesses:
        stream.touch([i for i in ids if 0 <= i < n], tick)
    return stream


def known_named(resident: Resident, text: str) -> list[str]:
    """What the persona says of the people `text` names (full name, or a first name no other acquaintance
    has), as 'Klaus Mueller: a regular at the cafe': what the resident knows of them without recalling
    anything, as its talk prompts show it. The chat and the evaluation see the same."""
    ties = resident.relationships
    firsts = [n.split()[0] for n in ties if n.split()]
    lower = text.lower()
    named = [n for n in ties if n.lower() in lower or (
        n.split() and firsts.count(n.split()[0]) == 1 and re.search(rf"\b{re.escape(n.split()[0])}\b", text))]
    return [f"{n}: {ties[n]}" for n in named]


async def _recall(embedder: Embedder, stream: MemoryStream, queries: Sequence[str], tick: int,
                  weights: RetrievalWeights, k: int) -> tuple[list[RetrievalHit], str]:
    """The memories that come to mind for each query (the paper's retrieval, nothing marked accessed),
    merged best first, each once; and why nothing came, if recall failed."""
    if not len(stream) or not queries:
        return [], ""
    try:
        vectors = await embedder.embed(list(queries))
    except InferenceError as exc:
        return [], f"recall failed: {exc}"
    hits: dict[int, RetrievalHit] = {}
    for vector in vectors:
        for hit in stream.retrieve(vector, tick, k, weights, touch=False):
            if hit.memory.id not in hits or hit.score > hits[hit.memory.id].score:
                hits[hit.memory.id] = hit
    return sorted(hits.values(), key=lambda h: (-h.score, -h.memory.id)), ""


async def interview(lm: LanguageModel, embedder: Embedder, resident: Resident, stream: MemoryStream,
                    question: str, tick: int, weights: RetrievalWeights, *, seed: int = 0,
                    k: int = RETRIEVE_K, earlier: Sequence[tuple[str, str]] = (),
                    budget: int = social.INTERVIEW_MEMORY_TOKENS) -> Answer:
    """Ask `resident` a question at `tick`; the stream is only read. `earlier`: the (question, answer)
    turns of this interview so far, shown with it (the chat's multi-turn interview)."""
    question = clean_question(question)
    hits, reason = await _recall(embedder, stream, [question], tick, weights, k)
    shown = stream.shown(h.memory for h in hits)
    messages = social.render_interview(resident, question, shown, earlier=earlier,
                                       people=known_named(resident, question), budget=budget)
    got, status = await ask(lm, social.INTERVIEW, messages, social.InterviewAnswer, social.check_interview,
                            lambda: social.fallback_interview(reason or "no usable answer"), seed=seed)
    if status == "fallback" and not reason:
        reason = "no usable answer"
    # check_interview (or the fallback) leaves at least two ASCII letters, which cleaning keeps
    answer = clean_typed(got.answer, 2 * MAX_QUESTION).strip()
    return Answer(resident.name, tick, question, answer,
                  [(h.memory.id, h.memory.description, round(h.score, 4)) for h in hits], reason, len(earlier))


async def interview_people(lm: LanguageModel, embedder: Embedder, resident: Resident, stream: MemoryStream,
                           question: str, people: Sequence[str], tick: int, weights: RetrievalWeights, *,
                           seed: int = 0, k: int = 3, budget: int = social.INTERVIEW_MEMORY_TOKENS
                           ) -> tuple[set[str], str]:
    """The same interview asked of several people at once ("Do you know of <name>?" for each): what comes
    to mind for each name (`k` memories each), what the persona says of them, and the people it says it
    knows of, picked from the list. Returns (those picked, why the default was given, if it was)."""
    hits, reason = await _recall(embedder, stream, list(people), tick, weights, k)
    shown = stream.shown(h.memory for h in hits)
    n = len(people)
    messages = social.render_interview(resident, question, shown, people=known_named(resident, " ".join(people)),
                                       budget=budget, among=people)
    picked, status = await ask(lm, social.INTERVIEW, messages, social.known_people_model(n),
                               lambda a: social.check_known(a, n),
                               lambda: social.fallback_known(n, reason or "no usable answer"), seed=seed)
    if status == "fallback" and not reason:
        reason = "no usable answer"
    return {people[i - 1] for i in sorted(picked)}, reason
