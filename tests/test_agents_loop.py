"""The generative loop end to end on the small town: a day of plans, talk, memories and reflection, the
same log however calls interleave or a run is cut and resumed, and faults that never stop the day."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest
from agents_kit import agent_settings, events, run

from smallville.inference.embed import LocalEmbedder
from smallville.inference.record import read_recording
from smallville.inspect import summarize
from smallville.persist.save import Save
from smallville.run import drive, resume_run
from smallville.run import stop as run_stop
from smallville.testing.scripted import ScriptedModel
from smallville.world.scenario import load_scenario


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()  # the bundled model, for real; shared so it loads once


def test_a_day_of_plans_talk_memories_and_reflections(tmp_path: Path, small_town, embedder) -> None:
    settings = agent_settings(small_town, reflection_threshold=40)
    out = tmp_path / "day"
    result = run(settings, out, 24, lm=ScriptedModel(), embedder=embedder)
    names = ("Ada Lovelace", "Bob Builder")
    for who in names:
        levels = {e["level"] for e in events(out, "plan", who=who)}
        assert {"day", "hourly", "actions"} <= levels
        acts = [e for e in events(out, "act", who=who) if e["action"] != "sleeping"]
        assert len(acts) > 20, f"{who} barely did anything: {acts[:3]}"
        # it observes its own action whenever that changes (issue 13: "Ada Lovelace is busy: ...")
        own = events(out, "memory", who=who, tag="observation", subject=who)
        assert len(own) > 10 and all(e["text"].startswith(f"{who} is ") for e in own)
        # every action's place is a real address of the map
        sim = result["sim"]
        for act in acts:
            if act["at"]:
                sim.town.lookup(act["at"])
    talks = [e for e in events(out, "converse") if e["lines"] > 0]
    assert talks, "Ada and Bob share a bedroom: they must have talked"
    convo = talks[0]["convo"]
    lines = events(out, "say", convo=convo)
    assert len(lines) == talks[0]["lines"] and lines[-1]["end"]
    assert [e["t"] for e in lines] == sorted(e["t"] for e in lines)
    # both remember the conversation, each about the other
    for me, other in (names, names[::-1]):
        chats = events(out, "memory", who=me, tag="conversation", subject=other)
        assert chats and lines[0]["text"][:30] in chats[0]["text"]
    # reflections: questions, insights stored as thoughts citing earlier memories
    reflections = events(out, "reflect")
    assert reflections and all(r["questions"] for r in reflections)
    insights = events(out, "memory", tag="reflection")
    assert insights and all(i["evidence"] and max(i["evidence"]) < i["id"] for i in insights)
    # retrievals are logged with their scores, and importance comes from the (scripted) model
    retrieval = events(out, "retrieve")[0]
    assert len(retrieval["ids"]) == len(retrieval["scores"]) and all(len(s) == 4 for s in retrieval["scores"])
    assert {e["importance"] for e in events(out, "memory")} - {4}, "importance never rated"
    assert result["mind"]["calls"] > 0 and "no_step" not in result["fallbacks"]


def test_news_travels_in_conversation(tmp_path: Path, small_town, embedder) -> None:
    settings = agent_settings(small_town, talk_cooldown_minutes=30)
    out = tmp_path / "news"
    run(settings, out, 24, lm=ScriptedModel(), embedder=embedder)
    fact = load_scenario(small_town[1].parent / "scenario.toml", ["Ada Lovelace", "Bob Builder"]).fact("kites")
    seeded = events(out, "memory", who="Ada Lovelace", tag="seed")
    assert len(seeded) == 1 and fact.carried_by(seeded[0]["text"])
    heard = [m for m in events(out, "memory", who="Bob Builder") if fact.carried_by(m["text"])]
    # heard in a talk first; since issue 13 what Bob took from it (his memo, his planning thought) and what
    # he later made of it (reflections) carry it too
    assert heard and heard[0]["tag"] == "conversation"
    assert {m["tag"] for m in heard} <= {"conversation", "memo", "planning", "reflection"}
    # `smallville inspect` tells how far the news went, from the log alone
    minds = summarize(Save.open(out))["minds"]
    assert minds["facts"] == {"kites": ["Ada Lovelace", "Bob Builder"]}
    assert minds["conversations"] > 0 and minds["plans"]["day"] == 2


def test_same_log_whatever_the_call_order_and_from_the_recording(tmp_path: Path, small_town, embedder) -> None:
    settings = agent_settings(small_town)
    first, second, replay = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run(settings, first, 14, lm=ScriptedModel(jitter_s=0.002, order_seed=1), embedder=embedder)
    # a fresh embedder: its batches (and so any batch-dependent rounding) differ from the first run's
    run(settings, second, 14, lm=ScriptedModel(jitter_s=0.002, order_seed=2), embedder=LocalEmbedder())
    log = (first / "events.jsonl").read_bytes()
    assert log == (second / "events.jsonl").read_bytes()
    run(settings, replay, 14, replay=first / "calls.jsonl", embedder=embedder)
    assert (replay / "events.jsonl").read_bytes() == log
    assert b'"k":"say"' in log and b'"k":"plan"' in log


@pytest.fixture(scope="module")
def whole_day(tmp_path_factory, embedder) -> tuple[Path, Path]:
    """One uncut 16-hour run of the small town, and its town (for the cut runs to match)."""
    from mapkit import write_town

    root = tmp_path_factory.mktemp("whole")
    town = write_town(root / "town")
    run(agent_settings(town, reflection_threshold=60), root / "run", 16, lm=ScriptedModel(), embedder=embedder)
    return root / "run", town[1]


# Cut at night (day plans in flight), mid-talk at waking, mid-morning: resume must not show the seam.
@pytest.mark.parametrize("cut_hours", [2.0, 7.05, 7.3, 9.5])
def test_a_run_cut_and_resumed_gives_the_same_log(tmp_path: Path, whole_day, embedder, cut_hours) -> None:
    whole, residents = whole_day
    settings = agent_settings((residents.parent / "town.tmx", residents), reflection_threshold=60)
    cut = tmp_path / "cut"
    run(settings, cut, cut_hours, lm=ScriptedModel(), embedder=embedder)
    save, sim = resume_run(cut)
    drive(save, sim, round(16 * sim.clock.ticks_per_hour), progress=False, lm=ScriptedModel(), embedder=embedder)
    assert (cut / "events.jsonl").read_bytes() == (whole / "events.jsonl").read_bytes()
    vectors = sorted(p.name for p in (cut / "checkpoints").glob("*.vectors.npz"))
    assert 1 <= len(vectors) <= 2  # only the newest are kept
    accounting = json.loads((cut / "inference.json").read_text())
    assert len(accounting["sessions"]) == 2


def test_inner_voice_plants_a_thought_and_replans(tmp_path: Path, small_town, embedder) -> None:
    settings = agent_settings(small_town)
    out = tmp_path / "voice"
    run(settings, out, 10, lm=ScriptedModel(), embedder=embedder)
    save, sim = resume_run(out)
    planted_at = sim.tick
    sim.mind.plant("Bob Builder", "You want to fix the park bench before lunch.")  # type: ignore[attr-defined]
    result = drive(save, sim, sim.tick + 3 * 360, progress=False, lm=ScriptedModel(), embedder=embedder)
    assert "no_step" not in result["fallbacks"]  # the new schedule's blocks are prepared in time
    planted = events(out, "memory", who="Bob Builder", tag="inner_voice")
    assert planted and "park bench" in planted[0]["text"]
    replans = [e for e in events(out, "plan", who="Bob Builder", level="hourly") if e["reason"]]
    assert replans and "park bench" in replans[0]["reason"]
    assert replans[0]["spans"][0][0] > (planted_at - replans[0]["day"]) // 6  # from then on, not the past
    acts = [e for e in events(out, "act", who="Bob Builder") if e["t"] >= replans[0]["t"]]
    assert acts and acts[0]["t"] == replans[0]["t"]  # the new plan starts at once


def test_faults_never_stop_the_day(tmp_path: Path, small_town, embedder) -> None:
    """Garbage answers, then a server that is gone (the resume stops, saved), then back: residents keep
    living, every fallback is an event, and the calls come back when the server does."""
    from inference_kit import settings_for

    from smallville.inference.base import ModelsUnusable
    from smallville.testing import scripted
    from smallville.testing.fake_server import FakeServer

    with FakeServer(answers=scripted.answer) as server:
        settings = agent_settings(small_town, settings_for(server, names=("fake",), timeout_s=2.0))
        out = tmp_path / "faults"
        server.script(*["garbage"] * 6, "500", "bad_schema", "empty", "500")
        first = run(settings, out, 9, embedder=embedder)
        assert first["mind"]["calls"] > 0
        server.kill()
        save, sim = resume_run(out)
        # a resume into a server that is gone stops (it cannot think), with a checkpoint to go on from
        with pytest.raises(ModelsUnusable, match="the first 8 model calls all failed"):
            drive(save, sim, round(13 * sim.clock.ticks_per_hour), progress=False, embedder=embedder)
        dead = [f for f in events(out, "fallback") if f["t"] >= 9 * sim.clock.ticks_per_hour]
        server.revive()
        save, sim = resume_run(out)
        drive(save, sim, round(16 * sim.clock.ticks_per_hour), progress=False, embedder=embedder)
    assert dead, "the residents lived on defaults while the server was gone"
    day = sim.clock.ticks_per_hour
    for who in ("Ada Lovelace", "Bob Builder"):
        starts = [e["t"] for e in events(out, "act", who=who) if 9 * day <= e["t"] < 16 * day]
        gaps = [b - a for a, b in zip([9 * day, *starts], [*starts, 16 * day], strict=True)]
        assert max(gaps) <= 2 * day, f"{who} stood idle for {max(gaps) / day:.1f} h"
    fallbacks = events(out, "fallback")
    assert fallbacks and {f["step"] for f in fallbacks}
    late = [f for f in fallbacks if f["t"] >= 14 * day]
    early_dead = [f for f in fallbacks if 9 * day <= f["t"] < 13 * day]
    assert len(late) < len(early_dead), "the calls did not come back with the server"
    sessions = json.loads((out / "inference.json").read_text())["sessions"]
    assert len(sessions) == 3


def test_a_talk_that_matters_changes_the_plan(tmp_path: Path, small_town, embedder) -> None:
    from agents_kit import SCENARIO

    out = tmp_path / "react"
    settings = agent_settings(small_town, replan_importance=2, talk_cooldown_minutes=30)
    # Since issue 13 the talk's planning thought decides whether today changes: news for Saturday goes on a
    # later day's plan, so here the festival is this afternoon
    (small_town[1].parent / "scenario.toml").write_text(SCENARIO.replace("on Saturday", "this afternoon"))
    run(settings, out, 16, lm=ScriptedModel(), embedder=embedder)
    replans = [e for e in events(out, "plan", level="hourly") if e["reason"].startswith("after talking with")]
    assert replans, "no conversation made anyone re-plan"
    for plan in replans:
        talks = [e for e in events(out, "converse") if plan["who"] in (e["who"], e["to"]) and e["lines"]]
        assert talks and talks[0]["t"] < plan["t"]
    untouched = tmp_path / "calm"
    run(agent_settings(small_town, replan_importance=11), untouched, 16, lm=ScriptedModel(), embedder=embedder)
    assert not [e for e in events(untouched, "plan", level="hourly") if e["reason"]]


def test_an_embedder_that_fails_for_a_while_costs_memories_their_relevance_only(tmp_path: Path, small_town,
                                                                               embedder) -> None:
    from smallville.inference.base import EndpointUnavailable

    class Flaky:
        """The bundled embedder, gone for a stretch of calls (as a remote embedding server can be)."""

        dim = embedder.dim

        def __init__(self) -> None:
            self.calls = 0

        async def embed(self, texts):
            self.calls += 1
            if 8 <= self.calls < 16:
                raise EndpointUnavailable("[embeddings] connection refused")
            return await embedder.embed(texts)

    flaky = Flaky()
    out = tmp_path / "flaky"
    result = run(agent_settings(small_town), out, 12, lm=ScriptedModel(), embedder=flaky)
    assert flaky.calls > 16
    steps = {f["step"] for f in events(out, "fallback")}
    assert {"embed", "recall"} & steps and result["fallbacks"].get("embed", 0) + result["fallbacks"].get("recall", 0)
    for who in ("Ada Lovelace", "Bob Builder"):
        assert len(events(out, "plan", who=who, level="actions")) >= 3



class _StopsMidThought(ScriptedModel):
    """The scripted model, except that its `at`-th call for `purpose` presses Ctrl-C (SIGINT, `presses`
    times) and never answers: a model still thinking when the user stops the run."""

    def __init__(self, purpose: str, at: int, presses: int = 1):
        super().__init__()
        self.purpose, self.at, self.presses, self.seen = purpose, at, presses, 0

    async def complete_model(self, messages, answer_model, options):  # type: ignore[no-untyped-def]
        if options.purpose == self.purpose:
            self.seen += 1
            if self.seen == self.at:
                for _ in range(self.presses):
                    os.kill(os.getpid(), signal.SIGINT)
                await asyncio.sleep(3600)
        return await super().complete_model(messages, answer_model, options)


# A day plan at night (the tick waits for it at waking), a talk's line, a reflection, a rating of memories:
# each one stuck when the stop comes, cancelled after the grace and started again by the resume.
@pytest.mark.parametrize(("purpose", "at"), [("daily_plan", 2), ("conversation", 3), ("reflection_insights", 1),
                                             ("importance", 5)])
def test_a_thought_stuck_at_a_stop_is_cancelled_and_started_again_on_resume(
        tmp_path: Path, whole_day, embedder, monkeypatch, purpose: str, at: int) -> None:
    whole, residents = whole_day
    settings = agent_settings((residents.parent / "town.tmx", residents), reflection_threshold=60)
    monkeypatch.setattr(run_stop, "STOP_GRACE_S", 0.5)
    cut = tmp_path / "cut"
    model = _StopsMidThought(purpose, at)
    started = time.perf_counter()
    result = run(settings, cut, 16, lm=model, embedder=embedder)
    assert time.perf_counter() - started < 60
    assert model.seen >= at and result["stopped_early"]
    save = Save.open(cut)
    checkpoint = save.latest_checkpoint()
    assert checkpoint["tick"] == result["tick"]  # the stop's checkpoint, at the tick reached
    jobs = checkpoint["state"]["mind"]["jobs"]
    stuck = [j for j in jobs if j["result"] is None]
    assert stuck and all(isinstance(j["input"], dict) for j in stuck)  # kept as what they start from
    # resumed, then killed before its next checkpoint (its checkpoints removed, as if never written), then
    # resumed again from the stop's checkpoint: the record of calls must still agree with it
    save, sim = resume_run(cut)
    drive(save, sim, sim.tick + 40, progress=False, lm=ScriptedModel(), embedder=embedder)
    for path in (cut / "checkpoints").glob("*"):
        if int(path.name.split("-")[1].split(".")[0]) > checkpoint["tick"]:
            path.unlink()
    save, sim = resume_run(cut)
    drive(save, sim, round(16 * sim.clock.ticks_per_hour), progress=False, lm=ScriptedModel(), embedder=embedder)
    assert (cut / "events.jsonl").read_bytes() == (whole / "events.jsonl").read_bytes()
    # the stuck thought's calls made before the stop are not kept twice: the record is the whole run's, once
    assert _calls(cut) == _calls(whole)


def _calls(save: Path) -> list[tuple[str, int]]:
    return sorted((c["key"], c["n"]) for c in read_recording(save / "calls.jsonl"))


def test_a_second_ctrl_c_cancels_the_thoughts_at_once(tmp_path: Path, whole_day, embedder) -> None:
    """Two presses while a day plan holds the tick: no 20 s grace, a checkpoint within a few seconds, and the
    resume still gives an uninterrupted run's bytes."""
    whole, residents = whole_day
    settings = agent_settings((residents.parent / "town.tmx", residents), reflection_threshold=60)
    cut = tmp_path / "cut"
    started = time.perf_counter()
    result = run(settings, cut, 16, lm=_StopsMidThought("daily_plan", 1, presses=2), embedder=embedder)
    assert time.perf_counter() - started < run_stop.STOP_GRACE_S / 2
    assert result["stopped_early"] and Save.open(cut).checkpoint_ticks()[-1] == result["tick"]
    save, sim = resume_run(cut)
    drive(save, sim, round(16 * sim.clock.ticks_per_hour), progress=False, lm=ScriptedModel(), embedder=embedder)
    assert (cut / "events.jsonl").read_bytes() == (whole / "events.jsonl").read_bytes()
