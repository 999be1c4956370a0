"""The same seed and the same answers give the same event log, byte for byte, however the model's calls
interleave and in whichever process the run happens (issue 11, item 2).

Six runs of the Ville with the scripted model gave two logs: at one tick the memories two residents had
waiting came out in either order. The apply step walked the residents a thought read as a `set` of names,
and a set of strings iterates in an order that changes with each process's string hashing
(`PYTHONHASHSEED`, random per process): one test process could never see it. So every run here is a child
process with its own hash seed, and each also finishes the model's calls in its own shuffled order:

- one morning of the Ville (25 residents, 9.5 game hours, the talk at 9:15 that showed the bug) is
  recorded once with the scripted model (`calls.jsonl`, by the `Recorder` of every run), then driven again
  ten times answering from that recording through a replay that sleeps a random few milliseconds per call
  (seeded, different each run), so calls complete in a different order each time;
- the same morning four times against the fake OpenAI-compatible server answering with the scripted model,
  over real HTTP, with a random latency per request (`jitter_s`, seeded differently each run);
- and a thought whose concurrent calls fail in the reverse of the order they started in is saved (as a
  checkpoint saves a thought it waited for) with its fallbacks in the order the calls started.

Every log (and every checkpoint) must hash to the recording's. The children share the recording's
embedding cache, so that they embed nothing (fast), and each writes its own save.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from smallville.agents.prompts import importance
from smallville.agents.settings import AgentSettings
from smallville.agents.state import NewMemory
from smallville.agents.think import Context, Trace, rate
from smallville.inference.base import CallOptions, EndpointUnavailable, Message
from smallville.inference.embed import LocalEmbedder
from smallville.inference.record import Replayer

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
VILLE = HERE.parent / "maps" / "the_ville"
HOURS = 9.5
REPLAYS = 10
SERVED = 4
T = TypeVar("T", bound=BaseModel)


class ShuffledReplay:
    """A recording's answers, each handed back after a random sleep of up to `max_sleep_s` (from `seed`): the
    calls of a tick complete in an order that differs from run to run, as a real server's do."""

    def __init__(self, recording: Path, seed: int, max_sleep_s: float):
        self.inner = Replayer(recording)
        self.rng = random.Random(seed)
        self.max_sleep_s = max_sleep_s

    def __repr__(self) -> str:
        return f"ShuffledReplay({self.inner.path})"

    async def complete_model(self, messages: Sequence[Message], answer: type[T], options: CallOptions) -> T:
        # Looked up first (the replay counts identical calls as they start), then held back.
        got = await self.inner.complete_model(messages, answer, options)
        await asyncio.sleep(self.rng.random() * self.max_sleep_s)
        return got

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        got = await self.inner.complete_text(messages, options)
        await asyncio.sleep(self.rng.random() * self.max_sleep_s)
        return got


def ville_settings() -> Any:
    from smallville.config import Settings, SimSettings, TownSettings

    return Settings(sim=SimSettings(seed=2), town=TownSettings(map=str(VILLE / "the_ville.tmx"),
                                                               residents=str(VILLE / "residents.toml")),
                    agents=AgentSettings(economy="off"))


def sha256(save: Path) -> str:
    """Of the event log, and of the checkpoints with it (a resume starts from those: they must agree too), but
    for how long the record of calls was when each was taken: calls are recorded as they end, in whatever
    order the server answers, and a checkpoint does not wait for the thoughts in flight."""
    digest = hashlib.sha256((save / "events.jsonl").read_bytes())
    for checkpoint in sorted((save / "checkpoints").glob("*.json")):
        state = json.loads(checkpoint.read_bytes())
        assert isinstance(state.pop("calls_bytes", 0), int)
        digest.update(json.dumps(state, sort_keys=True).encode())
    return digest.hexdigest()


def child(job: dict[str, Any]) -> None:
    """One run in this (child) process: from the recording (`replay`) or against a fake server (`served`)."""
    from agents_kit import run

    from smallville.config import Settings
    from smallville.inference.embed import EmbeddingCache, LocalEmbedder

    settings = Settings.model_validate(job["settings"])
    embedder = LocalEmbedder(cache=EmbeddingCache.load(job["cache"]))
    out = Path(job["out"])
    if job["mode"] == "replay":
        run(settings, out, HOURS, lm=ShuffledReplay(Path(job["recording"]), job["seed"], 0.01), embedder=embedder)
        return
    from inference_kit import settings_for

    from smallville.testing import scripted
    from smallville.testing.fake_server import FakeServer

    with FakeServer(answers=scripted.answer, jitter_s=0.02, jitter_seed=job["seed"]) as server:
        served = settings.model_copy(update={"inference": settings_for(server, names=("fake",))})
        run(served, out, HOURS, embedder=embedder)


def run_children(jobs: list[dict[str, Any]], parallel: int = 2) -> None:
    """The jobs in child processes, `parallel` at a time, each with its own string-hash seed."""
    waiting = list(jobs)
    while waiting:
        batch, waiting = waiting[:parallel], waiting[parallel:]
        procs = []
        for job in batch:
            env = dict(os.environ, PYTHONHASHSEED=str(job["hash_seed"]))
            procs.append(subprocess.Popen([sys.executable, __file__, json.dumps(job)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for proc, job in zip(procs, batch, strict=True):
            output, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"run {job['out']} failed:\n{output[-3000:]}"


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()  # the bundled model, for real; shared so it loads once


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> dict[str, Any]:
    """The Ville's morning recorded once with the scripted model, and its embeddings kept for the children."""
    from agents_kit import run

    from smallville.testing.scripted import ScriptedModel

    root = tmp_path_factory.mktemp("order")
    settings = ville_settings()
    run(settings, root / "recorded", HOURS, lm=ScriptedModel(), embedder=embedder)
    embedder.cache.save(root / "embeddings")
    return {"root": root, "settings": settings.model_dump(mode="json"), "cache": str(root / "embeddings"),
            "recording": str(root / "recorded" / "calls.jsonl"), "sha256": sha256(root / "recorded")}


def hashes(recorded: dict[str, Any], mode: str, runs: int) -> dict[str, list[int]]:
    root = recorded["root"]
    jobs = [{"mode": mode, "seed": k, "hash_seed": k, "out": str(root / f"{mode}-{k}"),
             **{key: recorded[key] for key in ("settings", "cache", "recording")}} for k in range(runs)]
    run_children(jobs)
    found: dict[str, list[int]] = {}
    for job in jobs:
        found.setdefault(sha256(Path(job["out"])), []).append(job["seed"])
    return found


def test_the_recorded_morning_replays_to_one_log_whatever_the_order_of_answers(recorded) -> None:
    log = (recorded["root"] / "recorded" / "events.jsonl").read_text()
    assert '"k":"converse"' in log and '"k":"memory"' in log and '"k":"retrieve"' in log
    found = hashes(recorded, "replay", REPLAYS)
    assert found == {recorded["sha256"]: list(range(REPLAYS))}, f"different logs (sha256: runs): {found}"


def test_the_fake_server_with_random_latency_gives_the_same_log(recorded) -> None:
    found = hashes(recorded, "served", SERVED)
    assert found == {recorded["sha256"]: list(range(SERVED))}, f"different logs (sha256: runs): {found}"


class GoneFirstStartedLast:
    """A server that is gone: every call fails, and the first call started fails after the others."""

    def __init__(self) -> None:
        self.started = 0

    async def complete_model(self, messages: Sequence[Message], answer: type[T], options: CallOptions) -> T:
        self.started += 1
        await asyncio.sleep(0.05 if self.started == 1 else 0.0)
        raise EndpointUnavailable("connection refused", "fake")

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        raise EndpointUnavailable("connection refused", "fake")


def test_a_thought_is_saved_with_its_fallbacks_in_call_order_however_they_failed(embedder) -> None:
    from smallville.run.assemble import load

    world = load(ville_settings())
    ctx = Context(GoneFirstStartedLast(), embedder, AgentSettings(economy="off"), world.clock, world.town, 2,
                  embedder.dim)
    trace = Trace(0)
    sights = [NewMemory(f"Klaus Mueller is reading page {i}", "event", "observation", 0) for i in range(13)]
    rated = asyncio.run(rate(ctx, trace, "Klaus Mueller", sights))  # two calls at once: 12 sights, then 1
    assert len(rated) == 13 and [n for n, _, _ in trace.fallbacks] == [1, 0]  # the second call failed first
    step = importance.STEP.name
    assert trace.to_dict()["fallbacks"] == [[0, "Klaus Mueller", step], [1, "Klaus Mueller", step]]
    assert Trace.from_dict(json.loads(json.dumps(trace.to_dict()))).to_dict() == trace.to_dict()


if __name__ == "__main__":  # a child run of `run_children`
    child(json.loads(sys.argv[1]))
