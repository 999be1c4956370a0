"""Reflection as a thought: from recent memories to questions, from each question to the memories it
brings up, from those to insights that cite them.

Owns the reflection thought (Park et al. 2023, 4.2). Started by the scheduler when the summed importance of
new memories passes the threshold. The paper's steps with the paper's numbers (`AgentSettings`): the
questions come from the ~100 latest memories (`reflect_recent`), 3 of them (`reflect_questions`), about
whatever those memories are about; each question retrieves its own evidence (`retrieve_reflect`, 30) and
gets up to 5 insights (`reflect_insights`), each citing the memories it rests on by id. Retrieval ranges
over reflections too, so insights cite earlier insights and the links form trees whose leaves are
observations.

Two calls, where the paper's code makes one for the questions, one for each question's insights and one to
rate each insight: the questions, then all the insights in one call (each question's evidence shown together,
each insight naming its question), each insight rated in its answer and embedded here, so it enters the
stream when the reflection is applied with no rating call of its own. At the paper's size a reflection is
otherwise 4 calls plus 2 ratings; a resident reflects about three times a day, and the budget of 60 calls
a resident a day could not pay for that.
"""

from __future__ import annotations

import logging
from itertools import chain, zip_longest

import numpy as np

from smallville.agents.memory import Memory
from smallville.agents.prompts import reflection
from smallville.agents.prompts.common import fit_memories
from smallville.agents.results import ReflectResult
from smallville.agents.state import NewMemory, ResidentMind
from smallville.agents.think import Context, Trace, ask, recall, shown_memories
from smallville.inference.base import InferenceError

log = logging.getLogger(__name__)


async def reflect(ctx: Context, trace: Trace, mind: ResidentMind) -> ReflectResult:
    """The questions asked, the insights with the ids of the memories each cites, and the insights as
    memories ready to store (rated and embedded)."""
    s, name = ctx.settings, mind.name
    # newest first for the budget (it leaves out the last), shown oldest first as the paper lists them
    latest = shown_memories(mind, mind.stream.recent(s.reflect_recent)[::-1])
    recent = fit_memories([m.description for m in latest], "", s.prompt_tokens)[::-1]
    n_q, n_i = s.reflect_questions, s.reflect_insights
    questions = await ask(ctx, trace, name, reflection.QUESTIONS, reflection.render_questions(name, recent, n_q),
                          reflection.Questions, lambda a: reflection.check_questions(a, n_q),
                          lambda: reflection.fallback_questions(name, n=n_q))
    asked = list(questions.questions)
    # each question's own evidence, in turn (so the log lists retrievals in a fixed order), then all of it in
    # one prompt: each question's best first, taking turns, so that a cut budget leaves each its best
    found: list[list[Memory]] = []
    for question in asked:
        found.append(shown_memories(mind, [h.memory for h in await recall(ctx, trace, mind, question, "reflection",
                                                                          k=s.retrieve_reflect)]))
    evidence = list({m.id: m for m in chain.from_iterable(zip_longest(*found)) if m is not None}.values())
    texts = fit_memories([m.description for m in evidence], " ".join(asked), s.prompt_tokens)
    shown = [(m.id, text) for m, text in zip(evidence, texts, strict=False)]
    if not shown:
        return ReflectResult(asked, [], [])
    got = await ask(ctx, trace, name, reflection.insights_step(n_q * n_i),
                    reflection.render_insights(name, asked, shown, n_i),
                    reflection.answer_model(shown, n_i, len(asked), s.choices),
                    lambda a: reflection.check_insights(a, shown, n_i, len(asked)),
                    lambda: reflection.fallback_insights(name, asked, shown, n=n_i))
    kept = list(got.insights)
    items = await _embedded(ctx, trace, name, kept)
    return ReflectResult(asked, [(str(i.insight), [int(e) for e in i.evidence]) for i in kept], items)


async def _embedded(ctx: Context, trace: Trace, name: str, insights: list[reflection.Insight]) -> list[NewMemory]:
    """The insights as thoughts ready to store: rated by their answer, embedded here (zeros, and a fallback,
    when the embedder fails: found by importance and recency only)."""
    if not insights:
        return []
    texts = [str(i.insight) for i in insights]
    number = trace.calls
    try:
        vectors = await ctx.embedder.embed(texts)
    except InferenceError as exc:
        log.info("embedding the insights of %s failed: %s", name, exc)
        trace.fallback(name, "embed", number)
        vectors = np.zeros((len(texts), ctx.dim), dtype=np.float32)
    return [NewMemory(text, "thought", "reflection", trace.tick, None, tuple(int(e) for e in ins.evidence),
                      int(ins.importance), [float(x) for x in vectors[i]])
            for i, (text, ins) in enumerate(zip(texts, insights, strict=True))]
