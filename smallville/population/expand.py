"""`--expand`: each person's background written by a model, one structured, recorded call per person.

Owns the background call (prompt, answer model, check) and how a population's calls are driven. The calls go
through the run's own model wiring (`inference/session.open_models`): the configured pool of
OpenAI-compatible servers (or, with none configured, the embedded local model), every call recorded into
`<out>/calls.jsonl` and counted into `<out>/inference.json`, the health watch outermost.

A person whose call fails or whose answer does not fit (no valid JSON after the re-asks, too few words) gets
the template background instead: logged, counted by reason and listed by id in `<out>/expand.json`. A server
that cannot answer at all is not papered over with templates: the run's rule holds (`inference/health.py`),
so a configuration error (wrong key, unknown model) stops at once, the first `stop_after_failures` calls all
failing stop, and a population whose every call failed stops at the end; each raises the `InferenceError`
that says why (one line naming the endpoint; the CLI exits 2) and no population file is written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, StringConstraints

from smallville.inference.base import CallOptions, InferenceError, LanguageModel, Message
from smallville.inference.settings import InferenceSettings
from smallville.population.draw import Drawn, template_background

log = logging.getLogger(__name__)

PURPOSE = "population_background"
MAX_TOKENS = 320
MIN_WORDS = 6
EXPAND_FILE = "expand.json"

SYSTEM = ("You write short character backgrounds for the people of a social simulation. Keep every fact you are "
          "given and invent the rest: personality, habits, what the person cares about. Two to four sentences, "
          "third person, no quotation marks.")


class BackgroundAnswer(BaseModel):
    # One paragraph, bounded and free of quotes and control characters as every answer model of the project
    # is, so that a grammar-constrained small model ends inside MAX_TOKENS. (A comment, not a docstring: a
    # docstring would travel in the schema of every request.)
    background: Annotated[str, StringConstraints(min_length=40, max_length=700,
                                                 pattern=r'^[^"\\\x00-\x1f]{40,700}$')]


class BackgroundRejected(Exception):
    """An answer that fits the schema but is not a background (the fake server's 'xxxx', a lone word)."""


def messages_for(name: str, attributes: dict[str, str]) -> list[Message]:
    facts = "; ".join(f"{key}: {value}" for key, value in attributes.items()) or "none given"
    return [Message("system", SYSTEM),
            Message("user", f"Write the background of {name}. Facts: {facts}.")]


def check(answer: BackgroundAnswer) -> str:
    text = " ".join(answer.background.split())
    if len(re.findall(r"[^\W\d_]{2,}", text)) < MIN_WORDS:
        raise BackgroundRejected(f"fewer than {MIN_WORDS} words")
    return text


class _NoEmbedder:
    """Backgrounds embed nothing; this keeps `open_models` from loading the embedding model."""

    dim = 1

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("population backgrounds embed nothing")


@dataclass
class Expanded:
    backgrounds: list[str]
    from_model: int = 0
    fallback_ids: list[int] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    description: str = ""

    @property
    def fallbacks(self) -> int:
        return len(self.fallback_ids)

    def summary(self) -> dict[str, Any]:
        return {"people": len(self.backgrounds), "from_model": self.from_model, "fallbacks": self.fallbacks,
                "reasons": dict(sorted(self.reasons.items())), "fallback_ids": self.fallback_ids,
                "models": self.description}


def _workers(settings: InferenceSettings, lm: LanguageModel | None) -> int:
    """Calls in flight: what the endpoints take at once (the pool holds each to its own limit)."""
    if lm is not None:
        return 8
    if settings.uses_embedded_server:
        from smallville.inference.local import default_servers

        return default_servers()  # the servers the models start, one request each
    return max(1, min(256, sum(e.max_concurrency for e in settings.endpoints)))


async def expand_async(people: Drawn, settings: InferenceSettings, out_dir: Path, *,
                       lm: LanguageModel | None = None, workers: int | None = None) -> Expanded:
    from smallville.inference.record import CALLS_FILE
    from smallville.inference.session import ACCOUNTING_FILE, open_models

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (CALLS_FILE, ACCOUNTING_FILE):  # a new population's calls, not appended to an old one's
        (out_dir / stale).unlink(missing_ok=True)
    n = people.count
    texts: list[str | None] = [None] * n
    result = Expanded([])
    cursor = 0
    stop: InferenceError | None = None
    step = max(1, n // 10)

    async with open_models(settings, out_dir, lm=lm, embedder=_NoEmbedder()) as models:
        result.description = models.description
        log.info("backgrounds for %d people from %s", n, models.description)

        async def work() -> None:
            nonlocal cursor, stop
            while stop is None and cursor < n:
                i = cursor
                cursor += 1
                name, attributes = people.names[i], people.attributes_of(i)
                # a seed per person, so a server that honours seeds answers a rerun alike; the frequency
                # penalty because small models repeat themselves without one (as the agents' calls do)
                options = CallOptions(purpose=PURPOSE, temperature=0.8, max_tokens=MAX_TOKENS,
                                      seed=(people.seed * 1_000_003 + i) % (1 << 31),
                                      extra={"frequency_penalty": 0.3})
                try:
                    texts[i] = check(await models.lm.complete_model(messages_for(name, attributes),
                                                                    BackgroundAnswer, options))
                    result.from_model += 1
                except (InferenceError, BackgroundRejected) as exc:
                    texts[i] = template_background(name, attributes)
                    result.fallback_ids.append(i)
                    result.reasons[type(exc).__name__] += 1
                    log.debug("background of person %d (%s): template (%s: %s)", i, name, type(exc).__name__, exc)
                done = result.from_model + result.fallbacks
                if n >= 100 and done % step == 0:
                    log.info("backgrounds: %d of %d (%d template fallbacks)", done, n, result.fallbacks)
                if stop is None and (unable := models.fatal()) is not None:
                    stop = unable

        await asyncio.gather(*(work() for _ in range(min(workers or _workers(settings, lm), n))))
        if stop is None:
            stop = models.fatal(at_end=True)
    if stop is not None:
        raise stop
    result.fallback_ids.sort()
    result.backgrounds = [t or "" for t in texts]
    if result.fallbacks:
        why = ", ".join(f"{k} {v}" for k, v in sorted(result.reasons.items()))
        log.warning("%d of %d backgrounds fell back to the template (%s); their ids are in %s", result.fallbacks, n,
                    why, out_dir / EXPAND_FILE)
    (out_dir / EXPAND_FILE).write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
    return result


def expand(people: Drawn, settings: InferenceSettings, out_dir: Path, *, lm: LanguageModel | None = None,
           workers: int | None = None) -> Expanded:
    """Every person's background from the models (templates where a call fails); see the module's docstring."""
    return asyncio.run(expand_async(people, settings, out_dir, lm=lm, workers=workers))
