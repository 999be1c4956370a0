"""The thinking context: what a thought in flight may use, and how it leaves its traces.

Owns `Context` (the language model, the embedder, the agent settings, the clock and the town), `Trace`
(what a thought retrieved, which steps fell back, which memories it read: applied later at a fixed point
of a tick), `recall` (the paper's retrieval as a pure read; `k` is the caller's, from the settings),
`shown_memories` (what a prompt shows of what came to mind) and `rate` (batched importance plus the
embeddings of new memories). Every thought is an `async` function of a snapshot taken when it starts; it
returns its typed result (`smallville.agents.results`) and never changes the town or a stream itself
(`smallville.agents.apply` does, at a fixed point of a tick).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel

from smallville.agents import prompts
from smallville.agents.memory import Kind, Memory, RetrievalHit, RetrievalWeights
from smallville.agents.prompts import importance
from smallville.agents.prompts.common import Step
from smallville.agents.results import RateResult
from smallville.agents.settings import AgentSettings
from smallville.agents.state import NewMemory, ResidentMind
from smallville.core.clock import Clock
from smallville.inference.base import Embedder, InferenceError, LanguageModel, Message
from smallville.world.town import Town

log = logging.getLogger(__name__)
A = TypeVar("A", bound=BaseModel)
C = TypeVar("C")


@dataclass
class Context:
    lm: LanguageModel
    embedder: Embedder
    settings: AgentSettings
    clock: Clock
    town: Town
    seed: int
    dim: int  # the memory vectors' size (a failed embedding is stored as zeros of it)

    @property
    def weights(self) -> RetrievalWeights:
        s = self.settings
        return RetrievalWeights(s.recency_weight, s.importance_weight, s.relevance_weight)

    def call_seed(self, *parts: object) -> int:
        """A per-call sampling seed from the run seed and what the call is for (who, tick, step, n): the
        same thought asks the same question with the same seed, whichever order thoughts run in."""
        text = "|".join(str(p) for p in (self.seed, *parts))
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


@dataclass
class Trace:
    """What a thought did besides its answer, as JSON-safe data for the apply step and the event log."""

    tick: int
    retrievals: list[dict[str, Any]] = field(default_factory=list)  # in the order they were asked
    fallbacks: list[tuple[int, str, str]] = field(default_factory=list)  # (call number, who, step)
    calls: int = 0

    def to_dict(self) -> dict[str, Any]:
        # fallbacks in call order, not the order concurrent calls failed in: a checkpoint taken with the
        # thought in flight must hold the same bytes however its calls finished
        return {"tick": self.tick, "retrievals": self.retrievals,
                "fallbacks": [list(f) for f in self.ordered_fallbacks()], "calls": self.calls}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        return cls(int(d["tick"]), list(d["retrievals"]), [(int(n), str(a), str(b)) for n, a, b in d["fallbacks"]],
                   int(d["calls"]))

    def fallback(self, who: str, step: str, number: int | None = None) -> None:
        self.fallbacks.append((self.calls if number is None else number, who, step))

    def ordered_fallbacks(self) -> list[tuple[int, str, str]]:
        """In the order the calls were made, not finished (concurrent calls of one thought finish in any order)."""
        return sorted(self.fallbacks)


async def ask(ctx: Context, trace: Trace, who: str, step: Step, messages: list[Message], answer: type[A],
              check: Callable[[A], C], fallback: Callable[[], A], n: int = 0) -> C:
    """`prompts.ask` with a deterministic seed, and the fallback noted in the trace (an event later)."""
    number = trace.calls  # taken before the await: calls start in a fixed order
    trace.calls += 1
    got, status = await prompts.ask(ctx.lm, step, messages, answer, check, fallback,
                                    seed=ctx.call_seed(who, trace.tick, step.name, n))
    if status == "fallback":
        trace.fallback(who, step.name, number)
    return got


async def recall(ctx: Context, trace: Trace, mind: ResidentMind, query: str, purpose: str, *, k: int | None = None,
                 kinds: Sequence[Kind] | None = None) -> list[RetrievalHit]:
    """The memories that come to mind for `query` (the paper's scoring), without marking them accessed:
    the trace carries the ids, and the apply step marks them at the thought's start tick."""
    if not len(mind.stream):
        return []
    slot = len(trace.retrievals)  # reserved before the await, so the log lists retrievals in a fixed order
    trace.retrievals.append({"who": mind.name, "purpose": purpose, "query": query, "ids": [], "scores": []})
    try:
        vector = (await ctx.embedder.embed([query]))[0]
    except InferenceError as exc:  # an embedding server that is gone: nothing comes to mind this time
        log.info("recall for %s failed: %s", mind.name, exc)
        trace.fallback(mind.name, "recall")
        return []
    hits = mind.stream.retrieve(vector, trace.tick, k or ctx.settings.retrieve_k, ctx.weights, kinds, touch=False)
    trace.retrievals[slot].update(ids=[h.memory.id for h in hits], scores=[
        [round(h.recency, 4), round(h.importance, 4), round(h.relevance, 4), round(h.score, 4)] for h in hits])
    return hits


def shown_memories(mind: ResidentMind, memories: Sequence[Memory]) -> list[Memory]:
    """The memories as a prompt shows them, in their order, each once: a talk as the memo its resident wrote
    of it (`MemoryStream.memo_of`; the memo is then what an insight cites). `MemoryStream.shown` gives
    their texts; this keeps the memories (ids, ticks)."""
    out: dict[int, Memory] = {}
    for memory in memories:
        shown = mind.stream.memo_of(memory.id) or memory
        out.setdefault(shown.id, shown)
    return list(out.values())


async def rate(ctx: Context, trace: Trace, name: str, items: list[NewMemory],
               known: dict[str, int] | None = None) -> list[NewMemory]:
    """Importance for each new memory (one call per 12, concurrently) and its embedding: the memories
    ready to be stored. `known`: scores this resident already gave to the very same texts (the same
    sight again, 'Klaus is reading' twice, is as important as it was: no call); sights are routine with
    no call where `rate_sights` is fixed."""
    known = dict(known or {})
    if ctx.settings.rate_sights == "fixed":
        known.update((m.description, importance.ROUTINE_SCORE) for m in items
                     if m.tag == "observation" and m.description not in known)
    texts = [m.description for m in items]
    fresh = list(dict.fromkeys(t for t in texts if t not in known))
    batches = [fresh[i:i + importance.MAX_BATCH] for i in range(0, len(fresh), importance.MAX_BATCH)]

    async def one(i: int, batch: list[str]) -> list[int]:
        n = len(batch)
        got = await ask(ctx, trace, name, importance.step_for(n), importance.render(name, batch),
                        importance.answer_model(n), lambda a: importance.check(a, n),
                        lambda: importance.fallback(n), n=i)
        return [int(s) for s in got.scores]

    async def embed() -> np.ndarray:
        try:
            return await ctx.embedder.embed(texts)
        except InferenceError as exc:  # stored without a vector: found by importance and recency only
            log.info("embedding %d memories of %s failed: %s", len(texts), name, exc)
            trace.fallback(name, "embed", -1)
            return np.zeros((len(texts), ctx.dim), dtype=np.float32)

    # the rating calls' tasks start first, in batch order, then the embedding's (as one gather of all did)
    scores, vectors = await asyncio.gather(asyncio.gather(*(one(i, b) for i, b in enumerate(batches))), embed())
    rated = dict(zip(fresh, (s for part in scores for s in part), strict=True))
    return [NewMemory(m.description, m.kind, m.tag, m.created, m.subject, m.evidence,
                      rated[m.description] if m.description in rated else known[m.description],
                      [float(x) for x in vectors[i]])
            for i, m in enumerate(items)]


async def rate_thought(ctx: Context, trace: Trace, name: str, items: list[NewMemory],
                       known: dict[str, int]) -> RateResult:
    """`rate` as a thought."""
    return RateResult(await rate(ctx, trace, name, items, known))
