"""Plans that follow talks and events, on hand-built memory streams: what a resident agreed to do on a later
day is on that day's plan at its time, a re-plan keeps today's commitments, the morning revises the
resident's status from what it remembers and the day plan hears of yesterday, not of yesterday's plan."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from minds_kit import DAY, HOUR, Prompts, add, context, mind

from smallville.agents import agenda, planner, thoughts
from smallville.agents.apply import Applier
from smallville.agents.memory import TALK_PLAN
from smallville.agents.prompts import planning as pl
from smallville.agents.results import DayResult, ReplanResult
from smallville.agents.state import Minds
from smallville.agents.think import Trace
from smallville.core.clock import Clock
from smallville.world.residents import load_residents
from smallville.world.town import load_town

ADA = "Ada Lovelace"
PARTY = ("For my plans after talking with Isabella Rodriguez: I will go to her Valentine's Day party at "
         "Hobbs Cafe tomorrow at 5 pm")


@pytest.fixture
def ada(small_town: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    town = load_town(small_town[0])
    residents = load_residents(small_town[1], town)
    return town, residents, next(r for r in residents if r.name == ADA)


def test_the_agenda_reads_days_and_times_relative_to_when_the_thought_was_had() -> None:
    monday = date(2023, 2, 13)
    assert agenda.read("the Valentine's Day party on February 14, 2023, from 5 to 7 pm", monday) == agenda.When(1, 1020)
    assert agenda.read("tomorrow at 5pm", monday) == agenda.When(1, 17 * 60)
    assert agenda.read("see Klaus tonight", monday) == agenda.When(0, None)
    assert agenda.read("lunch at noon on Wednesday", monday) == agenda.When(2, 12 * 60)
    assert agenda.read("the 14th at 5:30 pm", monday) == agenda.When(1, 17 * 60 + 30)
    assert agenda.read("next Monday at 9 am", monday) == agenda.When(7, 9 * 60)
    assert agenda.read("I should call my mother", monday) == agenda.When(None, None)
    assert agenda.intention(PARTY).startswith("I will go to her Valentine's Day party")


@pytest.mark.parametrize(("text", "when"), [
    ("meet Maria at 8 tonight", agenda.When(0, 20 * 60)),
    ("dinner with Tom at 9 this evening", agenda.When(0, 21 * 60)),
    ("jog at 6 tomorrow morning", agenda.When(1, 6 * 60)),
    ("at 10 tomorrow night", agenda.When(1, 22 * 60)),
    ("the party is 5-7pm tomorrow", agenda.When(1, 17 * 60)),
    ("tomorrow 5 to 7 pm", agenda.When(1, 17 * 60)),
    ("between 5 and 7 pm on Feb 14th", agenda.When(1, 17 * 60)),
    ("brunch from 11 to 1 pm tomorrow", agenda.When(1, 11 * 60)),
    ("the day after tomorrow at 5pm", agenda.When(2, 17 * 60)),
    ("I will bring 5 decorations to the party on Feb 14", agenda.When(1, None)),  # no December 5
    ("2 mayoral candidates", agenda.When(None, None)),  # no May 2
])
def test_the_agenda_reads_the_half_of_the_day_ranges_and_month_names_as_people_mean_them(
        text: str, when: agenda.When) -> None:
    assert agenda.read(text, date(2023, 2, 13)) == when


def test_a_leap_day_read_in_a_year_without_one_is_no_day() -> None:
    assert agenda.read("the party on Feb 29 at 5pm", date(2023, 9, 1)) == agenda.When(None, 17 * 60)


def test_a_sight_in_a_reason_is_not_the_residents_commitment() -> None:
    reason = ("after seeing that Isabella Rodriguez is busy: set up decorations for the party at 5 pm: ask Isabella "
              "if she needs help")
    assert agenda.own_words(reason) == "ask Isabella if she needs help"
    assert agenda.due_today(reason, Clock(), 0) == agenda.When(None, None)
    told = "after talking with Isabella Rodriguez: go to the party at 5 pm today"
    assert agenda.due_today(told, Clock(), 0) == agenda.When(0, 17 * 60)


def test_a_commitment_for_a_later_day_is_on_that_days_plan_at_its_time(ada) -> None:  # type: ignore[no-untyped-def]
    town, _, resident = ada
    clock = Clock()
    # Monday 13 at 15:00 Ada agreed to the party "tomorrow at 5 pm"; other thoughts that day bear no date.
    m = mind(resident, town, [
        ("Ada Lovelace is busy: write notes", "event", "observation", 10 * HOUR, 2),
        ("Conversation with Isabella Rodriguez. Isabella: come to my party!", "chat", "conversation", 15 * HOUR, 6),
        (PARTY, "thought", TALK_PLAN, 15 * HOUR, 7),
        ("For my plans after talking with Bob Builder: nothing changes", "thought", TALK_PLAN, 16 * HOUR, 2),
    ])
    assert agenda.for_day(m.stream, clock, 0) == []  # not Monday's
    assert agenda.for_day(m.stream, clock, 2 * DAY) == []  # nor Wednesday's
    tuesday = agenda.for_day(m.stream, clock, DAY)
    assert [(c.minute, c.source) for c in tuesday] == [(17 * 60, 2)]

    # a plan that names its day but not its time takes the time from the talk it rests on (its evidence)
    talk_id, = add(m, [("Conversation with Maria Lopez. Maria: the poetry reading is on Wednesday at 7 pm",
                        "chat", "conversation", 17 * HOUR, 5)])
    add(m, [("For my plans after talking with Maria Lopez: I will go to the poetry reading on Wednesday", "thought",
             TALK_PLAN, 17 * HOUR, 5)], evidence=[[talk_id]])
    assert [(c.minute, c.text) for c in agenda.for_day(m.stream, clock, 2 * DAY)] == [
        (19 * 60, "I will go to the poetry reading on Wednesday")]
    # ... and where, when it says
    talk_id, = add(m, [("Conversation with Maria Lopez. Maria: the book fair is in February, on Thursday at 3 pm "
                        "at the Oak Hill College library", "chat", "conversation", 17 * HOUR, 5)])
    add(m, [("For my plans after talking with Maria Lopez: I will go to the book fair on Thursday", "thought",
             TALK_PLAN, 17 * HOUR, 5)], evidence=[[talk_id]])
    assert [(c.minute, c.text) for c in agenda.for_day(m.stream, clock, 3 * DAY)] == [
        (15 * 60, "I will go to the book fair on Thursday (at the Oak Hill College)")]

    # the day thought as the scheduler starts it (its input through JSON, as a checkpoint keeps it)
    m.day_plan = None
    inp = thoughts.plan_input(planner.snapshot(m, "", tuesday))
    lm = Prompts()
    ctx = context(town, lm)
    trace = Trace(22 * HOUR)
    day = asyncio.run(thoughts.start(ctx, trace, "day", ADA, {"plan": inp, "day0": DAY}, {ADA: m}))
    assert isinstance(day, DayResult)
    (prompt,) = lm.asked["daily_plan"]
    assert "Today is Tuesday February 14" in prompt and "- 17:00 I will go to her Valentine's Day party" in prompt
    party = [(start, activity) for start, _, activity in day.daily if "party" in activity]
    assert party and party[0][0] == 17 * 60, day.daily  # the scripted model keeps it at its time
    assert any(start == 17 * 60 and "party" in activity for start, _, activity in day.hourly), day.hourly
    assert day.agenda and day.agenda[0].startswith("17:00 I will go")


def test_the_day_plan_hears_what_happened_yesterday_and_the_status_is_revised(ada) -> None:  # type: ignore[no-untyped-def]
    town, residents, resident = ada
    m = mind(resident, town, [
        ("Ada Lovelace is busy: repair the kite frame", "event", "observation", 9 * HOUR, 3),
        ("Ada Lovelace decided to enter her kite in the town contest", "thought", "reflection", 14 * HOUR, 8),
        ("For my plans after talking with Bob Builder: I will help Bob paint the fence on Friday", "thought",
         TALK_PLAN, 18 * HOUR, 5),
    ])
    m.yesterday = "07:00 wake up; 09:00 read the news"  # yesterday's plan: not what the prompt should show
    lm = Prompts()
    ctx = context(town, lm)
    inp = planner.snapshot(m, "")
    day = asyncio.run(planner.plan_day(ctx, Trace(22 * HOUR), inp, DAY))
    (status_prompt,) = lm.asked["status"]
    assert "kite in the town contest" in status_prompt and "Ada Lovelace's status until now" in status_prompt
    (daily,) = lm.asked["daily_plan"]
    assert "read the news" not in daily and "Yesterday: " in daily
    assert day.status and day.status in daily  # the revised status is what the day is planned from
    # applied: the status is the resident's from now on (every prompt's persona)
    minds = Minds(town, Clock(), ctx.settings, {r.name: m if r.name == ADA else mind(r, town) for r in residents})
    class Sim:
        tick = DAY + 7 * HOUR

        def emit(self, events: object) -> None:
            pass

        def interrupt(self, who: str) -> None:
            pass

    Applier(minds)._day(Sim(), m, day, DAY + 7 * HOUR)  # type: ignore[arg-type]
    assert m.resident.currently == day.status and m.currently == day.status
    # with the morning's revision off (the economy profile), no status call; yesterday from the memories
    lm2 = Prompts()
    asyncio.run(planner.plan_day(context(town, lm2, revise_currently=False), Trace(22 * HOUR), inp, DAY))
    assert "status" not in lm2.asked and "Yesterday: " in lm2.asked["daily_plan"][0]
    assert "contest" in lm2.asked["daily_plan"][0]


def test_a_replan_keeps_what_was_agreed_for_later_today_at_its_time(ada) -> None:  # type: ignore[no-untyped-def]
    town, _, resident = ada
    m = mind(resident, town)
    m.day_plan = pl.check_daily(pl.fallback_daily(resident), resident)
    lm = Prompts()
    inp = planner.snapshot(m, "")
    reason = "after talking with Bob Builder: I will meet Bob at the park at 4 pm to fly kites"
    got = asyncio.run(planner.replan(context(town, lm), Trace(13 * HOUR), inp, 13 * 60, reason))
    assert isinstance(got, ReplanResult)
    (prompt,) = lm.asked["hourly_schedule"]
    assert "Something came up" in prompt and "- 16:00 I will meet Bob" in prompt
    assert any(start == 16 * 60 for start, _, _ in got.hourly), got.hourly
    assert got.hourly[0][0] == 13 * 60


def test_closed_choices_offer_the_commitment_first_at_its_time(ada) -> None:  # type: ignore[no-untyped-def]
    _, _, resident = ada
    agreed = [(17 * 60, "I will go to the kite festival in the Park")]
    slots = pl.day_choices(resident, (), agreed)
    at = {s.minute: s.options for s in slots}
    assert at[17 * 60][0] == "go to the kite festival at Park"
    plan = pl.check_daily(pl.fallback_daily(resident), resident)
    hourly = {s.minute: s.options for s in pl.hourly_choices(resident, plan, 13 * 60, "a talk", agreed)}
    assert hourly[17 * 60][0] == "go to the kite festival at Park"


def test_the_scripted_model_keeps_a_commitment_it_reads_at_its_time(ada) -> None:  # type: ignore[no-untyped-def]
    """The stand-in reads the prompt alone: a party 'at 5 pm' on today's date in what to keep in mind, or an
    agreed line, becomes a part of the day at 17:00 (and at the place it names); on another day, nothing."""
    from smallville.testing import scripted

    _, _, resident = ada

    def plan(day: str, notes: list[str], agreed: pl.Agreed = ()) -> list[tuple[int, str]]:
        messages = pl.render_daily(resident, day, notes=notes, agreed=agreed)
        raw = scripted.answer([{"role": m.role, "content": m.content} for m in messages],
                              pl.DayPlan.model_json_schema())
        return [(s.start, s.activity) for s in pl.check_daily(pl.DayPlan.model_validate_json(raw), resident).spans]

    note = "Isabella said: my Valentine's Day party is on February 14 at 5 pm at Hobbs Cafe"
    assert (17 * 60, "go to the Valentine's Day party at Hobbs Cafe") in plan("Tuesday February 14", [note])
    assert not [a for _, a in plan("Monday February 13", [note]) if "party" in a]
    agreed = plan("Wednesday February 15", [], [(19 * 60 + 30, "I will go to the poetry reading at the library")])
    assert any(start == 19 * 60 + 30 and "poetry reading" in activity for start, activity in agreed), agreed
