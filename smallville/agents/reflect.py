"""Reflection as a thought: from recent memories to questions, from questions to retrieved evidence, from
evidence to insights that cite it.

Owns the reflection thought (Park et al. 2023, 4.2). Triggered by the apply step when the summed
importance of new memories passes the threshold. The salient questions come from the resident's latest
memories; each question retrieves its own evidence; one insights call sees the evidence of all the
questions together (at most 15 memories, each shown with its id) and must cite it. The insights become
thoughts whose evidence links point at the cited memories, and since insights can be cited by later
insights the links form trees.

Two calls per reflection instead of the paper's one per question: the budget of 60 calls per resident
per day does not allow more, and one call over the union of the evidence still answers every question.
"""

from __future__ import annotations

from smallville.agents.prompts import reflection
from smallville.agents.results import ReflectResult
from smallville.agents.state import ResidentMind
from smallville.agents.think import Context, Trace, ask, recall

#: Evidence retrieved per question, and the most shown to the insights call.
PER_QUESTION = 5
MAX_CANDIDATES = 15


async def reflect(ctx: Context, trace: Trace, mind: ResidentMind) -> ReflectResult:
    """The questions asked and the insights, each with the ids of the memories it cites."""
    name = mind.name
    recent = [m.description for m in mind.stream.recent(ctx.settings.reflect_recent)]
    questions = await ask(ctx, trace, name, reflection.QUESTIONS, reflection.render_questions(name, recent),
                          reflection.Questions, reflection.check_questions, lambda: reflection.fallback_questions(name))
    candidates: dict[int, str] = {}
    for question in questions.questions:
        for hit in await recall(ctx, trace, mind, question, "reflection", k=PER_QUESTION):
            candidates.setdefault(hit.memory.id, hit.memory.description)
    shown = list(candidates.items())[:MAX_CANDIDATES]
    if not shown:
        return ReflectResult(list(questions.questions), [])
    topic = "; ".join(questions.questions)
    insights = await ask(ctx, trace, name, reflection.INSIGHTS, reflection.render_insights(name, topic, shown),
                         reflection.answer_model(shown), lambda a: reflection.check_insights(a, shown),
                         lambda: reflection.fallback_insights(name, questions.questions[0], shown))
    return ReflectResult(list(questions.questions),
                         [(i.insight, [int(e) for e in i.evidence]) for i in insights.insights])
