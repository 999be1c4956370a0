"""Helpers for tests of single thoughts on hand-built memory streams: a word-hashing embedder (relevance by
shared words, no model), the scripted model with its prompts kept, a thinking context and a resident's mind
with the memories a test writes."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from smallville.agents.memory import Kind, MemoryStream
from smallville.agents.settings import AgentSettings
from smallville.agents.state import ResidentMind, starting_places
from smallville.agents.think import Context
from smallville.core.clock import Clock
from smallville.inference.base import CallOptions, Message
from smallville.testing.scripted import ScriptedModel
from smallville.world.residents import Resident
from smallville.world.town import Town

DIM = 64
HOUR = 360  # ticks
DAY = 24 * HOUR


class WordEmbedder:
    """Each word a fixed random direction: texts that share words are near (deterministic, instant)."""

    dim = DIM

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]{3,}", text.lower()):
                seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[i] += np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out


class Prompts(ScriptedModel):
    """The scripted model, keeping every prompt it was asked, by purpose (the step's name)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: defaultdict[str, list[str]] = defaultdict(list)

    async def complete_model(self, messages: Sequence[Message], answer_model: Any, options: CallOptions) -> Any:
        self.asked[options.purpose].append("\n".join(m.content for m in messages))
        return await super().complete_model(messages, answer_model, options)


def context(town: Town, lm: Any | None = None, **settings: Any) -> Context:
    return Context(lm or Prompts(), WordEmbedder(), AgentSettings(**{"economy": "off", **settings}), Clock(), town,
                   seed=1, dim=DIM)


def mind(resident: Resident, town: Town, memories: Sequence[tuple[str, Kind, str, int, int]] = ()) -> ResidentMind:
    """`memories`: (text, kind, tag, created tick, importance), stored in order with their word vectors."""
    m = ResidentMind(resident, MemoryStream(DIM, Clock().tick_seconds), starting_places(resident, town))
    add(m, memories)
    return m


def add(m: ResidentMind, memories: Sequence[tuple[str, Kind, str, int, int]],
        evidence: Sequence[Sequence[int]] = ()) -> list[int]:
    import asyncio

    vectors = asyncio.run(WordEmbedder().embed([t for t, *_ in memories])) if memories else []
    ids = []
    for i, (text, kind, tag, created, importance) in enumerate(memories):
        cited = evidence[i] if i < len(evidence) else ()
        ids.append(m.stream.add(text, vectors[i], kind=kind, tag=tag, created=created, importance=importance,
                                evidence=cited).id)
    return ids
