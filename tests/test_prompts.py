"""The cognitive steps' prompts, checks and fallbacks, without a model: prompts stay within their token
budgets, hand-made bad answers are repaired or rejected, and every fallback is a valid, counted answer."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from smallville.agents.prompts import FALLBACKS, AnswerRejected, approx_tokens, ask, place, reset_fallbacks, social
from smallville.agents.prompts import importance as imp
from smallville.agents.prompts import planning as pl
from smallville.agents.prompts import reflection as rf
from smallville.agents.prompts.common import Step, closest, day_minute
from smallville.config import PROJECT_ROOT
from smallville.inference.base import AnswerInvalid, CallOptions, Message
from smallville.world.residents import Resident

MEMORIES = ["Isabella is setting up tables at Hobbs Cafe", "Klaus Mueller said he is writing a research paper",
            "Maria Lopez is studying for a physics exam", "the coffee machine at Hobbs Cafe is broken",
            "Tom Moreno complained about the prices at the store", "Isabella invited Maria to the party",
            "Sam Moore is running for mayor", "Ayesha Khan is reading Shakespeare in the park"]
CANDIDATES = list(zip(range(40, 48), MEMORIES, strict=True))


def residents() -> list[Resident]:
    doc = tomllib.loads((PROJECT_ROOT / "maps" / "the_ville" / "residents.toml").read_text(encoding="utf-8"))
    return [Resident.model_validate(d) for d in doc["residents"]]


@pytest.fixture(scope="module")
def isabella() -> Resident:
    return next(r for r in residents() if r.name == "Isabella Rodriguez")


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    reset_fallbacks()


def bad(model: type[BaseModel], **fields: Any) -> Any:
    """An answer that bypasses validation: what a replay or a prompt-mode endpoint could hand over."""
    return model.model_construct(**fields)


def span(start: str, minutes: int, activity: str = "work at the cafe") -> pl.Span:
    h, m = start.split(":")
    return pl.Span(int(h) * 60 + int(m), minutes, activity)


# -- budgets --------------------------------------------------------------------------------------------


def test_every_prompt_is_short(isabella: Resident) -> None:
    plan = pl.check_daily(pl.fallback_daily(isabella), isabella)
    hourly = pl.check_hourly(pl.fallback_hourly(isabella, plan), isabella)
    budgets: list[tuple[str, list[Message], int]] = [
        ("importance", imp.render(isabella.name, MEMORIES), 220),
        ("daily", pl.render_daily(isabella, "Tuesday February 14", "A busy day at the cafe. " * 8, MEMORIES), 260),
        ("hourly", pl.render_hourly(isabella, plan), 220),
        ("replan", pl.render_hourly(isabella, plan, start=15 * 60, event="Maria Lopez is crying"), 240),
        ("decompose", pl.render_decompose(isabella, hourly.spans[2], "breakfast", "lunch"), 140),
        ("place", place.render("sector", isabella.name, "buy party decorations",
                               ["Hobbs Cafe", "Harvey Oak Supply Store", "Johnson Park", "Isabella's apartment"],
                               here="Hobbs Cafe"), 100),
        ("object_state", place.render_object_state(isabella.name, "make an espresso", "coffee machine"), 60),
        # up to 10 memories within 150 tokens (issue 13: a budget of tokens, no longer 5 cut at 140 characters)
        ("react", social.render_react(isabella, 600, "serving customers", "Klaus Mueller is entering", MEMORIES), 210),
        ("turn", social.render_turn(isabella, "Klaus Mueller", [("Klaus Mueller", "Hello there! " * 10)] * 9,
                                    relation="a regular", memories=MEMORIES, situation="at Hobbs Cafe"), 380),
        ("questions", rf.render_questions(isabella.name, MEMORIES * 3), 450),
        ("insights", rf.render_insights(isabella.name, "What is Isabella busy with?", CANDIDATES), 220),
        ("interview", social.render_interview(isabella, "Who is running for mayor?", MEMORIES * 2), 280),
        # the whole talk, every line whole (where its point is kept: issue 13), and the day's plan in a line
        ("digest", social.render_digest(isabella, "Klaus Mueller", [("Klaus Mueller", "Hello there! " * 15)] * 10,
                                        situation="Monday February 13, 08:10, at Hobbs Cafe: cafe",
                                        plans="A busy day at the cafe. " * 12), 700),
        ("interview_turns", social.render_interview(isabella, "Who is running for mayor?", MEMORIES * 2,
                                                    earlier=[("What is new? " * 10, "Nothing much. " * 20)] * 5),
         700),
    ]
    for name, messages, budget in budgets:
        assert messages and all(isinstance(m, Message) and m.content for m in messages), name
        assert approx_tokens(messages) <= budget, (name, approx_tokens(messages))
    # only what is passed in: at most 10 memories in a turn (within its token budget: issue 13), 6 lines
    turn = budgets[8][1][-1].content
    assert turn.count("Klaus Mueller: ") == social.TRANSCRIPT_LINES and "8. " in turn and "11. " not in turn


def test_persona_is_two_or_three_lines(isabella: Resident) -> None:
    for r in residents():
        system = pl.render_daily(r, "Monday February 13")[0].content
        assert 2 <= len(system.splitlines()) <= 3 and r.name in system
        assert approx_tokens([Message("system", system)]) <= 110


# -- importance -----------------------------------------------------------------------------------------


def test_importance_batch_repairs_lengths_and_ranges() -> None:
    model = imp.answer_model(3)
    assert model(scores=[1, 5, 10]).scores == [1, 5, 10]
    with pytest.raises(ValidationError):
        model(scores=[1, 5])
    assert imp.check(bad(model, scores=[7]), 3).scores == [7, imp.DEFAULT_SCORE, imp.DEFAULT_SCORE]
    assert imp.check(bad(model, scores=[0, 11, 3, 9]), 3).scores == [1, 10, 3]
    with pytest.raises(AnswerRejected):
        imp.check(bad(model, scores=[]), 3)
    fb = imp.fallback(3)
    assert isinstance(fb, model) and fb.scores == [4, 4, 4] and FALLBACKS["importance"] == 1
    assert imp.step_for(12).max_tokens >= 12 * 3


# -- daily plan -----------------------------------------------------------------------------------------


def chunks(*pairs: tuple[str, str]) -> pl.DayPlan:
    return bad(pl.DayPlan, chunks=[pl.PlanChunk.model_construct(start=s, activity=a) for s, a in pairs])


def test_daily_plan_is_sorted_kept_within_the_day_and_tiled(isabella: Resident) -> None:
    answer = chunks(("12:00", "lunch"), ("06:00", "wake up"), ("08:00", "open the cafe"), ("03:00", "dance"),
                    ("25:99", "nonsense"), ("18:00", "party"), ("08:00", "duplicate start"), ("14:00", "  "))
    plan = pl.check_daily(answer, isabella)
    assert [s.activity for s in plan.spans] == ["wake up", "open the cafe", "lunch", "party"]
    assert plan.spans[0].start == isabella.wake_minute and plan.spans[-1].end == isabella.bed_minute
    assert all(a.end == b.start for a, b in zip(plan.spans, plan.spans[1:], strict=False))


def test_daily_plan_opens_at_waking_and_rejects_too_little(isabella: Resident) -> None:
    plan = pl.check_daily(chunks(("09:00", "open"), ("12:00", "lunch"), ("17:00", "party")), isabella)
    assert plan.spans[0].start == isabella.wake_minute and plan.spans[0].activity == "wake up and get ready"
    with pytest.raises(AnswerRejected):
        pl.check_daily(chunks(("02:00", "x y"), ("03:00", "sleep walk"), ("12:00", "lunch")), isabella)


def test_daily_fallback_for_every_resident_is_valid_and_counted() -> None:
    people = residents()
    for r in people:
        fb = pl.fallback_daily(r)
        pl.DayPlan.model_validate(fb.model_dump())  # a real instance, not constructed around validation
        plan = pl.check_daily(fb, r)
        assert plan.spans[0].start == r.wake_minute and plan.spans[-1].end == r.bed_minute
        assert 5 <= len(plan.spans) <= 8
    assert FALLBACKS["daily_plan"] == len(people)


def test_after_midnight_bedtime_sorts_last() -> None:
    assert day_minute("00:30", 9 * 60) == 24 * 60 + 30
    assert day_minute("08:00", 9 * 60) == 8 * 60
    owl = next(r for r in residents() if r.bed_minute > 24 * 60) if any(
        r.bed_minute > 24 * 60 for r in residents()) else None
    if owl is not None:
        plan = pl.check_daily(pl.fallback_daily(owl), owl)
        assert plan.spans[-1].end == owl.bed_minute


# -- hourly schedule ------------------------------------------------------------------------------------


def blocks(*triples: tuple[str, int, str]) -> pl.HourlySchedule:
    return bad(pl.HourlySchedule, blocks=[pl.HourBlock.model_construct(start=s, minutes=m, activity=a)
                                          for s, m, a in triples])


def test_hourly_durations_follow_the_clock_times(isabella: Resident) -> None:
    # durations that do not add up: the in-order clock times win, the last block runs to bedtime
    answer = blocks(("06:00", 240, "wake up"), ("07:00", 30, "open the cafe"), ("12:00", 30, "lunch"),
                    ("13:00", 60, "serve customers"))
    sched = pl.check_hourly(answer, isabella)
    assert [s.minutes for s in sched.spans] == [60, 300, 60, 23 * 60 - 13 * 60]
    assert sum(s.minutes for s in sched.spans) == isabella.bed_minute - isabella.wake_minute


def test_hourly_out_of_order_times_are_laid_end_to_end(isabella: Resident) -> None:
    answer = blocks(("09:00", 60, "wake up"), ("07:00", 120, "open the cafe"), ("nope", 240, "serve"),
                    ("10:00", 240, "serve more"), ("01:00", 240, "clean"), ("02:00", 240, "close"))
    sched = pl.check_hourly(answer, isabella)
    assert [s.start for s in sched.spans] == [360, 420, 540, 780, 1020, 1260]
    assert sched.spans[-1].end == isabella.bed_minute  # the last block was cut at bedtime


def test_hourly_replan_from_now_and_rejects_empty(isabella: Resident) -> None:
    answer = blocks(("14:00", 60, "earlier, dropped"), ("15:10", 60, "comfort Maria"), ("17:00", 120, "party"))
    sched = pl.check_hourly(answer, isabella, start=15 * 60)
    assert sched.spans[0].start == 15 * 60 and sched.spans[0].activity == "comfort Maria"
    assert sched.spans[-1].end == isabella.bed_minute
    with pytest.raises(AnswerRejected):
        pl.check_hourly(blocks(("08:00", 60, " "), ("09:00", 60, "!!")), isabella)


def test_hourly_fallback_is_valid_and_counted(isabella: Resident) -> None:
    plan = pl.check_daily(pl.fallback_daily(isabella), isabella)
    for start in (None, 21 * 60, 22 * 60 + 50):
        fb = pl.fallback_hourly(isabella, plan, start=start)
        pl.HourlySchedule.model_validate(fb.model_dump())
        sched = pl.check_hourly(fb, isabella, start=start)
        assert sched.spans[0].start == (start or isabella.wake_minute)
        assert sched.spans[-1].end == isabella.bed_minute
    assert FALLBACKS["hourly_schedule"] == 3


# -- decomposition --------------------------------------------------------------------------------------


def actions(*pairs: tuple[str, int]) -> pl.Actions:
    return bad(pl.Actions, actions=[pl.Action.model_construct(action=a, minutes=m) for a, m in pairs])


def test_decomposition_adds_up_to_the_block() -> None:
    block = span("08:00", 60)
    long = pl.check_decompose(actions(("unlock", 15), ("brew coffee", 30), ("wipe tables", 30), ("x", 5)), block)
    assert [s.minutes for s in long.spans] == [15, 30, 15]
    short = pl.check_decompose(actions(("unlock", 5), ("", 10), ("brew coffee", 10)), block)
    assert [s.minutes for s in short.spans] == [5, 10, 45] and short.spans[-1].end == block.end
    assert [s.start for s in short.spans] == [480, 485, 495] and short.spans[-1].activity == block.activity
    nearly = pl.check_decompose(actions(("unlock", 15), ("brew coffee", 30)), block)
    assert [s.minutes for s in nearly.spans] == [15, 45]  # 15 short or less: the last action runs on
    junk = pl.check_decompose(actions(("2. work at Hobbs Cafe } }, {", 30),), block)
    assert junk.spans[0].activity == "work at Hobbs Cafe"
    with pytest.raises(AnswerRejected):
        pl.check_decompose(actions(("", 15), ("?", 15)), block)


def test_decomposition_fallback_is_valid_and_counted() -> None:
    for block in (span("08:00", 60), span("13:00", 420), span("22:50", 10)):
        fb = pl.fallback_decompose(block)
        pl.Actions.model_validate(fb.model_dump())
        sched = pl.check_decompose(fb, block)
        assert sum(s.minutes for s in sched.spans) == block.minutes
    assert FALLBACKS["decompose"] == 3


# -- place ----------------------------------------------------------------------------------------------

SECTORS = ["Hobbs Cafe", "Harvey Oak Supply Store", "Johnson Park", "The Rose and Crown Pub"]


def test_place_choice_is_a_literal_of_the_known_options() -> None:
    model = place.answer_model(SECTORS)
    assert model(choice="Johnson Park").choice == "Johnson Park"
    with pytest.raises(ValidationError):
        model(choice="Town Hall")
    assert place.answer_model(SECTORS) is model  # built once per option list
    assert place.only_option(["kitchen"]) == "kitchen" and place.only_option(SECTORS) is None


def test_place_check_maps_near_misses_and_rejects_unknown() -> None:
    loose = place.PlaceChoice.model_construct
    assert place.check(loose(choice="hobbs cafe"), SECTORS).choice == "Hobbs Cafe"
    assert place.check(loose(choice="Harvey Oak Supply"), SECTORS).choice == "Harvey Oak Supply Store"
    assert place.check(loose(choice="Jonson Prak"), SECTORS).choice == "Johnson Park"
    with pytest.raises(AnswerRejected):
        place.check(loose(choice="Town Hall"), SECTORS)
    assert closest("", SECTORS) is None


def test_place_fallback_prefers_given_places() -> None:
    fb = place.fallback(SECTORS, preferred=["Moreno house", "Johnson Park"])
    assert isinstance(fb, place.answer_model(SECTORS)) and fb.choice == "Johnson Park"
    assert place.fallback(SECTORS).choice == "Hobbs Cafe"
    assert place.check(fb, SECTORS).choice == "Johnson Park" and FALLBACKS["place"] == 2


def test_object_state() -> None:
    loose = place.ObjectState.model_construct
    assert place.check_object_state(loose(state="The coffee machine is brewing coffee."),
                                    "coffee machine").state == "brewing coffee"
    with pytest.raises(AnswerRejected):
        place.check_object_state(loose(state=" ... "), "bed")
    fb = place.fallback_object_state("make coffee")
    assert fb.state == "in use" and place.check_object_state(fb, "coffee machine") == fb
    assert FALLBACKS["object_state"] == 1


# -- react, conversation, interview ---------------------------------------------------------------------


def test_react() -> None:
    assert social.check_react(bad(social.Reaction, react="yes", reason="")).reason == "no reason given"
    with pytest.raises(AnswerRejected):
        social.check_react(bad(social.Reaction, react="maybe", reason="hm"))
    fb = social.fallback_react()
    assert fb.react == "no" and social.check_react(fb) == fb and FALLBACKS["react"] == 1


def test_conversation_turn_rejects_empty_and_parroted_lines_and_ends_at_the_limit() -> None:
    talk = [("Klaus Mueller", "Good morning, Isabella!"), ("Isabella Rodriguez", "Morning, Klaus!")]
    with pytest.raises(AnswerRejected):
        social.check_turn(bad(social.Turn, utterance="  ", end=False), talk)
    with pytest.raises(AnswerRejected):
        social.check_turn(bad(social.Turn, utterance="good morning,   Isabella!", end=False), talk)
    with pytest.raises(AnswerRejected):  # the transcript's layout copied back
        social.check_turn(bad(social.Turn, utterance="Isabella Rodriguez: Morning, Klaus", end=False), talk)
    ok = social.check_turn(bad(social.Turn, utterance='Klaus Mueller: How is the "paper" going?', end=False), talk)
    assert ok.utterance == "How is the paper going?" and not ok.end
    long_talk = talk * (social.MAX_TURNS // 2)
    assert social.check_turn(bad(social.Turn, utterance="And you?", end=False), long_talk[:-1]).end


def test_conversation_fallback_greets_then_says_goodbye() -> None:
    hello = social.fallback_turn("Klaus Mueller", [])
    bye = social.fallback_turn("Klaus Mueller", [("Klaus Mueller", "Hi!")])
    assert not hello.end and "Klaus" in hello.utterance and bye.end
    assert social.check_turn(bye, [("Klaus Mueller", "Hi!")]).end and FALLBACKS["conversation"] == 2


def test_interview() -> None:
    assert social.check_interview(bad(social.InterviewAnswer, answer="Sam Moore.\n")).answer == "Sam Moore."
    with pytest.raises(AnswerRejected):
        social.check_interview(bad(social.InterviewAnswer, answer="\n\n"))
    fb = social.fallback_interview()
    assert social.check_interview(fb) == fb and FALLBACKS["interview"] == 1


# -- reflection -----------------------------------------------------------------------------------------


def test_reflection_questions() -> None:
    got = rf.check_questions(bad(rf.Questions, questions=["What is Isabella planning?", "what is isabella planning",
                                                          "?", "Why?", "Who does Isabella trust most?"]))
    assert got.questions == ["What is Isabella planning?", "Who does Isabella trust most?"]
    with pytest.raises(AnswerRejected):
        rf.check_questions(bad(rf.Questions, questions=["", "??"]))
    fb = rf.fallback_questions("Isabella Rodriguez")
    assert len(rf.check_questions(fb).questions) == 3 and FALLBACKS["reflection_questions"] == 1


def test_insight_evidence_is_restricted_to_the_candidates() -> None:
    model = rf.answer_model(CANDIDATES)
    # each insight comes rated (1-10): it enters the stream without a rating call of its own
    model.model_validate({"insights": [{"insight": "Isabella is planning a party", "evidence": [45, 40],
                                        "importance": 7}]})
    with pytest.raises(ValidationError):
        model.model_validate({"insights": [{"insight": "Isabella is planning a party", "evidence": [7],
                                            "importance": 7}]})
    with pytest.raises(ValidationError):  # unrated
        model.model_validate({"insights": [{"insight": "Isabella is planning a party", "evidence": [45]}]})
    loose = rf.Insights.model_construct(insights=[
        rf.Insight.model_construct(insight="Isabella is planning a party", evidence=[45, 99, 45]),
        rf.Insight.model_construct(insight="Klaus works hard", evidence=[3]),  # no candidate cited: dropped
    ])
    got = rf.check_insights(loose, CANDIDATES)
    assert [(i.insight, i.evidence) for i in got.insights] == [("Isabella is planning a party", [45])]
    with pytest.raises(AnswerRejected):
        rf.check_insights(rf.Insights.model_construct(insights=[
            rf.Insight.model_construct(insight="made up", evidence=[1, 2])]), CANDIDATES)


def test_insight_fallback_cites_the_top_candidates() -> None:
    fb = rf.fallback_insights("Isabella Rodriguez", "What is Isabella busy with?", CANDIDATES)
    assert isinstance(fb, rf.answer_model(CANDIDATES))
    got = rf.check_insights(fb, CANDIDATES)
    assert got.insights[0].evidence == [40, 41] and FALLBACKS["reflection_insights"] == 1
    # several questions in one call: one thought a question, each naming its question
    asked = ["What is Isabella busy with?", "Who is Klaus?"]
    many = rf.check_insights(rf.fallback_insights("Isabella Rodriguez", asked, CANDIDATES), CANDIDATES, questions=2)
    assert [i.question for i in many.insights] == [1, 2] and "Klaus" in many.insights[1].insight


def test_insights_for_several_questions_in_one_call_keep_five_each() -> None:
    model = rf.answer_model(CANDIDATES, 5, 3)
    with pytest.raises(ValidationError):  # which question it answers is part of the answer
        model.model_validate({"insights": [{"insight": "x y z", "evidence": [40], "importance": 5}]})
    loose = rf.Insights.model_construct(insights=[
        rf.Insight.model_construct(insight=f"insight {q} {k}", evidence=[40 + k % 8], importance=6, question=q)
        for q in (1, 2, 3, 9) for k in range(7)])
    got = rf.check_insights(loose, CANDIDATES, 5, questions=3)
    per = [sum(i.question == q for i in got.insights) for q in (1, 2, 3)]
    assert per == [5, 5, 5]  # at most 5 a question; a question out of range counts as the first (full)
    prompt = rf.render_insights("Isabella Rodriguez", ["Q one?", "Q two?", "Q three?"], CANDIDATES)[0].content
    assert "1. Q one?" in prompt and "For each question, what 5 high-level insights" in prompt


# -- ask: call, check, fall back ------------------------------------------------------------------------


class _Scripted:
    """A LanguageModel answering from a script: an answer, or an exception to raise."""

    def __init__(self, *answers: object):
        self.answers = list(answers)
        self.calls: list[CallOptions] = []

    async def complete_model(self, messages: Sequence[Message], answer: type[Any], options: CallOptions) -> Any:
        self.calls.append(options)
        got = self.answers.pop(0)
        if isinstance(got, Exception):
            raise got
        return got

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        raise NotImplementedError


def test_ask_checks_and_falls_back() -> None:
    step = Step("react", 64)
    lm = _Scripted(social.Reaction(react="yes", reason="a friend"), AnswerInvalid("garbage"),
                   bad(social.Reaction, react="perhaps", reason="x"))

    async def go() -> list[tuple[object, str]]:
        return [await ask(lm, step, [Message("user", "?")], social.Reaction, social.check_react,
                          social.fallback_react) for _ in range(3)]

    results = asyncio.run(go())
    assert [status for _, status in results] == ["ok", "fallback", "fallback"]
    assert results[1][0] == social.fallback_react() and FALLBACKS["react"] == 3  # 2 in ask + 1 here
    assert lm.calls[0].purpose == "react" and lm.calls[0].max_tokens == 64


# -- closed choices (the embedded model's profile) -----------------------------------------------------


def test_closed_day_plan_is_a_choice_per_fixed_time_and_every_pick_is_sensible() -> None:
    """Whatever a grammar-constrained model picks, the plan is in order, awake, made of the persona's own
    activities at fitting times: the quality measure finds every such plan sensible."""
    from smallville.bench.quality import TownWords, judge_plan

    people = residents()
    town = TownWords.of(people)
    for r in people:
        p = pl.daily(r, "Monday February 13", notes=["Isabella is planning a party at Hobbs Cafe"], choices="closed")
        assert p.step.name == "daily_plan" and p.step.frequency_penalty == 0.0
        props = p.answer.model_json_schema()["properties"]
        times = list(props)
        assert times == sorted(times, key=lambda t: day_minute(t, r.wake_minute)) and len(times) <= 8
        slots = pl.day_choices(r, ["Isabella is planning a party at Hobbs Cafe"])
        for pick in range(3):  # the first, second and third option of every time (or its last)
            answer = p.answer.model_validate({t: spec["enum"][min(pick, len(spec["enum"]) - 1)]
                                              for t, spec in props.items()})
            plan = p.check(answer)
            assert plan.spans[0].start == r.wake_minute and plan.spans[0].activity == "wake up and get ready"
            assert plan.spans[-1].end == r.bed_minute
            verdict = judge_plan([(s.start % 1440, s.activity) for s in plan.spans], r, town)
            assert verdict.sensible, (r.name, plan.lines(), verdict)
            assert {s.activity for s in plan.spans} <= {o for s in slots for o in s.options} | {"wake up and get ready"}
        with pytest.raises(ValidationError):  # the grammar's enum, as pydantic checks it
            p.answer.model_validate({t: "lil-fjör" for t in props})
        fb = p.fallback()
        assert p.check(fb).spans[-1].end == r.bed_minute
    assert FALLBACKS["daily_plan"] == len(people)


def test_closed_day_plan_offers_a_place_todays_notes_name() -> None:
    latoya = next(r for r in residents() if r.name == "Latoya Williams")  # knows Hobbs Cafe, not a haunt of hers
    assert all("go to Hobbs Cafe" not in s.options for s in pl.day_choices(latoya))
    noted = pl.day_choices(latoya, ["Isabella invited me to a party at Hobbs Cafe"])
    offered = [s.minute for s in noted if "go to Hobbs Cafe" in s.options]
    assert offered and min(offered) >= 14 * 60 and noted[-1].minute not in offered  # not instead of bedtime
    assert all(s.options[-1] == "go to Hobbs Cafe" for s in noted if s.minute in offered)  # last: not pushed


def test_routine_reads_the_persona() -> None:
    from smallville.agents.prompts import routine

    people = {r.name: r for r in residents()}
    assert routine.interests(people["Latoya Williams"]) == ("build a photo series",)
    assert routine.interests(people["Klaus Mueller"]) == ("write a research paper",)
    assert routine.interests(people["Rajiv Patel"]) == ("get ready for my first solo exhibition",
                                                         "teach myself the guitar")
    assert routine.interests(people["Sam Moore"]) == ()  # retired: no trade to fall back on
    assert routine.work_activities(people["Klaus Mueller"])[0] == "attend classes at Oak Hill College"
    assert routine.options_at(people["Klaus Mueller"], 12 * 60 + 30)[:2] == (
        "attend classes at Oak Hill College", "study in the library at Oak Hill College")
    assert routine.options_at(people["Klaus Mueller"], 22 * 60 + 15)[0] == routine.WIND_DOWN
    for r in people.values():
        assert all(len(a) <= 60 and has_plain_words(a) for a in routine.usual_activities(r)), r.name


def has_plain_words(text: str) -> bool:
    return all(w.replace("'", "").isalpha() for w in text.split())


def test_closed_hourly_blocks_follow_the_plan_and_replan_offers_what_came_up(isabella: Resident) -> None:
    p = pl.daily(isabella, "Monday February 13", choices="closed")
    plan = p.check(p.fallback())
    h = pl.hourly(isabella, plan, choices="closed")
    slots = pl.hourly_choices(isabella, plan)
    assert slots[0].minute == isabella.wake_minute and len(slots) <= 12
    for slot in slots:  # each block offers its part of the plan first, and lasts at most two hours
        assert slot.options[0] == plan.at(slot.minute).activity  # type: ignore[union-attr]
    assert all(b.minute - a.minute <= pl.HOURLY_BLOCK + 30 for a, b in pairwise(slots))
    sched = h.check(h.fallback())
    assert sched.spans[0].start == isabella.wake_minute and sched.spans[-1].end == isabella.bed_minute
    assert [s.activity for s in sched.spans] == [s.activity for s in plan.spans]  # the first options: the plan
    again = pl.hourly(isabella, plan, start=15 * 60 + 7, event="Maria Lopez asked for help", choices="closed")
    first = pl.hourly_choices(isabella, plan, 15 * 60 + 7, "Maria Lopez asked for help")[0]
    assert first.minute == 15 * 60 + 7 and first.options[0] == "Maria Lopez asked for help"
    replanned = again.check(again.fallback())
    assert replanned.spans[0].start == 15 * 60 + 7 and replanned.spans[-1].end == isabella.bed_minute
    # a replayed answer that names no option is mapped to the nearest, or rejected
    loose = h.answer.model_construct(**{name: "have a breakfast" if key == "06:30" else options[0]
                                        for name, (key, options) in zip(h.answer.model_fields, pl._asked(slots),
                                                                        strict=True)})
    assert h.check(loose).spans[1].activity == "have breakfast"
    with pytest.raises(AnswerRejected):
        h.check(h.answer.model_construct(**dict.fromkeys(h.answer.model_fields, "zzz")))
    assert FALLBACKS["daily_plan"] == 1 and FALLBACKS["hourly_schedule"] == 2


def test_plain_words_shut_out_urls_code_and_letter_soup() -> None:
    from pydantic import TypeAdapter

    from smallville.agents.prompts.common import plain_words

    sentence = TypeAdapter(plain_words(24, min_words=3, sentence=True))
    for ok in ("Hi Klaus, how is your day going?", "Did you hear? Sam Moore is running for mayor.",
               "I open the cafe at 8:00 today."):
        sentence.validate_python(ok)
    for no in ("hi Klaus, how are you", "Hi there", "Read https://x.io/a now", "Hi  there you", "lil-fjör is here",
               "Go go moohoorrddammerderdammahreemwadawid now", 'He said "hi" there', "A {b} c"):
        with pytest.raises(ValidationError):
            sentence.validate_python(no)
    block = span("08:00", 30, "work at Hobbs Cafe")
    plain = pl.decompose(isabella_of(), block, choices="closed")
    assert plain.answer is pl.PlainActions and plain.answer.model_json_schema()["title"] == "Actions"
    for junk in ("go_home20am babu.com/womens", "1", "2. have breakfast"):
        with pytest.raises(ValidationError):
            pl.PlainActions.model_validate({"actions": [{"action": junk, "minutes": 5}]})
    odd = span("08:00", 30, 'read "Hamlet" {again}')
    fb = pl.fallback_decompose(odd, plain=True)
    assert isinstance(fb, pl.PlainActions) and pl.check_decompose(fb, odd).spans[0].activity == "read Hamlet again"


def isabella_of() -> Resident:
    return next(r for r in residents() if r.name == "Isabella Rodriguez")


def test_closed_turn_picks_a_topic_then_speaks_plainly() -> None:
    memories = ["Sam Moore is running for mayor",
                "Conversation with Maria Lopez at Hobbs Cafe: cafe. Maria: I am studying for a physics exam today"]
    p = social.turn(isabella_of(), "Klaus Mueller", [], memories=memories, choices="closed")
    assert p.step.top_p == 0.9 and p.step.options(1).extra == {"frequency_penalty": 0.3, "top_p": 0.9}
    topics = p.answer.model_json_schema()["properties"]["about"]["enum"]
    assert topics == ["Sam Moore is running for mayor", "Maria: I am studying for a physics exam today"]
    assert social.turn_topics("Klaus Mueller", []) == ("how Klaus's day is going",)  # small talk: nothing else
    assert list(p.answer.model_json_schema()["properties"]) == ["about", "utterance", "end"]
    said = p.check(p.answer(about=topics[0], utterance="Did you hear? Sam Moore is running for mayor.", end=False))
    assert said.utterance.startswith("Did you hear?")
    with pytest.raises(ValidationError):
        p.answer(about="the weather", utterance="Nice weather today, Klaus.", end=False)
    assert p.messages[-1].content.endswith("then say it in one or two short sentences.")
    fb = p.fallback()
    assert isinstance(fb, p.answer) and p.check(fb).utterance == "Hi Klaus, how are you doing?"
    assert fb.about == topics[-1]
    assert FALLBACKS["conversation"] == 1
    opened = social.turn(isabella_of(), "Klaus Mueller", [], memories=memories)
    assert opened.answer is social.Turn and opened.step is social.TURN  # open: as before


def test_step_sampling_reaches_the_call_options() -> None:
    assert pl.DAILY.options(3).extra == {"frequency_penalty": 0.3}  # unchanged for the open prompts
    assert pl.DAILY_CHOICE.options(3).extra == {} and pl.DAILY_CHOICE.options(3).temperature == 0.3
    assert Step("x", 10, top_p=0.5, frequency_penalty=0.0).options(None, stop=["\n"]).extra == {
        "top_p": 0.5, "stop": ["\n"]}


def test_getting_up_has_fixed_steps_when_closed() -> None:
    wake = pl.Span(7 * 60, 30, "wake up and get ready")
    steps = pl.fixed_steps(wake, "closed")
    assert steps is not None and [(s.start, s.minutes, s.activity) for s in steps.spans] == [
        (420, 5, "get out of bed"), (425, 15, "wash and get dressed"), (440, 10, "get ready for the day")]
    assert pl.fixed_steps(wake, "open") is None
    assert pl.fixed_steps(span("07:00", 30, "have breakfast"), "closed") is None
    short = pl.fixed_steps(pl.Span(7 * 60, 20, "wake up and get ready"), "closed")
    assert short is not None and sum(s.minutes for s in short.spans) == 20 and short.spans[-1].end == 440
