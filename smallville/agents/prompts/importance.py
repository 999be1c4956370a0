"""Importance: rate several new memories in one call, 1 (mundane) to 10 (poignant).

Owns the importance prompt, its answer model (exactly n scores), the repair of a short or long list and
the default (4 for each, the original code's value when its rating failed).

Batched because one call per memory would spend the day's whole call budget on perception alone: the loop
collects a resident's new memories of a tick (or several ticks) and rates them together.

Prompt size: ~45 tokens of instruction + ~15 per memory (8 memories ~ 170 tokens); answer ~4 tokens per
score.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from pydantic import BaseModel, Field, create_model

from smallville.agents.prompts.common import AnswerRejected, Score, Step, count_fallback, numbered
from smallville.inference.base import Message

STEP = Step("importance", max_tokens=64, temperature=0.2)  # for a full batch; `step_for(n)` for n
#: The original code's rating when the model's answer could not be used.
DEFAULT_SCORE = 4
#: A sight's score where sights are not rated by the model (`AgentSettings.rate_sights`): routine.
ROUTINE_SCORE = 2
#: The most memories one call rates (longer lists are split by the caller into several calls).
MAX_BATCH = 12


class Importance(BaseModel):
    scores: list[Score]


@lru_cache(maxsize=MAX_BATCH)
def answer_model(n: int) -> type[Importance]:
    """Exactly n scores (built once per n, so its schema is built and shared once too)."""
    if not 1 <= n <= MAX_BATCH:
        raise ValueError(f"importance rates 1..{MAX_BATCH} memories per call, got {n}")
    return create_model(f"Importance{n}", __base__=Importance,
                        scores=(list[Score], Field(min_length=n, max_length=n)))


def step_for(n: int) -> Step:
    """The call settings for n memories: room for n scores and the JSON around them."""
    return Step(STEP.name, max_tokens=16 + 4 * n, temperature=STEP.temperature)


def render(name: str, memories: Sequence[str]) -> list[Message]:
    return [
        Message("system", f"You rate how much things matter to {name}."),
        Message("user", "Rate each memory from 1 to 10. 1 is everyday routine (brushing teeth, making the bed); "
                        "10 is life-changing (a break-up, a new job, a death).\n"
                        f"{numbered(memories)}\nGive one score per memory, in order."),
    ]


def check(answer: Importance, n: int) -> Importance:
    """Exactly n scores in 1..10: a short list is padded with the default, a long one cut, out-of-range
    numbers clamped. Rejected only when no score at all came back."""
    scores = [min(10, max(1, int(s))) for s in answer.scores if isinstance(s, int | float)]
    if not scores:
        raise AnswerRejected(STEP.name, "no scores")
    scores = scores[:n] + [DEFAULT_SCORE] * (n - len(scores))
    return answer_model(n)(scores=scores)


def fallback(n: int, reason: str = "") -> Importance:
    count_fallback(STEP.name, reason or "default scores")
    return answer_model(n)(scores=[DEFAULT_SCORE] * n)
