"""Residents who pass news on (issue 13, the conversation chain): a talk leaves a memo and a planning thought
that keep its point, the point reaches the next talk's prompt and the interview's, either side may start a
talk (the residents file's order changes nothing), a decline holds back only the one who declined, talks
are recallable minutes after they end, and the evaluation interviews through the chat's own interview.

Prompts are asserted as the model receives them: a recording model keeps every prompt it is sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from agents_kit import agent_settings, events, run
from pydantic import BaseModel

from smallville.agents import converse
from smallville.agents.apply import Applier, DigestTalk
from smallville.agents.interview import interview, stream_as_of
from smallville.agents.memory import PAPER_WEIGHTS, TALK_MEMO, TALK_PLAN, MemoryStream
from smallville.agents.mind import GenerativeMind
from smallville.agents.prompts import social
from smallville.agents.prompts.common import fit_memories, gist, numbered
from smallville.agents.results import DigestResult, TalkResult
from smallville.agents.settings import AgentSettings
from smallville.agents.state import Minds, ResidentMind, starting_places
from smallville.agents.think import Context, Trace
from smallville.agents.thoughts import Job
from smallville.config import PROJECT_ROOT
from smallville.core import events as ev
from smallville.core.clock import Clock
from smallville.inference.base import CallOptions, Message
from smallville.inference.embed import LocalEmbedder
from smallville.testing import scripted
from smallville.testing.scripted import ScriptedModel
from smallville.world.residents import Resident, load_residents
from smallville.world.town import Town, load_town

T = TypeVar("T", bound=BaseModel)
VILLE = PROJECT_ROOT / "maps" / "the_ville"
KLAUS, MARIA, ISABELLA, SAM = "Klaus Mueller", "Maria Lopez", "Isabella Rodriguez", "Sam Moore"
POINT = "party at Hobbs Cafe on the 14th at 5 pm"
INVITATION = ((ISABELLA, "Hi Klaus! How is the research going?", False),
              (KLAUS, "Slowly, but it is going. And how are you?", False),
              (ISABELLA, f"Great! I'm throwing a Valentine's Day {POINT}, would you like to come?", False),
              (KLAUS, "I would love to, see you there!", True))


class Recording:
    """The scripted model, keeping every prompt it answers: (answer model's title, the user message). A
    conversation always starts (the react step says yes), so a test need not hunt for a seed."""

    def __init__(self) -> None:
        self.inner = ScriptedModel()
        self.prompts: list[tuple[str, str]] = []

    async def complete_model(self, messages: Sequence[Message], answer_model: type[T], options: CallOptions) -> T:
        title = str(answer_model.model_json_schema().get("title", ""))
        self.prompts.append((title, "\n".join(m.content for m in messages if m.role == "user")))
        if title == "Reaction":
            return answer_model.model_validate({"react": "yes", "reason": "to catch up"})
        return await self.inner.complete_model(messages, answer_model, options)

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        return await self.inner.complete_text(messages, options)

    def sent(self, title: str) -> list[str]:
        return [text for t, text in self.prompts if t == title]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def ville() -> tuple[Town, list[Resident]]:
    town = load_town(VILLE / "the_ville.tmx")
    return town, load_residents(VILLE / "residents.toml", town)


def _mind(town: Town, residents: list[Resident], name: str, dim: int) -> ResidentMind:
    resident = next(r for r in residents if r.name == name)
    return ResidentMind(resident, MemoryStream(dim, 10), starting_places(resident, town))


def _context(lm: Any, embedder: LocalEmbedder, town: Town, **settings: Any) -> Context:
    return Context(lm, embedder, AgentSettings(**{"economy": "off", **settings}), Clock(), town, 7, embedder.dim)


async def _fill(embedder: LocalEmbedder, mind: ResidentMind, texts: Sequence[str], tick: int = 0) -> None:
    """Everyday memories, rated dull, so that the talk has to be found among them."""
    vectors = await embedder.embed(list(texts))
    for text, vector in zip(texts, vectors, strict=True):
        mind.stream.add(text, vector, kind="event", tag="observation", created=tick, importance=2)


DULL = ["the coffee machine is in use: brewing coffee", "Maria Lopez is studying physics",
        "Klaus Mueller is busy: read a paper on gentrification", "the bed is in use: being made",
        "Wolfgang Schulz is walking to the library", "the piano is in use: being played",
        "Ayesha Khan is reading Shakespeare", "the shelf is in use: books being arranged"]


# -- the display helper ---------------------------------------------------------------------------------------


def test_a_long_memory_keeps_its_point_within_the_budget_whatever_the_query() -> None:
    talk = converse.transcript_memory(KLAUS, ISABELLA, INVITATION, "the Ville:Hobbs Cafe:cafe")
    assert len(talk) > 200
    # the old cut (the first 140 characters) kept the greeting alone: the header took 58 of them
    assert POINT not in talk[:140] and "party" not in talk[:140]
    for query in ("Isabella Rodriguez. a regular at the cafe", "What is Klaus planning?", ""):
        for width in (110, 140, 200):
            shown = gist(talk, query, width)
            assert len(shown) <= width and POINT in shown, (query, width, shown)
    assert POINT in numbered([talk], 120)  # the one numbered list every step uses never cuts the head only
    fitted = fit_memories([talk, *DULL], "Isabella Rodriguez", budget=120)
    assert sum(len(m) for m in fitted) <= 120 * 4 and POINT in fitted[0] and fitted[1] == DULL[0]
    assert fit_memories(DULL, "x", budget=10_000) == DULL  # short ones are never touched


def test_a_memo_is_cut_to_its_point_not_to_its_head() -> None:
    memo = converse.memo_memory(KLAUS, ISABELLA, "Isabella invited me to her Valentine's Day party at Hobbs Cafe "
                                                 "on February 14 from 5 to 7 pm.")
    plan = converse.plan_memory(KLAUS, "Go to Isabella's Valentine's Day party at Hobbs Cafe on February 14 at 5 pm.")
    for query in ("Maria Lopez. Hi Klaus, how is your research going?", "plans for Tuesday February 14", ""):
        for width in (80, 100, 140):
            for stored in (memo, plan):
                shown = gist(stored, query, width)
                assert len(shown) <= width and "party at Hobbs Cafe" in shown, (query, width, shown)


def test_a_long_line_digested_closed_is_kept_whole_with_its_speaker() -> None:
    """The economy digest's memo is '<speaker> said: <line>': a closed line of 200 characters and a long name
    fit (it once broke the memo's bound, and its fallback too, and the run stopped)."""
    line = ("Celebrating Valentines tomorrow evening everybody absolutely definitely should attend wonderful "
            "festivities happening downtown Hobbs Cafe beginning around seventeen hundred lasting until nineteen "
            "remember friends")
    lines = [(ISABELLA, line), (KLAUS, "Sure I will come")]
    said = social._said(lines)
    answer = social.plain_digest_model(said)(memo_line=said[0], plan="I will go to the party.", when="another day",
                                             importance=6)
    assert social.check_digest(answer, lines).memo == f"{ISABELLA} said: {line}"
    fallback = social.fallback_digest(ISABELLA, lines, said=said)
    assert social.check_digest(fallback, lines).memo == f"{ISABELLA} said: {line}"


def test_the_scripted_model_digests_what_it_reads(ville) -> None:
    _, residents = ville
    klaus = next(r for r in residents if r.name == KLAUS)
    lines = [(w, x) for w, x, _ in INVITATION]
    for choices in ("open", "closed"):
        p = social.digest(klaus, ISABELLA, lines, situation="Monday February 13, 10:00, at Hobbs Cafe: cafe",
                          choices=choices)  # type: ignore[arg-type]
        raw = [{"role": m.role, "content": m.content} for m in p.messages]
        got = p.check(p.answer.model_validate_json(scripted.answer(raw, p.answer.model_json_schema())))
        assert POINT in got.memo and got.memo.startswith("Isabella")
        assert got.plan.lower().startswith("i will go to the valentine's day party") and POINT in got.plan
        assert got.when == "another day" and got.importance >= 7
    fallback = social.check_digest(social.fallback_digest(ISABELLA, lines), lines)
    assert POINT in fallback.memo and fallback.when == "no change"  # the other's most telling line, whole


# -- the chain: talk -> memo -> next talk and interview --------------------------------------------------------


def test_the_point_of_an_invitation_reaches_the_next_talk_and_the_interview(ville, embedder) -> None:
    town, residents = ville
    klaus, maria = (_mind(town, residents, n, embedder.dim) for n in (KLAUS, MARIA))
    lm = Recording()
    ctx = _context(lm, embedder, town)

    async def chain() -> tuple[DigestResult, TalkResult, str]:
        await _fill(embedder, klaus, DULL)
        await _fill(embedder, maria, DULL[:3])
        talked = converse.Talked(KLAUS, ISABELLA, INVITATION, "the Ville:Hobbs Cafe:cafe",
                                 "Monday February 13, 10:00, at Hobbs Cafe: cafe", "", 600)
        took = await converse.digest(ctx, Trace(600), klaus.resident, talked)
        # stored as the apply step stores it: the memo and the plan cite the transcript stored before them
        minds = Minds(town, Clock(), ctx.settings, {KLAUS: klaus, MARIA: maria})
        Applier(minds).job(_Sim(town), Job(0, "digest", KLAUS, (), 600, 630, {}, Trace(600), {}, result=took), 630)
        talk = await converse.converse(ctx, Trace(900), converse.Meeting(klaus, maria, "reading", "studying",
                                                                         "the Ville:Hobbs Cafe:cafe", 9 * 60))
        answer = await interview(lm, embedder, klaus.resident, klaus.stream, "What are you up to this week?", 1200,
                                 PAPER_WEIGHTS)
        return took, talk, answer.answer

    took, talk, answered = asyncio.run(chain())
    transcript, memo, plan = (klaus.stream.get(len(DULL) + i) for i in range(3))
    assert (transcript.tag, memo.tag, plan.tag) == ("conversation", TALK_MEMO, TALK_PLAN)
    assert memo.evidence == plan.evidence == (transcript.id,) and memo.subject == ISABELLA
    assert POINT in memo.description and plan.description.startswith(f"For {KLAUS}'s planning: I will go to")
    assert took.when == "another day" and klaus.stream.tagged(TALK_PLAN) == [plan]
    # the talk counts once toward reflection: its memo and plan restate it
    assert klaus.stream.importance_since_reflection == 2 * len(DULL) + transcript.importance
    # the next talk: Klaus's lines were written from prompts that carried the point
    assert talk.lines
    klaus_turns = [p for p in lm.sent("Turn") if "You meet Maria Lopez" in p]
    assert klaus_turns and all(POINT in p for p in klaus_turns)
    # the interview: the prompt shows it, and (the scripted model repeating what it reads) so does the answer
    asked = lm.sent("InterviewAnswer")[-1]
    assert POINT in asked and "What are you up to this week?" in asked and POINT in answered


def test_an_old_talk_without_a_memo_still_shows_its_point(ville, embedder) -> None:
    """A save written before memos (or a transcript alone) is fitted around what is asked, never cut at its head."""
    _, residents = ville
    klaus = next(r for r in residents if r.name == KLAUS)
    talk = converse.transcript_memory(KLAUS, ISABELLA, INVITATION, "the Ville:Hobbs Cafe:cafe")
    log = [ev.Remember(10 * i, KLAUS, i, "event", "observation", text, 2) for i, text in enumerate(DULL)]
    log.append(ev.Remember(100, KLAUS, len(DULL), "chat", "conversation", talk, 8, subject=ISABELLA))
    vectors = asyncio.run(embedder.embed([m.text for m in log]))
    stream = stream_as_of(log, [], vectors, 10)
    lm = Recording()
    asyncio.run(interview(lm, embedder, klaus, stream, "Did you know there is a Valentine's Day party?", 200,
                          PAPER_WEIGHTS))
    assert POINT in lm.sent("InterviewAnswer")[0]


@dataclass
class _Sim:
    """The simulation as the apply step sees it (`SimOps`), for hand-built minds: nobody near anybody."""

    town: Town
    tick: int = 0
    emitted: list[ev.Event] = field(default_factory=list)
    close: dict[str, list[str]] = field(default_factory=dict)

    def agent(self, name: str) -> Any:
        @dataclass(frozen=True)
        class Seen:
            x: int = 60
            y: int = 50
            action: str = "going about the day"
            using: str = ""
            until: int = 10**6
        return Seen()

    def near(self, name: str, radius: int) -> list[str]:
        return list(self.close.get(name, []))

    def object_state(self, address: str) -> str:
        return "idle"

    def emit(self, events: Any) -> None:
        self.emitted.extend(events)

    def interrupt(self, who: str) -> None:
        pass


# -- who may start a talk ---------------------------------------------------------------------------------------


def test_either_side_may_start_a_talk_whatever_the_residents_file_says(ville) -> None:
    """Sam Moore is 22nd of the 25 in the Ville's residents file; the one listed first used to decide every
    time two met. Now whoever notices the other first this minute decides, drawn from the seed and the tick."""
    town, residents = ville
    names = [r.name for r in residents]
    assert names.index(SAM) == 21
    first = names[0]
    mind = GenerativeMind(town, Clock(), residents, AgentSettings(economy="off"), seed=0, dim=8)
    mind.attach(_Silent(), _Silent())
    sim = _Sim(town, close={SAM: [first], first: [SAM]})
    for name in (SAM, first):
        mind.minds[name].asleep = False
    started: list[str] = []

    async def looks() -> None:
        for t in range(6, 6 * 80, 6):  # a look a game minute
            for name in mind.noticing([first, SAM], t):
                mind._notice(sim, name, t)
            for job in mind.jobs:  # note who decided, then forget the talk: the two meet again next minute
                started.append(job.who)
                assert job.task is not None
                job.task.cancel()
            await asyncio.gather(*(j.task for j in mind.jobs if j.task), return_exceptions=True)
            mind.jobs = []
            for m in (mind.minds[SAM], mind.minds[first]):
                m.engaged, m.readers = False, 0

    asyncio.run(looks())
    assert len(started) == 79
    assert 20 <= started.count(SAM) <= 59, started.count(SAM)  # about half each: fair, and not by rank


def test_a_decline_holds_back_only_the_one_who_declined(ville) -> None:
    town, residents = ville
    clock = Clock()
    minds = Minds(town, clock, AgentSettings(economy="off"), {
        r.name: ResidentMind(r, MemoryStream(8, 10), starting_places(r, town)) for r in residents})
    apply = Applier(minds)
    t = 600
    no = Job(0, "talk", SAM, (SAM, KLAUS), t, t, {"other": KLAUS, "where": ""}, Trace(t), {},
             result=TalkResult("no", "busy", []))
    assert apply.job(_Sim(town), no, t) == []
    assert apply.cooling(SAM, KLAUS, t + 1) and not apply.cooling(KLAUS, SAM, t + 1)
    assert not apply.cooling(SAM, KLAUS, t + clock.ticks(minds.settings.decline_minutes))
    assert apply.state()["declined"] == {f"{SAM}>{KLAUS}": t + clock.ticks(30)}
    # a talk held rests the pair, both ways, and each side is handed its digest (in the residents file's order)
    for name in (SAM, KLAUS):
        minds[name].asleep, minds[name].day0 = False, 0
    yes = Job(1, "talk", KLAUS, (KLAUS, SAM), t, t, {"other": SAM, "where": ""}, Trace(t), {},
              result=TalkResult("yes", "news", [(KLAUS, "Hello Sam!", False), (SAM, "Hi Klaus.", True)]))
    follow = apply.job(_Sim(town), yes, t)
    assert [f.talked.me for f in follow if isinstance(f, DigestTalk)] == [KLAUS, SAM]
    assert apply.cooling(SAM, KLAUS, t + 1) and apply.cooling(KLAUS, SAM, t + 1)


class _Silent:
    """A model and embedder that are never reached: the test cancels every thought before it asks."""

    dim = 8

    async def complete_model(self, *a: Any, **k: Any) -> Any:
        await asyncio.sleep(3600)

    async def complete_text(self, *a: Any, **k: Any) -> Any:
        await asyncio.sleep(3600)

    async def embed(self, texts: Sequence[str]) -> Any:
        await asyncio.sleep(3600)


# -- within game minutes ---------------------------------------------------------------------------------------


def test_talks_are_recallable_minutes_after_they_end(tmp_path: Path, small_town, embedder) -> None:
    settings = agent_settings(small_town, talk_cooldown_minutes=30, reflection_threshold=10**6)
    out = tmp_path / "day"
    run(settings, out, 14, lm=ScriptedModel(), embedder=embedder)
    clock = Clock()
    talks = [e for e in events(out, "converse") if e["lines"]]
    assert talks
    for who in ("Ada Lovelace", "Bob Builder"):
        kept = events(out, "memory", who=who, tag="conversation")
        assert len(kept) == len(talks)
        for talk, memory in zip(talks, kept, strict=True):
            # stored (rated, embedded) within 15 game minutes of the talk, not at the next batch of ratings
            assert 0 <= memory["t"] - talk["t"] <= clock.ticks(15)
            took = [m for m in events(out, "memory", who=who) if m["evidence"] == [memory["id"]]]
            assert [m["tag"] for m in took] == [TALK_MEMO, TALK_PLAN] and {m["t"] for m in took} == {memory["t"]}
            assert all(m["importance"] == memory["importance"] for m in took)
    # `smallville inspect` counts them
    from smallville.inspect import summarize
    from smallville.persist.save import Save

    assert summarize(Save.open(out))["minds"]["memos"] == 2 * len(talks)


# -- the evaluation asks as the chat asks ----------------------------------------------------------------------


def test_the_evaluation_interviews_through_the_chats_interview(ville, embedder) -> None:
    from smallville.eval.ask import interview_resident
    from smallville.world.scenario import load_scenario

    _, residents = ville
    names = [r.name for r in residents]
    scenario = load_scenario(VILLE / "scenario.toml", names)
    klaus = next(r for r in residents if r.name == KLAUS)
    talk = converse.transcript_memory(KLAUS, ISABELLA, INVITATION, "the Ville:Hobbs Cafe:cafe")
    log = [ev.Remember(10 * i, KLAUS, i, "event", "observation", text, 2) for i, text in enumerate(DULL)]
    log.append(ev.Remember(100, KLAUS, len(DULL), "chat", "conversation", talk, 8, subject=ISABELLA))
    evaluated, chatted = Recording(), Recording()
    got = asyncio.run(interview_resident(evaluated, embedder, klaus, scenario, log, [], names, 200, 10,
                                         PAPER_WEIGHTS))
    vectors = asyncio.run(embedder.embed([m.text for m in log]))
    for fact in scenario.facts:
        asyncio.run(interview(chatted, embedder, klaus, stream_as_of(log, [], vectors, 10), fact.question, 200,
                              PAPER_WEIGHTS))
    # word for word the prompts the chat sends for the same questions
    assert evaluated.sent("InterviewAnswer") == chatted.sent("InterviewAnswer")
    party = got.facts["party"]
    assert party.said and party.held and party.label == "aware" and not party.judged
    assert got.facts["mayor"].label == "unaware"
    # the names question: no list of acquaintances beyond what the persona says of the people asked about
    names_prompt = evaluated.sent("KnownPeople")[0]
    assert "People of the town:" in names_prompt
    assert got.people[ISABELLA].said and got.people[ISABELLA].held


def test_the_chat_is_a_multi_turn_interview(tmp_path: Path, ville, embedder) -> None:
    from smallville.agents.history import History
    from smallville.config import Settings
    from smallville.viewer.askers import INTERVIEWS_FILE, Askers

    _, residents = ville
    talk = converse.transcript_memory(KLAUS, ISABELLA, INVITATION, "the Ville:Hobbs Cafe:cafe")
    history = History([ev.Remember(100, KLAUS, 0, "chat", "conversation", talk, 8, subject=ISABELLA)])
    lm = Recording()
    askers = Askers(Settings(), history, {r.name: r for r in residents}, tmp_path, 10, lm=lm, embedder=embedder)
    try:
        first = askers.interview(KLAUS, 500, "Did you know there is a Valentine's Day party?").result(60)
        askers.interview(KLAUS, 500, "Who invited you?").result(60)
        askers.interview(KLAUS, 300, "And what did you say?").result(60)  # a moment before: sees neither turn
    finally:
        askers.close()
    prompts = lm.sent("InterviewAnswer")
    assert "Earlier in this interview" not in prompts[0]
    assert "Earlier in this interview:\nQ: Did you know there is a Valentine's Day party?" in prompts[1]
    assert first.answer in prompts[1]
    assert "Earlier in this interview" not in prompts[2]
    records = [json.loads(x) for x in (tmp_path / INTERVIEWS_FILE).read_text().splitlines()]
    assert [r["earlier"] for r in records] == [0, 1, 0]
