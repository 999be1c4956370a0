"""The diffusion study's figures on hand-built logs whose answers are known: who held the news when and from
whom, the awareness curve, the cascade, the gathering, the densities, the figures across seeds."""

from __future__ import annotations

from datetime import datetime

import pytest

from smallville.core import events as ev
from smallville.core.clock import Clock
from smallville.eval import gathering, network, report, spread
from smallville.world.residents import Resident
from smallville.world.scenario import Fact, Gathering

CLOCK = Clock(datetime(2023, 2, 13), 10)
A, B, C, D, E = "Ann Ash", "Ben Birch", "Cy Cedar", "Dee Dogwood", "Eve Elm"
PARTY = Fact(id="party", holder=A, memory="Ann Ash is hosting a Valentine's party at the cafe.",
             question="Did you know there is a Valentine's Day party?", evidence=["valentine", "party"],
             gathering=Gathering(place="Hobbs Cafe:cafe", start=datetime(2023, 2, 13, 1),
                                 end=datetime(2023, 2, 13, 2)))
CAFE = "the Ville:Hobbs Cafe:cafe"


def talk(t: int, convo: int, a: str, b: str, lines: list[tuple[str, str]], stored: int | None = None
         ) -> list[ev.Event]:
    """A conversation as the mind logs it: the start, the lines, and both memories of it (stored when
    they are rated: at `stored`, the talk's tick unless given; the caller puts them in the log there)."""
    transcript = " / ".join(f"{who}: {text}" for who, text in lines)
    out: list[ev.Event] = [ev.Converse(t, convo, a, b, len(lines))]
    out += [ev.Say(t + i, who, b if who == a else a, text, convo) for i, (who, text) in enumerate(lines)]
    out += [ev.Remember(t if stored is None else stored, me, 100 + convo, "chat", "conversation",
                        f"talk with {other}: {transcript}", 5, subject=other) for me, other in ((a, b), (b, a))]
    return out


def in_order(events: list[ev.Event]) -> list[ev.Event]:
    return sorted(events, key=lambda e: e.t)  # stable: events of one tick keep their order


LOG: list[ev.Event] = in_order([
    ev.Remember(0, A, 0, "thought", "seed", PARTY.memory, 8),
    *talk(100, 1, A, B, [(A, "Come to my Valentine's party!"), (B, "Sure, I will.")]),
    *talk(150, 9, B, C, [(B, "Hello Cy"), (C, "Hi Ben")], stored=150),
    ev.Act(200, D, "reading", CAFE + ":table", "📖", 1000),
    # the talk's memories wait for their rating: stored at 260, an hour of game ticks after the talk
    *talk(200, 2, B, C, [(B, "Ann throws a valentine party at the cafe"), (C, "Nice")], stored=260),
    ev.Remember(250, D, 7, "thought", "reflection", "I bet there is a Valentine party soon", 6),
    ev.Walk(300, B, CAFE + ":counter", tuple((x, 0) for x in range(61))),
    ev.Act(300, B, "having coffee", CAFE + ":counter", "☕", 900),
    ev.Act(350, D, "walking home", "the Ville:Dee's house:bedroom", "🏠", 2000),
    *talk(400, 3, E, A, [(E, "Is there a valentine party?"), (A, "hi")]),
    ev.Converse(500, 10, B, D, 3),  # a talk begun as one of them fell asleep: logged, no line said, no tie
    ev.Act(700, A, "hosting", CAFE + ":counter", "🎉", 1200),
    ev.Act(800, C, "dropping by", CAFE + ":table", "☕", 1200),
    ev.ClockMark(1200),
])


def test_holdings_name_who_told_whom_and_when() -> None:
    held = spread.holdings(LOG, PARTY)
    assert {w: (h.t, h.tag, h.source) for w, h in held.items()} == {
        A: (0, "seed", spread.ORIGIN), B: (100, "conversation", A), C: (200, "conversation", B),
        D: (250, "reflection", spread.SELF), E: (400, "conversation", spread.SELF)}
    assert held[C].convo == 2 and held[C].line == "Ann throws a valentine party at the cafe"
    assert held[C].stored == 260  # heard at 200 (the talk), remembered once rated
    assert held[E].line == "Is there a valentine party?"  # E raised it: A's line does not carry it
    assert spread.cascade(held) == [(A, B, 100), (B, C, 200)]
    assert [s.who for s in spread.tellings(LOG, PARTY)] == [A, B, E]


def test_curve_counts_holders_by_each_mark_and_ends_at_the_last_tick() -> None:
    held = spread.holdings(LOG, PARTY)
    assert spread.curve(held, 0, 500, 100) == [(0, 1), (100, 2), (200, 3), (300, 4), (400, 5), (500, 5)]
    assert spread.curve(held, 0, 250, 200) == [(0, 1), (200, 3), (250, 4)]
    assert spread.curve({}, 0, 10, 5) == [(0, 0), (5, 0), (10, 0)]
    with pytest.raises(ValueError):
        spread.curve(held, 0, 10, 0)


def test_gathering_counts_who_was_there_during_it_and_who_was_invited() -> None:
    got = gathering.attendance(LOG, PARTY, CLOCK, "the Ville")
    assert got is not None and (got.start, got.end) == (360, 720) and got.reached
    # B arrives at 360 (the walk's last step); A, the host, comes at 700; D left at 350; C comes after the end.
    assert got.came == {B: 360} and got.host_there
    assert got.invited == {B: (A, 100), C: (B, 200)}  # E asked A after the start, and A is the host
    assert got.invited_and_came == [B]
    short = gathering.attendance(LOG[:10], PARTY, CLOCK, "the Ville")
    assert short is not None and not short.reached
    plain = PARTY.model_copy(update={"gathering": None})
    assert gathering.attendance(LOG, plain, CLOCK, "the Ville") is None


def test_densities_of_interview_and_log_graphs() -> None:
    names = [A, B, C, D]
    knows = {A: {B, C}, B: {A}, C: set(), D: {D}}  # knowing oneself does not count
    mutual = network.interview_graph(names, knows)
    assert sorted(map(sorted, mutual.edges)) == [[A, B]]
    assert network.density(mutual) == pytest.approx(2 * 1 / (4 * 3))
    assert network.density(network.interview_graph(names, knows, mutual=False)) == pytest.approx(2 * 2 / 12)
    residents = [Resident(name=A, age=30, home=("h", "a"), spawn=(0, 0), relationships={B: "friend", "Zed": "x"}),
                 Resident(name=D, age=30, home=("h", "a"), spawn=(0, 0))]
    ties = network.persona_ties(residents, names)
    assert ties == {A: {B}, D: set()}  # only residents of the run
    before = network.log_graph(names, ties, [])
    after = network.log_graph(names, ties, LOG)
    assert network.density(before) == pytest.approx(2 * 1 / 12)
    assert sorted(map(sorted, after.edges)) == [[A, B], [B, C]]  # E is not in this run
    assert after.edges[A, B]["talks"] == 1 and after.edges[B, C]["talks"] == 2
    assert after.edges[B, C]["first_talk"] == 150
    assert network.density(network.log_graph(names, ties, LOG, until=149)) == pytest.approx(2 / 12)
    assert network.density(network.log_graph(names, ties, LOG, until=150)) == pytest.approx(4 / 12)
    assert network.density(network.interview_graph([A], {})) == 0.0


def test_graphml_and_cascade_graph(tmp_path) -> None:
    import networkx as nx

    tree = network.cascade_graph([(A, B, 100), (B, C, 200)], A)
    assert list(nx.bfs_tree(tree, A)) == [A, B, C] and tree.edges[B, C]["t"] == 200
    path = tmp_path / "g" / "cascade.graphml"
    network.write_graphml(tree, path)
    back = nx.read_graphml(path)
    assert set(back.edges) == {(A, B), (B, C)} and int(back.edges[B, C]["t"]) == 200


def test_mean_and_confidence_interval_across_seeds() -> None:
    one = report.mean_ci([0.5])
    assert one["mean"] == 0.5 and one["ci95"] is None
    two = report.mean_ci([0.2, 0.4])
    # sd = 0.1414, t(1) = 12.706: 12.706 * 0.1414 / sqrt(2) = 1.2706
    assert two["mean"] == pytest.approx(0.3) and two["ci95"] == pytest.approx(1.2706, abs=1e-3)
    five = report.mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert five["ci95"] == pytest.approx(2.776 * (2.5 ** 0.5) / (5 ** 0.5), abs=1e-3)


def test_cascade_plot_of_a_forest_and_of_news_that_went_nowhere(tmp_path) -> None:
    """News raised by a resident nobody told roots a tree of its own; a loop back is not drawn."""
    from smallville.eval import plots

    at = "Tue 14 Feb 2023 15:05"
    steps = [(A, B), (D, E), (B, C), (C, B), (E, D)]
    fact = {"holder": A, "cascade": [{"teller": a, "told": b, "at": at} for a, b in steps]}
    path = plots.cascade(tmp_path / "c.png", "party", fact, "#d1495b", "seed-0")
    alone = plots.cascade(tmp_path / "alone.png", "party", {"holder": A, "cascade": []}, "#d1495b")
    for p in (path, alone):
        assert p.read_bytes()[:4] == b"\x89PNG" and p.stat().st_size > 5_000


def test_a_memo_of_a_talk_credits_the_partner_when_the_transcript_does_not_carry_the_fact() -> None:
    """The memo a resident wrote of a talk can carry the news where no line did (a paraphrase): it was told
    by the partner, not raised by itself (issue 13)."""
    log = in_order([
        ev.Remember(0, A, 0, "thought", "seed", PARTY.memory, 8),
        *talk(100, 1, A, B, [(A, "Come to my do on the 14th!"), (B, "Sure, I will.")]),
        ev.Remember(100, B, 102, "thought", "memo", "Ben Birch noted after talking with Ann Ash: Ann invited me to "
                    "her Valentine's party", 7, (101,), A),
    ])
    held = spread.holdings(log, PARTY)
    assert (held[B].tag, held[B].source) == ("memo", A)


def test_fact_ids_name_files_so_they_are_checked(tmp_path) -> None:
    from smallville.errors import MapError
    from smallville.world.scenario import load_scenario

    path = tmp_path / "s.toml"
    path.write_text('name = "x"\n[[facts]]\nid = "../party"\nholder = "Ann Ash"\nmemory = "a valentine party"\n'
                    'question = "?"\nevidence = ["party"]\n[relationship_question]\ntemplate = "{name}?"\n')
    with pytest.raises(MapError, match="lower-case letters, digits"):
        load_scenario(path, [A])


def test_answers_are_labelled_as_said_and_the_evaluator_labels_the_rest() -> None:
    """Each news question is the chat's interview; an answer that begins "yes" or "no" says so, the others
    are labelled by the evaluator's call, which sees only the questions and the answers (issue 13; before,
    the resident labelled its own answers and a small model contradicted itself)."""
    import asyncio
    import json as json_

    import numpy as np

    from smallville.agents.memory import PAPER_WEIGHTS
    from smallville.eval.ask import interview_resident, stated
    from smallville.world.scenario import RelationshipQuestion, Scenario

    class Told:
        def __init__(self, answer: str) -> None:
            self.answer, self.labelled = answer, []

        async def complete_model(self, messages, answer_model, options):
            title = answer_model.model_json_schema()["title"]
            if title == "InterviewAnswer":
                raw: dict = {"answer": self.answer}
            elif title == "HeardLabels":
                self.labelled.append(messages[-1].content)
                raw = {"heard": ["yes"]}
            else:
                raw = {"known": [1]}
            return answer_model.model_validate_json(json_.dumps(raw))

    class Flat:
        dim = 4

        async def embed(self, texts):
            return np.ones((len(texts), 4), dtype=np.float32) / 2

    scenario = Scenario(name="s", facts=[PARTY], relationship_question=RelationshipQuestion(template="{name}?"))
    ben = Resident(name=B, age=30, home=("h", "a"), spawn=(0, 0), relationships={A: "friend"})
    memories = [e for e in LOG if isinstance(e, ev.Remember) and e.who == B]
    for answer, judged in (("Yes, Ann told me.", False), ("Ann told me about it at the cafe.", True)):
        lm = Told(answer)
        got = asyncio.run(interview_resident(lm, Flat(), ben, scenario, memories, [], [A, B], 600, 10,
                                             PAPER_WEIGHTS))
        verdict = got.facts["party"]
        assert verdict.said and verdict.judged == judged and verdict.label == "aware"
        assert len(lm.labelled) == judged and all(answer in text and "Valentine" in text for text in lm.labelled)
        assert got.people[A].label == "aware"  # his persona knows Ann
    assert stated("2. No.") is False and stated("Nobody told me") is None and stated("1. Yes.") is True
