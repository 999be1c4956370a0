"""The economy profile: when it is on, what it changes, that a config's own values win, and that the
loop runs with it (places by embedding, no talk-triggered re-plans, short talks)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from agents_kit import agent_settings, events, run

from smallville.agents.planner import BlockInput, choose_place
from smallville.agents.prompts.planning import Span
from smallville.agents.settings import ECONOMY, AgentSettings
from smallville.agents.state import place_label, starting_places
from smallville.agents.think import Context, Trace
from smallville.config import load_settings
from smallville.inference.embed import LocalEmbedder
from smallville.run.assemble import load
from smallville.testing.scripted import ScriptedModel


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def test_auto_means_the_embedded_model_and_explicit_values_win() -> None:
    auto = AgentSettings()
    assert auto.resolved(embedded_model=False) == auto
    lean = auto.resolved(embedded_model=True)
    assert {k: getattr(lean, k) for k in ECONOMY} == ECONOMY
    assert lean.talk_turns < auto.talk_turns and lean.replan_importance == 11
    mine = AgentSettings(replan_importance=5, economy="on").resolved(embedded_model=False)
    assert mine.replan_importance == 5 and mine.place_by == "embedding"
    assert AgentSettings(economy="off").resolved(embedded_model=True) == AgentSettings(economy="off")


class NoModel:
    async def complete_model(self, *a, **k):
        raise AssertionError("the economy profile chose a place with a model call")

    complete_text = complete_model


def test_a_place_by_embedding_is_a_known_arena_that_fits(embedder: LocalEmbedder) -> None:
    world = load(load_settings(None, {}))
    isabella = next(r for r in world.residents if r.name == "Isabella Rodriguez")
    known = tuple(starting_places(isabella, world.town))
    arenas = [a.address for s in world.town.sectors.values() for a in s.arenas.values()]
    store = next(a for a in arenas if "pharmacy" in a.lower())
    known = (*known, store)
    settings = AgentSettings(economy="on").resolved(embedded_model=False)
    ctx = Context(NoModel(), embedder, settings, world.clock, world.town, 0, embedder.dim)  # type: ignore[arg-type]
    inp = BlockInput(isabella, Span(600, 60, "buy cough medicine and groceries"), "", "", "", known, {}, 0, {})
    address, fresh = asyncio.run(choose_place(ctx, Trace(0), inp))
    assert address == store and fresh, place_label(address)


def test_the_loop_with_the_economy_profile(tmp_path: Path, small_town, embedder) -> None:
    def calls(out: Path) -> int:
        return len((out / "calls.jsonl").read_text(encoding="utf-8").splitlines())

    from agents_kit import SCENARIO

    full, lean = tmp_path / "full", tmp_path / "lean"
    settings = agent_settings(small_town, replan_importance=2, talk_cooldown_minutes=30)
    # news for today: since issue 13 a talk re-plans today only when its planning thought is about today
    (small_town[1].parent / "scenario.toml").write_text(SCENARIO.replace("on Saturday", "this afternoon"))
    run(settings, full, 16, lm=ScriptedModel(), embedder=embedder)
    # open choices in both: the scripted model's answers (and so who meets whom) follow its prompts, and the
    # closed ones would change the day itself; this compares how often the two think
    # (the profile's reflection at 300 takes longer than these 16 hours in the small town: 150 as the full loop)
    run(agent_settings(small_town, economy="on", choices="open", talk_cooldown_minutes=30, reflection_threshold=150),
        lean, 16, lm=ScriptedModel(), embedder=embedder)
    assert [e for e in events(full, "plan", level="hourly") if e["reason"]]
    assert not [e for e in events(lean, "plan", level="hourly") if e["reason"]], "a talk re-planned the day"
    talks = [e for e in events(lean, "converse") if e["lines"]]
    assert talks and max(e["lines"] for e in talks) <= ECONOMY["talk_turns"]
    assert events(lean, "reflect") and events(lean, "act")
    assert 0 < calls(lean) < calls(full)
    asked = (lean / "calls.jsonl").read_text(encoding="utf-8")
    assert '"purpose": "place"' not in asked and '"purpose": "decompose' not in asked
    assert '"purpose": "decompose' in (full / "calls.jsonl").read_text(encoding="utf-8")
    # sights are routine without a call; the full loop asks the model, which rates some of them otherwise
    sights = [e["importance"] for e in events(lean, "memory") if e["tag"] == "observation"]
    assert sights and set(sights) == {2}
    # a talk may think 10 game minutes (rounded up to a 5-minute slot) before the run waits for it: the two
    # greet each other until then; the full loop's talks are due 3 minutes on
    def greetings(out: Path) -> list[int]:
        return [e["until"] - e["t"] for e in events(out, "act") if e["action"].startswith("greeting")]

    per_minute = 60 // load_settings(None, {}).sim.tick_seconds
    assert greetings(lean) and min(greetings(lean)) >= 10 * per_minute
    assert greetings(full) and max(greetings(full)) < 10 * per_minute
    full_sights = {e["importance"] for e in events(full, "memory") if e["tag"] == "observation"}
    assert full_sights and full_sights != {2}
    rated = [e for e in events(lean, "memory") if e["tag"] not in ("observation", "conversation", "reflection")]
    assert rated and {e["importance"] for e in rated} != {2}, "the profile stopped rating thoughts and plans"


def test_a_run_decides_once_and_a_resume_keeps_its_profile(tmp_path: Path, small_town, embedder) -> None:
    from smallville.inference.settings import EndpointSettings, InferenceSettings
    from smallville.persist.save import Save
    from smallville.run import drive, new_run, resume_run

    # No endpoints: the embedded model, so the profile; the manifest says what the run really uses.
    embedded = agent_settings(small_town, economy="auto", talk_turns=8)
    save, _ = new_run(tmp_path / "auto", embedded, 1)
    agents = save.manifest["settings"]["agents"]
    assert agents["place_by"] == "embedding" and agents["replan_importance"] == 11 and agents["talk_turns"] == 8
    remote = EndpointSettings(name="gpu", base_url="http://127.0.0.1:9/v1", model="m")  # type: ignore[arg-type]
    served = agent_settings(small_town, InferenceSettings(endpoints=[remote]), economy="auto")
    save, _ = new_run(tmp_path / "served", served, 1)
    assert save.manifest["settings"]["agents"]["place_by"] == "model"
    # Cut and resumed with the profile on: the same log as the uncut run (the resume thinks the same way).
    lean = agent_settings(small_town, economy="on", talk_cooldown_minutes=30)
    run(lean, tmp_path / "whole", 10, lm=ScriptedModel(), embedder=embedder)
    run(lean, tmp_path / "cut", 7.3, lm=ScriptedModel(), embedder=embedder)
    save, sim = resume_run(tmp_path / "cut")
    assert sim.mind.settings.place_by == "embedding"  # type: ignore[attr-defined]
    drive(save, sim, round(10 * sim.clock.ticks_per_hour), progress=False, lm=ScriptedModel(), embedder=embedder)
    whole = Save.open(tmp_path / "whole").events_path.read_bytes()
    assert Save.open(tmp_path / "cut").events_path.read_bytes() == whole
