"""Benchmarks: scripts that print figures (`smallville bench NAME [--json]`), never timed tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_bench(name: str, quick: bool = False, embedded_day: bool = False, days: bool = True,
              save: Path | None = None) -> dict[str, Any]:
    """`days`: the agents' whole game days (a few minutes); `embedded_day`: also the day on the embedded
    model (about an hour); `save`: the viewer's replay figures on this save instead of a routine one."""
    if name == "world":
        from smallville.bench.world import bench_world

        return bench_world(quick=quick)
    if name == "inference":
        from smallville.bench.embedded import bench_embedded
        from smallville.bench.inference import bench_inference_client

        return {**bench_inference_client(quick=quick), **bench_embedded(quick=quick)}
    if name == "agents":
        from smallville.bench.agents import bench_retrieval
        from smallville.bench.days import bench_embedded_day, bench_fake_day

        figures = bench_retrieval(quick=quick)
        if days:
            figures.update(bench_fake_day(quick=quick))
        if embedded_day:
            figures.update(bench_embedded_day())
        return figures
    if name == "first-run":
        from smallville.bench.firstrun import bench_first_run

        return bench_first_run(quick=quick)
    if name == "viewer":
        from smallville.bench.viewer import bench_viewer

        return bench_viewer(quick=quick, save=save)
    if name == "population":
        from smallville.bench.population import bench_populations

        return bench_populations(quick=quick)
    if name == "games":
        from smallville.bench.games import bench_games

        return bench_games(quick=quick)
    if name == "quality":
        from smallville.bench.quality import bench_quality

        if save is None:
            from smallville.errors import SmallvilleError

            raise SmallvilleError("bench quality measures a save: give it --save SAVE")
        return bench_quality(save)
    raise ValueError(f"unknown benchmark {name!r}")
