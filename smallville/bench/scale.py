"""`smallville bench scale`: how far one machine scales a round of many agents, beside AgentScope's figures.

Owns two measurements (`bench_scale`; `smallville bench scale --json`):

1. **The paper's dummy round**: N agents (default 1,000,000) each sleep 1 s and answer a random number (Pan et
   al. 2024: 40 s on 4 machines of 64 cores, 8.6 h with plain asyncio, about 12 days serially). Here, on the
   same agent code (`DummyAgent`, `dummy_round`):
   - serial: a sample of agents one after another, extrapolated to N;
   - asyncio: all N in one process (a child process, so that its peak memory is its own);
   - Ray: K group actors (1, 2, 4) of the scale-out engine (`smallville/scale/`), each running its shard's
     agents concurrently with asyncio, the answers merged in agent order (their SHA-256 equals asyncio's).
   Each agent is an asyncio task; a round is CPU-bound on its tasks and timers (about 6 us each), not on the
   sleeps, which overlap. Python's cyclic garbage collector is paused during a round (`quiet_gc`), in every
   engine alike: with a million live tasks its young-generation passes alone cost a few times the round
   (`asyncio_default_gc_round_s`, measured apart, shows what it does to one process).
2. **The honest one**: N game players (default 10,000) through the model pool, each one structured call to
   the fake OpenAI-compatible server (a child process) answering after 1 s, every call recorded, with K
   workers (1: in this process; 2, 4: group actors): what one machine's client side can drive (calls/s).

Figures carry the date, the machine's cores and its 1-minute load before and after: the machine is shared.
`python -m smallville.bench.scale --asyncio N` is the child of the asyncio measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

SLEEP_S = 1.0
SERIAL_SAMPLE = 3
PAPER = {"paper_dummy_agents": 1_000_000, "paper_ray_like_s": 40.0, "paper_devices": 4, "paper_cores": 256,
         "paper_asyncio_h": 8.6, "paper_serial_days": 12.0}
_MASK = (1 << 64) - 1


def agent_answer(agent: int, seed: int) -> float:
    """A dummy agent's random number in [0, 1): a splitmix64 draw from (seed, agent), so every engine and every
    split into shards gives each agent the same number (and the merged answers one checksum)."""
    z = (seed * 0x9E3779B97F4A7C15 + (agent + 1) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) / float(1 << 53)


class DummyAgent:
    """The paper's dummy agent: it sleeps, then answers a random number."""

    __slots__ = ("id",)

    def __init__(self, agent_id: int):
        self.id = agent_id

    async def reply(self, seed: int, sleep_s: float) -> float:
        await asyncio.sleep(sleep_s)
        return agent_answer(self.id, seed)


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """No cyclic garbage collection during a round (its objects live until its end anyway), one pass after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
        gc.collect()


async def dummy_round(first: int, count: int, seed: int, sleep_s: float = SLEEP_S) -> array[float]:
    """Agents first..first+count-1 reply concurrently (a task each); their answers in agent order."""
    loop = asyncio.get_running_loop()
    answers = array("d", bytes(8 * count))
    if count == 0:
        return answers
    done = loop.create_future()
    left = count

    async def play(i: int, agent: DummyAgent) -> None:
        nonlocal left
        answers[i] = await agent.reply(seed, sleep_s)
        left -= 1
        if left == 0:
            done.set_result(None)

    with quiet_gc():
        agents = [DummyAgent(first + i) for i in range(count)]
        tasks = [loop.create_task(play(i, a)) for i, a in enumerate(agents)]
        await done
        del tasks
    return answers


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- Ray: the dummy agents as a group in each group actor -------------------------------------------------


@dataclass(frozen=True)
class DummyShard:
    answers: bytes
    wall_s: float


@dataclass(frozen=True)
class DummyGroupFactory:
    sleep_s: float = SLEEP_S

    def build(self) -> DummyGroup:
        return DummyGroup(self.sleep_s)


class DummyGroup:
    """A group actor's share of the dummy agents."""

    def __init__(self, sleep_s: float):
        self.sleep_s = sleep_s

    async def open(self) -> None:
        return None

    async def run(self, job: tuple[int, int, int]) -> AsyncGenerator[DummyShard, None]:
        first, count, seed = job
        started = time.perf_counter()
        answers = await dummy_round(first, count, seed, self.sleep_s)
        yield DummyShard(answers.tobytes(), round(time.perf_counter() - started, 3))

    async def close(self) -> None:
        return None


def _ray_rounds(agents: int, seed: int, workers: Sequence[int]) -> dict[str, Any]:
    """One Ray instance; for each K, K fresh group actors play one round of the dummies."""
    from smallville.scale.cluster import RaySession
    from smallville.scale.pool import RayPool
    from smallville.scale.settings import ScaleSettings
    from smallville.scale.shards import split

    figures: dict[str, Any] = {}
    started = time.perf_counter()
    with RaySession(ScaleSettings(workers=max(workers)), label="bench scale") as session:
        figures["ray_start_s"] = round(time.perf_counter() - started, 2)
        figures["ray_where"] = session.description
        ray = session.ray
        assert ray is not None
        for k in workers:
            settings = ScaleSettings(workers=k)

            async def one_round(settings: ScaleSettings = settings, k: int = k) -> None:
                pool = RayPool(ray, settings, DummyGroupFactory(), session.description)
                t0 = time.perf_counter()
                await pool.start()
                figures[f"ray_k{k}_actors_start_s"] = round(time.perf_counter() - t0, 2)
                shards = split(agents, k)
                parts: list[bytes] = [b""] * len(shards)
                walls: list[float] = [0.0] * len(shards)

                def on_item(j: int, item: DummyShard) -> None:
                    parts[j], walls[j] = item.answers, item.wall_s

                jobs = [(lambda _a, s=s: (s.start, len(s), seed)) for s in shards]
                t1 = time.perf_counter()
                try:
                    await pool.run(jobs, on_item)
                    merged = b"".join(parts)  # shard order is agent order
                    figures[f"ray_k{k}_round_s"] = round(time.perf_counter() - t1, 2)
                    figures[f"ray_k{k}_total_s"] = round(time.perf_counter() - t0, 2)
                    figures[f"ray_k{k}_actor_round_s"] = walls
                    rss = await pool.peak_rss_mb()
                    figures[f"ray_k{k}_actors_peak_rss_mb"] = round(sum(rss), 1)
                    figures[f"ray_k{k}_answers_sha256"] = _sha(merged)
                    assert len(merged) == 8 * agents
                finally:
                    await pool.close()

            asyncio.run(one_round())
    return figures


# -- asyncio in one process, serial ---------------------------------------------------------------------


def _asyncio_child(agents: int, seed: int, default_gc: bool, timeout_s: float) -> dict[str, Any]:
    flags = ["--default-gc"] if default_gc else []
    done = subprocess.run([sys.executable, "-m", "smallville.bench.scale", "--asyncio", str(agents), str(seed),
                           *flags], capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"the asyncio round failed: {done.stderr.strip()[-500:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _asyncio_main(agents: int, seed: int, default_gc: bool) -> dict[str, Any]:
    async def main() -> array[float]:
        if not default_gc:
            return await dummy_round(0, agents, seed)
        loop = asyncio.get_running_loop()
        answers = array("d", bytes(8 * agents))

        async def play(i: int, agent: DummyAgent) -> None:
            answers[i] = await agent.reply(seed, SLEEP_S)

        await asyncio.gather(*(loop.create_task(play(i, DummyAgent(i))) for i in range(agents)))
        return answers

    started = time.perf_counter()
    answers = asyncio.run(main())
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak, 1), "answers_sha256": _sha(answers.tobytes())}


def _serial(sample: int, seed: int) -> float:
    """Seconds per agent, one agent after another."""
    async def main() -> None:
        for i in range(sample):
            await DummyAgent(i).reply(seed, SLEEP_S)

    started = time.perf_counter()
    asyncio.run(main())
    return (time.perf_counter() - started) / sample


# -- the honest one: players through the model pool against the fake server ------------------------------


def _pool_rounds(agents: int, workers: Sequence[int], latency_s: float, concurrency: int) -> dict[str, Any]:
    from smallville.games import config, game, standin
    from smallville.inference.settings import InferenceSettings
    from smallville.scale.cluster import RaySession
    from smallville.scale.settings import ScaleSettings
    from smallville.testing.fake_server import FakeServerProcess

    figures: dict[str, Any] = {"pool_agents": agents, "pool_latency_s": latency_s, "pool_concurrency": concurrency}
    server = FakeServerProcess(latency_s=latency_s, answers=standin.answer).start()
    try:
        inference = InferenceSettings.model_validate({
            "endpoints": [{"name": "fake", "base_url": f"http://127.0.0.1:{server.port}/v1", "model": "fake-model",
                           "max_concurrency": concurrency, "timeout_s": 120.0}],
            "retries": 3, "backoff_s": 0.05, "backoff_max_s": 0.5})
        with contextlib.ExitStack() as stack:
            if max(workers) > 1:
                stack.enter_context(RaySession(ScaleSettings(workers=max(workers)), label="bench"))
            for k in workers:
                settings = config.GameFile(game=config.GuessSettings(variant="P1", agents=agents).resolved(),
                                           inference=inference, scale=ScaleSettings(workers=k))
                with tempfile.TemporaryDirectory(prefix="smallville-bench-scale-") as tmp:
                    started = time.perf_counter()
                    report = game.start_study(Path(tmp) / "study", settings, progress=False, say=lambda _: None)
                    study_wall = time.perf_counter() - started
                timing = report["performance"][0]["rounds"][0]
                round1 = report["runs"][0]["rounds"][0]
                figures[f"pool_k{k}_round_s"] = timing["wall_s"]
                figures[f"pool_k{k}_calls_per_s"] = timing["calls_per_s"]
                figures[f"pool_k{k}_study_s"] = round(study_wall, 2)
                figures[f"pool_k{k}_valid"] = round1["n"]
    finally:
        server.stop()
    return figures


def bench_scale(agents: int = 1_000_000, *, quick: bool = False, workers: Sequence[int] = (1, 2, 4),
                pool_agents: int = 10_000, latency_s: float = 1.0, pool_concurrency: int = 2048,
                seed: int = 0) -> dict[str, Any]:
    """Every figure of the module docstring (prints nothing). `quick`: 20,000 dummies, 2,000 players."""
    if quick:
        agents, pool_agents = min(agents, 20_000), min(pool_agents, 2_000)
    figures: dict[str, Any] = {"scale_date": date.today().isoformat(), "scale_cpus": os.cpu_count(),
                               "scale_load_1m_before": round(os.getloadavg()[0], 2),
                               "scale_python": platform.python_version(), "dummy_agents": agents,
                               "dummy_sleep_s": SLEEP_S}
    with contextlib.suppress(ImportError):
        import ray

        figures["scale_ray"] = ray.__version__
    per_agent = _serial(SERIAL_SAMPLE, seed)
    figures.update(serial_sample=SERIAL_SAMPLE, serial_per_agent_s=round(per_agent, 4),
                   serial_extrapolated_s=round(per_agent * agents), serial_extrapolated_days=round(
                       per_agent * agents / 86_400, 2))
    alone = _asyncio_child(agents, seed, False, timeout_s=600)
    figures.update(asyncio_round_s=alone["wall_s"], asyncio_peak_rss_mb=alone["peak_rss_mb"])
    if not quick:
        plain = _asyncio_child(agents, seed, True, timeout_s=900)
        figures.update(asyncio_default_gc_round_s=plain["wall_s"],
                       asyncio_default_gc_peak_rss_mb=plain["peak_rss_mb"])
    figures.update(_ray_rounds(agents, seed, workers))
    shas = {figures[f"ray_k{k}_answers_sha256"] for k in workers} | {alone["answers_sha256"]}
    figures["dummy_answers_identical"] = len(shas) == 1
    figures["dummy_answers_sha256"] = alone["answers_sha256"]
    for k in workers:  # what a user waits for: Ray started, the actors started, the round played
        figures[f"ray_k{k}_wall_s"] = round(figures["ray_start_s"] + figures[f"ray_k{k}_total_s"], 2)
    best = min(workers, key=lambda k: figures[f"ray_k{k}_wall_s"])
    figures.update(PAPER)
    figures["ray_best_k"] = best
    cores = os.cpu_count() or 1
    # beside the paper's figures only at its scale: a smaller round is mostly its 1 s sleep and the start-up
    at_scale = agents == PAPER["paper_dummy_agents"]
    figures["ratio_ray_to_paper"] = round(figures[f"ray_k{best}_wall_s"] / PAPER["paper_ray_like_s"], 2) \
        if at_scale else None
    figures["ratio_asyncio_to_paper_asyncio"] = round(alone["wall_s"] / (PAPER["paper_asyncio_h"] * 3600), 5) \
        if at_scale else None
    figures["agents_per_core_s_here"] = round(agents / figures[f"ray_k{best}_wall_s"] / cores)
    figures["agents_per_core_s_paper"] = round(PAPER["paper_dummy_agents"] / PAPER["paper_ray_like_s"]
                                               / PAPER["paper_cores"])
    figures.update(_pool_rounds(pool_agents, workers, latency_s, pool_concurrency))
    figures["scale_load_1m_after"] = round(os.getloadavg()[0], 2)
    return figures


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--asyncio":
        print(json.dumps(_asyncio_main(int(sys.argv[2]), int(sys.argv[3]), "--default-gc" in sys.argv)))
        sys.exit(0)
    print(json.dumps(bench_scale(quick="--quick" in sys.argv), indent=2))
