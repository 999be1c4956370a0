"""Interviews: a resident answers a question from the memories that come to mind, and nothing changes.

Owns the paper's interview (Park et al. 2023, 6.1): the question is embedded, the resident's stream is
searched with the paper's retrieval (recency, importance, relevance) without marking anything accessed,
and the answer may draw only on what was retrieved. It works on a live mind or on a resident as it was at
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from smallville.agents.memory import MemoryStream, RetrievalWeights
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

    def to_dict(self) -> dict[str, Any]:
        return {"who": self.who, "t": self.tick, "question": self.question, "answer": self.answer,
                "memories": [list(m) for m in self.memories], "fallback": self.fallback}


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


async def interview(lm: LanguageModel, embedder: Embedder, resident: Resident, stream: MemoryStream,
                    question: str, tick: int, weights: RetrievalWeights, *, seed: int = 0,
                    k: int = RETRIEVE_K) -> Answer:
    """Ask `resident` a question at `tick`; the stream is only read."""
    question = clean_question(question)
    hits = []
    reason = ""
    if len(stream):
        try:
            vector = (await embedder.embed([question]))[0]
            hits = stream.retrieve(vector, tick, k, weights, touch=False)
        except InferenceError as exc:
            reason = f"recall failed: {exc}"
    texts = [h.memory.description for h in hits]
    got, status = await ask(lm, social.INTERVIEW, social.render_interview(resident, question, texts),
                            social.InterviewAnswer, social.check_interview,
                            lambda: social.fallback_interview(reason or "no usable answer"), seed=seed)
    if status == "fallback" and not reason:
        reason = "no usable answer"
    # check_interview (or the fallback) leaves at least two ASCII letters, which cleaning keeps
    answer = clean_typed(got.answer, 2 * MAX_QUESTION).strip()
    return Answer(resident.name, tick, question, answer,
                  [(h.memory.id, h.memory.description, round(h.score, 4)) for h in hits], reason)
