"""`smallville bench inference`: what the inference client itself costs and how it holds up.

Figures (targets from the inference issue), all against the fake OpenAI-compatible server running in a
child process (so that it does not share the client's interpreter lock; on 2 cores each gets one):
- `client_rps` (>= 500): structured calls (`complete_model`, parsed and validated) completed per second
  through the pool against a zero-latency server; `client_rps_text` the same for `complete_text`;
- `concurrent_1000_s` (<= 3): 1,000 calls at once against a server answering after 1 s;
- `failover_failed` (0): two endpoints, one killed a third of the way through; calls that failed as
  seen by the callers (`failover_fallbacks` counts the requests that moved to the other endpoint).
Prints nothing; returns the figures.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from smallville.inference.base import CallOptions, InferenceError, Message
from smallville.inference.pool import ServerPool
from smallville.inference.settings import EndpointSettings, InferenceSettings
from smallville.testing.fake_server import FakeServerProcess


class _Step(BaseModel):
    minutes: int = Field(ge=5, le=60)
    action: str


class _BenchPlan(BaseModel):
    """A small answer model shaped like the agents' (a list of nested objects, a literal-ish string)."""

    summary: str
    steps: list[_Step] = Field(min_length=1)


_CHAT = [Message("system", "You are Isabella Rodriguez, who runs Hobbs Cafe."),
         Message("user", "Plan the next hour of your day.")]


def _settings(*urls: str, concurrency: int, timeout_s: float = 30.0) -> InferenceSettings:
    return InferenceSettings(
        endpoints=[EndpointSettings(name=f"fake{i}", base_url=url, model="fake-model", max_concurrency=concurrency,
                                    timeout_s=timeout_s) for i, url in enumerate(urls)],
        retries=6, backoff_s=0.05, backoff_max_s=0.5, breaker_failures=3, breaker_cooldown_s=30.0)


async def _drive(n: int, concurrency: int, call: Callable[[int], Awaitable[object]],
                 at: Callable[[int], None] | None = None) -> tuple[float, int]:
    """Run `n` calls with at most `concurrency` in flight; (seconds, failed calls)."""
    queue = iter(range(n))
    failed = 0
    done = 0

    async def worker() -> None:
        nonlocal failed, done
        for i in queue:
            try:
                await call(i)
            except InferenceError:
                failed += 1
            done += 1
            if at is not None:
                at(done)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, failed


async def _throughput(url: str, n: int) -> dict[str, float]:
    async with ServerPool(_settings(url, concurrency=64)) as pool:
        options = CallOptions("bench", seed=1)
        await pool.complete_model(_CHAT, _BenchPlan, options)  # connections and caches warm
        model_s, model_failed = await _drive(n, 64, lambda i: pool.complete_model(_CHAT, _BenchPlan, options))
        text_s, text_failed = await _drive(n, 64, lambda i: pool.complete_text(_CHAT, options))
    if model_failed or text_failed:
        raise RuntimeError(f"throughput run failed {model_failed + text_failed} call(s)")
    return {"client_rps": round(n / model_s, 1), "client_rps_text": round(n / text_s, 1)}


async def _concurrent(url: str, n: int) -> dict[str, float]:
    """Waves of n concurrent calls through one pool. The first wave also opens n connections (the cold
    figure); a running town keeps its connections across ticks, so the headline figure is the median of
    the following waves over kept-alive connections."""
    async with ServerPool(_settings(url, concurrency=n)) as pool:
        options = CallOptions("bench")
        waves = []
        for _ in range(4):
            seconds, failed = await _drive(n, n, lambda i: pool.complete_text(_CHAT, options))
            if failed:
                raise RuntimeError(f"concurrency run failed {failed} call(s)")
            waves.append(seconds)
    return {"concurrent_1000_s": round(statistics.median(waves[1:]), 3), "concurrent_1000_cold_s": round(waves[0], 3)}


async def _failover(a: FakeServerProcess, b: FakeServerProcess, n: int) -> dict[str, Any]:
    async with ServerPool(_settings(a.base_url, b.base_url, concurrency=64, timeout_s=5.0)) as pool:
        options = CallOptions("bench", seed=2)
        killed: list[float] = []

        def maybe_kill(done: int) -> None:
            if not killed and done >= n // 3:
                killed.append(time.perf_counter())
                b.kill()  # the kill switch: listener closed, every open connection dropped

        seconds, failed = await _drive(n, 64, lambda i: pool.complete_model(_CHAT, _BenchPlan, options), maybe_kill)
        stats = pool.accounting.snapshot()
    return {"failover_failed": failed, "failover_calls": n, "failover_s": round(seconds, 3),
            "failover_fallbacks": stats["totals"]["fallbacks"],
            "failover_breaker_opened": stats["by_endpoint"].get("fake1", {}).get("breaker_opened", 0)}


def bench_inference_client(quick: bool = False) -> dict[str, Any]:
    """Client overhead, concurrency and failover figures (see the module docstring)."""
    n = 1000 if quick else 3000
    quiet = logging.getLogger("smallville.inference")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the failover run logs a line per failed request: the bench prints nothing
    try:
        return _figures(quick, n)
    finally:
        quiet.setLevel(level)


def _figures(quick: bool, n: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(), "quick": quick}
    with FakeServerProcess() as server:
        figures.update(asyncio.run(_throughput(server.base_url, n)))
    with FakeServerProcess(latency_s=1.0) as server:
        figures.update(asyncio.run(_concurrent(server.base_url, 1000)))
    with FakeServerProcess() as a, FakeServerProcess() as b:
        figures.update(asyncio.run(_failover(a, b, 600 if quick else 2000)))
    return figures


if __name__ == "__main__":  # handy while tuning: python -m smallville.bench.inference
    import json

    print(json.dumps(bench_inference_client(quick=True), indent=2))
