"""Reflection at the paper's size, on a hand-built memory stream: the questions come from the 100 latest
memories, each of the 3 questions gets its own evidence and up to 5 insights citing it (15 at most, in one
call), the insights arrive rated and embedded, and a later reflection cites earlier insights (the tree)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from minds_kit import HOUR, Prompts, context, mind

from smallville.agents import reflect
from smallville.agents.apply import Applier
from smallville.agents.results import ReflectResult
from smallville.agents.state import Minds
from smallville.agents.think import Trace
from smallville.core.clock import Clock
from smallville.world.residents import load_residents
from smallville.world.town import load_town

ADA = "Ada Lovelace"


def _stream(n: int) -> list[tuple[str, str, str, int, int]]:
    """n memories of a day: sights, talks and plans about several people and things, oldest first."""
    topics = ["Bob Builder is fixing the park bench", "Ada Lovelace is sketching a kite frame",
              "Conversation with Bob Builder. Bob: the kite festival needs volunteers on Saturday",
              "Grace Hopper is reading about compilers in the library", "the cooking area is in use: boiling water",
              "Ada Lovelace decided to build a bigger kite for the festival"]
    return [(f"{topics[i % len(topics)]} ({i})", "thought" if i % 6 == 5 else "event",
             "planning" if i % 6 == 5 else "observation", i * 60, 2 + i % 7) for i in range(n)]


class _Sim:
    tick = 20 * HOUR

    def __init__(self) -> None:
        self.emitted: list[object] = []

    def emit(self, events: list[object]) -> None:
        self.emitted.extend(events)

    def interrupt(self, who: str) -> None:
        pass


def test_three_questions_and_up_to_five_insights_each_with_evidence(small_town: tuple[Path, Path]) -> None:
    town = load_town(small_town[0])
    residents = load_residents(small_town[1], town)
    m = mind(next(r for r in residents if r.name == ADA), town, _stream(140))
    lm = Prompts()
    ctx = context(town, lm)
    trace = Trace(20 * HOUR)
    got = asyncio.run(reflect.reflect(ctx, trace, m))
    assert isinstance(got, ReflectResult)
    # the questions from the 100 latest memories (the paper), not the 30 or 15 of before
    (asked,) = lm.asked["reflection_questions"]
    shown = re.findall(r"\((\d+)\)$", asked, re.M)
    assert 90 <= len(shown) <= 100 and min(int(i) for i in shown) >= 40 and "the 3 most salient" in asked
    assert "subjects in the statements" in asked  # any subject, not only "about Ada"
    assert len(got.questions) == 3
    # each question retrieves its own 30 (retrieve_reflect); one call asks for 5 insights for each question
    retrievals = [r for r in trace.retrievals if r["purpose"] == "reflection"]
    assert len(retrievals) == 3 and all(len(r["ids"]) == 30 for r in retrievals)
    (insights_prompt,) = lm.asked["reflection_insights"]
    assert "For each question, what 5 high-level insights" in insights_prompt
    assert all(q in insights_prompt for q in got.questions)
    assert 6 < len(got.insights) <= 15
    assert all(evidence and len(evidence) <= 5 for _, evidence in got.insights)
    shown_ids = {int(i) for i in re.findall(r"^\[(\d+)\]", insights_prompt, re.M)}
    assert all(set(e) <= shown_ids for _, e in got.insights)  # only what the prompt showed
    # every question got its evidence in the prompt: its best memories are among those shown
    assert all(set(r["ids"][:5]) <= shown_ids for r in retrievals)
    # rated and embedded by the reflection itself: 2 calls in all, no rating call afterwards
    assert trace.calls == 2 and set(lm.asked) == {"reflection_questions", "reflection_insights"}
    assert [i.description for i in got.items] == [t for t, _ in got.insights]
    assert all(1 <= i.importance <= 10 and i.vector and i.tag == "reflection" for i in got.items)

    # applied: the insights enter the stream citing their evidence; a later reflection can cite them
    minds = Minds(town, Clock(), ctx.settings, {r.name: m if r.name == ADA else mind(r, town) for r in residents})
    sim = _Sim()
    Applier(minds)._reflect(sim, m, got, 20 * HOUR)  # type: ignore[arg-type]
    Applier(minds).flush(sim, m, 20 * HOUR)  # type: ignore[arg-type]
    insights = [x for x in m.stream if x.tag == "reflection"]
    assert len(insights) == len(got.insights) and all(x.evidence for x in insights)
    assert m.stream.importance_since_reflection == 0  # insights do not feed the trigger

    again = asyncio.run(reflect.reflect(ctx, Trace(22 * HOUR), m))
    ids = {x.id for x in insights}
    assert any(set(e) & ids for _, e in again.insights), "no insight cites an earlier one: no tree"


def test_the_economy_profile_reflects_smaller(small_town: tuple[Path, Path]) -> None:
    town = load_town(small_town[0])
    residents = load_residents(small_town[1], town)
    m = mind(next(r for r in residents if r.name == ADA), town, _stream(60))
    lm = Prompts()
    ctx = context(town, lm, reflect_recent=15, reflect_questions=1, reflect_insights=3, retrieve_reflect=5)
    trace = Trace(20 * HOUR)
    got = asyncio.run(reflect.reflect(ctx, trace, m))
    assert len(got.questions) == 1 and 1 <= len(got.insights) <= 3 and trace.calls == 2
    assert len(re.findall(r"^\d+\. ", lm.asked["reflection_questions"][0], re.M)) == 15


def test_the_most_questions_the_settings_allow_keep_every_insight() -> None:
    """reflect_questions and reflect_insights at their bounds (5 and 5): 25 insights are one answer."""
    from smallville.agents.prompts import reflection

    shown = [(i, f"memory {i}") for i in range(30)]
    model = reflection.answer_model(shown, 5, 5)
    answer = model.model_validate({"insights": [
        {"insight": f"Insight number {k} about the town", "evidence": [k], "importance": 5, "question": k % 5 + 1}
        for k in range(25)]})
    assert len(reflection.check_insights(answer, shown, 5, 5).insights) == 25
