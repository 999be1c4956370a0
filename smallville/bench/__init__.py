"""Benchmarks: scripts that print figures (`smallville bench NAME [--json]`), never timed tests."""

from __future__ import annotations

from typing import Any


def run_bench(name: str, quick: bool = False) -> dict[str, Any]:
    if name == "world":
        from smallville.bench.world import bench_world

        return bench_world(quick=quick)
    if name == "inference":
        from smallville.bench.embedded import bench_embedded
        from smallville.bench.inference import bench_inference_client

        return {**bench_inference_client(quick=quick), **bench_embedded(quick=quick)}
    if name == "agents":
        from smallville.bench.agents import bench_retrieval

        return bench_retrieval(quick=quick)
    raise ValueError(f"unknown benchmark {name!r}")
