"""Perception and objects, through the door (`SimOps`): a resident observes its own action when it changes,
attends to 8 things, waits for an object in use or takes another of its kind, decides whether to react to
an important sight (at most once an hour), and its objects show the model's words while used."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from mapkit import TownSpec, write_town
from minds_kit import HOUR, Prompts, context, mind

from smallville.agents import perceive, planner
from smallville.agents.apply import Applier, React, Replan
from smallville.agents.prompts import place
from smallville.agents.prompts.planning import Span
from smallville.agents.results import RateResult, ReactResult
from smallville.agents.settings import AgentSettings
from smallville.agents.state import Minds, NewMemory, PlannedAction
from smallville.agents.think import Trace
from smallville.agents.thoughts import Job
from smallville.core.clock import Clock
from smallville.core.mind import Activity
from smallville.world.objects import IDLE
from smallville.world.residents import Resident, load_residents
from smallville.world.town import Town, load_town

ADA, BOB = "Ada Lovelace", "Bob Builder"
KITCHEN = "Testville:House:kitchen"


@dataclass
class _Seen:
    x: int
    y: int
    action: str = ""
    using: str = ""
    until: int = 100


@dataclass
class _Sim:
    """The simulation as a mind sees it, set by hand."""

    town: Town
    agents: dict[str, _Seen]
    tick: int = 8 * HOUR
    states: dict[str, str] = field(default_factory=dict)
    using: dict[str, int] = field(default_factory=dict)
    emitted: list[object] = field(default_factory=list)

    def agent(self, name: str) -> _Seen:
        return self.agents[name]

    def near(self, name: str, radius: int) -> list[str]:
        return [n for n in self.agents if n != name]

    def object_state(self, address: str) -> str:
        return self.states.get(address, IDLE)

    def users(self, address: str) -> int:
        return self.using.get(address, 0)

    def emit(self, events: list[object]) -> None:
        self.emitted.extend(events)

    def interrupt(self, who: str) -> None:
        pass


def _kitchen(root: Path) -> tuple[Town, list[Resident]]:
    """The small town with a kitchen of two one-tile things: a stove and a sink (one user each)."""
    spec = TownSpec()
    kitchen = [("House", "kitchen", "stove", (5, 1, 1, 1)), ("House", "kitchen", "sink", (7, 1, 1, 1))]
    spec.objects = [o for o in spec.objects if o[1] != "kitchen"] + kitchen
    tmx, people = write_town(root / "kitchen", spec)
    town = load_town(tmx)
    return town, load_residents(people, town)


def test_a_resident_observes_its_own_action_when_it_changes(small_town: tuple[Path, Path]) -> None:
    town = load_town(small_town[0])
    residents = load_residents(small_town[1], town)
    ada = mind(next(r for r in residents if r.name == ADA), town)
    sim = _Sim(town, {ADA: _Seen(2, 2, "read a book"), BOB: _Seen(3, 3, "sleeping")})
    settings = AgentSettings()
    assert settings.attention == 8  # the paper's 25-agent run
    first = perceive.look(sim, ada, settings, 100)  # type: ignore[arg-type]
    assert [(m.description, m.subject) for m in first] == [("Ada Lovelace is busy: read a book", ADA),
                                                           ("Bob Builder is sleeping", BOB)]
    assert perceive.look(sim, ada, settings, 106) == []  # nothing changed: nothing new  # type: ignore[arg-type]
    sim.agents[ADA].action = "making tea"
    again = perceive.look(sim, ada, settings, 112)  # type: ignore[arg-type]
    assert [(m.description, m.tag, m.kind) for m in again] == [("Ada Lovelace is making tea", "observation", "event")]
    # the self counts toward attention: with room for one thing, only itself
    narrow = mind(next(r for r in residents if r.name == BOB), town)
    assert [m.subject for m in perceive.look(sim, narrow, AgentSettings(attention=1), 100)] == [BOB]  # type: ignore[arg-type]


def test_a_resident_takes_its_spare_object_or_waits(tmp_path: Path) -> None:
    town, _ = _kitchen(tmp_path)
    stove, sink = f"{KITCHEN}:stove", f"{KITCHEN}:sink"
    sim = _Sim(town, {ADA: _Seen(5, 2), BOB: _Seen(5, 1, "cooking", using=stove)},
               states={stove: "frying eggs"}, using={stove: 1})
    t = 8 * HOUR
    cook = Activity("boil water for tea", stove, "🍳", t + 90, "boiling water")
    # the stove is full (one tile, one cook): the spare chosen with it, showing the action itself
    got = perceive.take_turn(sim, town, ADA, cook, t, 30, spare=sink)  # type: ignore[arg-type]
    assert got == Activity("boil water for tea", sink, "🍳", t + 90)
    # no spare, or the spare full too: wait in the kitchen a little, then look again
    waiting = Activity("waiting to use the stove", KITCHEN, "⏳", t + 30)
    assert perceive.take_turn(sim, town, ADA, cook, t, 30) == waiting  # type: ignore[arg-type]
    sim.using[sink] = 1
    assert perceive.take_turn(sim, town, ADA, cook, t, 30, spare=sink) == waiting  # type: ignore[arg-type]
    assert perceive.take_turn(sim, town, ADA, cook, t + 80, 30, spare=sink).until == t + 90  # never past its end  # type: ignore[arg-type]
    # waited once and still full: the action without the object, in the kitchen
    sim.agents[ADA].action = "waiting to use the stove"
    assert perceive.take_turn(sim, town, ADA, cook, t + 30, 30, spare=sink) == Activity(  # type: ignore[arg-type]
        "boil water for tea", KITCHEN, "🍳", t + 90)
    sim.agents[ADA].action = ""
    # one's own object is used as planned; so is one with room (a two-tile bed holds two)
    assert perceive.take_turn(sim, town, BOB, Activity("cook", stove, "", t + 60), t, 30).address == stove  # type: ignore[arg-type]
    bed = "Testville:House:bedroom:bed"
    sim = _Sim(town, {ADA: _Seen(1, 1), BOB: _Seen(1, 2, "sleeping", using=bed)}, using={bed: 1})
    assert perceive.take_turn(sim, town, ADA, Activity("sleeping", bed, "", t + 60), t, 30).address == bed  # type: ignore[arg-type]


def test_decide_waits_for_an_object_in_use(tmp_path: Path) -> None:
    town, residents = _kitchen(tmp_path)
    minds = Minds(town, Clock(), AgentSettings(), {r.name: mind(r, town) for r in residents})
    ada = minds[ADA]
    ada.asleep, ada.day0 = False, 0
    stove = f"{KITCHEN}:stove"
    from smallville.agents.prompts.planning import Schedule

    ada.hourly = Schedule((Span(8 * 60, 60, "cook"),))
    ada.steps = [PlannedAction(8 * 60, 30, "cook pasta", stove, "boiling water")]
    apply = Applier(minds)
    apply.sim = _Sim(town, {ADA: _Seen(5, 2), BOB: _Seen(5, 1, "cooking", using=stove)}, using={stove: 1})  # type: ignore[assignment]
    t = 8 * HOUR
    assert apply.decide(ADA, t) == Activity("waiting to use the stove", KITCHEN, "⏳", t + 30)
    apply.sim.using = {}  # type: ignore[union-attr]  # Bob is done: Ada cooks, and the stove shows her state
    assert apply.decide(ADA, t + 30) == Activity("cook pasta", stove, "🍳", t + 180, "boiling water")


def test_an_important_sight_asks_whether_to_react_at_most_once_an_hour(small_town: tuple[Path, Path]) -> None:
    town = load_town(small_town[0])
    residents = load_residents(small_town[1], town)
    minds = Minds(town, Clock(), AgentSettings(), {r.name: mind(r, town) for r in residents})
    ada = minds[ADA]
    ada.asleep, ada.day0 = False, 0
    apply = Applier(minds)
    sim = _Sim(town, {ADA: _Seen(2, 2, "read a book"), BOB: _Seen(3, 3, "shouting")})

    def rated(t: int, *items: tuple[str, str, int]) -> list[object]:
        memories = [NewMemory(text, "event", "observation", t, who, (), score, [0.1] * 64)
                    for text, who, score in items]
        job = Job(t, "rate", ADA, (), t, t, {}, Trace(t), {}, result=RateResult(memories))
        return apply.job(sim, job, t)  # type: ignore[arg-type]

    t = 9 * HOUR
    assert rated(t, ("Ada Lovelace is busy: read a book", ADA, 9)) == []  # never to one's own action
    assert rated(t, ("Bob Builder is cooking", BOB, 3)) == []  # below react_importance
    follow = rated(t, ("Bob Builder is shouting for help", BOB, 8), ("the bed is in use", "bed", 7))
    assert follow == [React(ADA, "Bob Builder is shouting for help", "read a book", 9 * 60)]
    assert rated(t + HOUR // 2, ("Bob Builder is crying", BOB, 9)) == []  # within the hour
    assert rated(t + HOUR, ("Bob Builder is crying", BOB, 9))  # an hour on, again
    # the decision: a yes re-plans from now, a no does nothing
    yes = Job(99, "react", ADA, (ADA,), t, t, {}, Trace(t), {},
              result=ReactResult("Bob Builder is shouting for help", "yes", "run to help Bob"))
    ada.readers = 1
    reason = "after seeing that Bob Builder is shouting for help: run to help Bob"
    assert apply.job(sim, yes, t) == [Replan(ADA, reason)]  # type: ignore[arg-type]
    no = Job(100, "react", ADA, (ADA,), t, t, {}, Trace(t), {}, result=ReactResult("Bob Builder is cooking", "no", "-"))
    ada.readers = 1
    assert apply.job(sim, no, t) == []  # type: ignore[arg-type]
    assert minds.stats["reactions_yes"] == 1 and minds.stats["reactions_no"] == 1


def test_the_decision_to_react_recalls_what_the_resident_knows(small_town: tuple[Path, Path]) -> None:
    town = load_town(small_town[0])
    residents = load_residents(small_town[1], town)
    ada = mind(next(r for r in residents if r.name == ADA), town, [
        ("Bob Builder promised to help with the kite festival", "thought", "planning", 100, 6)])
    lm = Prompts()
    got = asyncio.run(planner.react(context(town, lm), Trace(9 * HOUR), ada, "the kite festival tent is on fire",
                                    "read a book", 9 * 60))
    (prompt,) = lm.asked["reaction"]
    assert "You notice: the kite festival tent is on fire" in prompt and "promised to help" in prompt
    assert got == ReactResult("the kite festival tent is on fire", "yes", "go and see about it")


def test_objects_show_the_models_words_asked_once_a_block(tmp_path: Path) -> None:
    town, residents = _kitchen(tmp_path)
    ada = mind(next(r for r in residents if r.name == ADA), town)
    ada.known.append(KITCHEN)
    ada.place_memo["cook lunch"] = KITCHEN
    lm = Prompts()
    ctx = context(town, lm)
    inp = planner.BlockInput(ada.resident, Span(12 * 60, 60, "cook lunch"), "", "", KITCHEN, tuple(ada.known),
                             dict(ada.place_memo), 0, {})
    block = asyncio.run(planner.prepare_block(ctx, Trace(11 * HOUR), inp))
    things = {f"{KITCHEN}:stove", f"{KITCHEN}:sink"}
    assert {s[3] for s in block.steps} <= things
    # each step's spare is the kitchen's other thing
    assert block.spares == [next(iter(things - {s[3]})) for s in block.steps]
    assert len(lm.asked["object_state"]) == 1  # one call for the block's uses
    assert all(state and state != place.IN_USE for state in block.states)
    assert {key for key, _ in block.states_memo} == {f"{s[3].rsplit(':', 1)[1]}|{s[2].lower()}" for s in block.steps}
    # the same uses again: from the memo, no call
    again = planner.BlockInput(ada.resident, Span(18 * 60, 60, "cook lunch"), "", "", KITCHEN, tuple(ada.known),
                               dict(ada.place_memo), 0, dict(block.steps_memo and {block.steps_memo[0]: [
                                   list(r) for r in block.steps_memo[1]]}), dict(block.states_memo))
    second = asyncio.run(planner.prepare_block(ctx, Trace(17 * HOUR), again))
    assert len(lm.asked["object_state"]) == 1 and second.states == block.states and second.states_memo == []
    # the economy profile: a fixed phrase, no call
    fixed = asyncio.run(planner.prepare_block(context(town, Prompts(), object_states="fixed"), Trace(11 * HOUR), inp))
    assert fixed.states == [place.IN_USE] * len(fixed.steps) and fixed.states_memo == []
