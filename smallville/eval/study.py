"""A diffusion study: runs (or saves) in, a report directory out.

Owns what `smallville eval diffusion` does from start to end: run the standard scenario headless for each
seed (one after another; a run cut short by a crash or Ctrl-C is resumed from its save, so a long study
goes on unattended), evaluate every save (`eval/diffusion.py`), and write the report: `report.json`,
`summary.md`, the plots and the GraphML graphs (`eval/report.py`, `eval/plots.py`).

Interviews ask the configured models (the embedded one without endpoints); their calls are recorded in the
report, per run (`runs/<name>/calls.jsonl`, `inference.json`), never in the save: evaluating changes no
run.

Seeds side by side: `parallel` runs them in local processes; `workers` (or a `[scale]` address) fans them out
over group actors on Ray (`smallville/scale/`), each taking the next seed, running it and evaluating it where
it runs (`SeedGroup`). The report is the same either way: the runs come back in seed order. Each town run is
still one process (its determinism is one event loop's); a seed whose worker is lost is run again by the
restarted worker, resuming from its save's last checkpoint. On a cluster `--out` must be on a filesystem
every node mounts at the same path: each worker checks it can see the study folder before its first seed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallville.config import Settings
from smallville.eval import diffusion
from smallville.eval.ask import Interviewed
from smallville.scale.settings import ScaleSettings

log = logging.getLogger(__name__)


def run_seed(settings: Settings, seed: int, days: float, save_dir: Path, *, scenario: Path | None = None,
             progress: bool = True, **drive_kw: Any) -> Path:
    """Run (or finish) one seed's save: a new run, or the resumption of an unfinished one already there."""
    from smallville.run import drive, new_run, resume_run

    if (save_dir / "manifest.json").is_file():
        save, sim = resume_run(save_dir)
        target = int(save.manifest["target_tick"])
        if sim.tick < target:
            log.info("resuming %s at tick %d", save_dir, sim.tick)
            drive(save, sim, target, progress=progress, **drive_kw)
        return save_dir
    agents = settings.agents.model_copy(update={"scenario": str(scenario)}) if scenario else settings.agents
    settings = settings.model_copy(update={"sim": settings.sim.model_copy(update={"seed": seed}), "agents": agents})
    save, sim = new_run(save_dir, settings, days * 24)
    drive(save, sim, int(save.manifest["target_tick"]), progress=progress, **drive_kw)
    return save_dir


def evaluate(save: Path | diffusion.Opened, report_dir: Path, settings: Settings, *, scenario: Path | None = None,
             interviews: bool = True, lm: Any = None, embedder: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One save's figures (JSON-safe) and its graphs (networkx, for plots and GraphML); `save` is its
    directory, or the save already opened with `diffusion.open_save`.

    `settings` gives the models the interviews ask; `lm`/`embedder` replace them (tests)."""
    opened = save if isinstance(save, diffusion.Opened) else diffusion.open_save(save, scenario)
    phases = diffusion.Phases()
    with phases.measure("log"):
        logged = diffusion.read_log(opened, opened.clock.ticks_per_hour)
    moments = diffusion.interview_moments(opened)
    run: dict[str, Any] = {
        "save": str(opened.save.root), "seed": opened.save.manifest.get("seed"),
        "first": opened.first, "last": opened.last, "from": opened.clock.label(opened.first),
        "to": opened.clock.label(opened.last),
        "game_hours": round((opened.last - opened.first) * opened.clock.tick_seconds / 3600, 2),
        "scenario": opened.scenario.name, "residents": len(opened.names), "notes": opened.notes,
        "baseline": opened.scenario.baselines(),
        "complete": not any("unfinished" in n for n in opened.notes),
        "moments": {k: {"t": t, "at": opened.clock.label(t), "replay": opened.replay(t)} for k, t in moments.items()},
        "density_log_before": logged["density_log_before"], "density_log_after": logged["density_log_after"],
    }
    graphs = dict(logged["graphs"])
    facts = logged["facts"]
    if interviews:
        report_dir.mkdir(parents=True, exist_ok=True)
        answers = asyncio.run(_interview(opened, moments, report_dir, settings, phases, lm, embedder))
        figures = diffusion.interview_figures(opened, answers, {fid: f["holders"] for fid, f in facts.items()})
        for fid, row in figures.pop("facts").items():
            facts[fid].update(row)
        graphs.update(figures.pop("graphs"))
        run.update(figures)
        run["method"] = "interview"
        run["interviews"] = {moment: [r.to_dict() for r in rs] for moment, rs in answers.items()}
    else:
        for row in facts.values():
            row["aware_start"], row["aware_end"] = row["held_start"], row["held_end"]
        run["density_before"], run["density_after"] = run["density_log_before"], run["density_log_after"]
        run["method"] = "memory"
        run["notes"].append("no interviews: awareness is what the residents' memories hold, density the log's ties")
    run["facts"] = facts
    run["phases"] = phases.figures
    return run, graphs


async def _interview(opened: diffusion.Opened, moments: dict[str, int], report_dir: Path, settings: Settings,
                     phases: diffusion.Phases, lm: Any, embedder: Any) -> dict[str, list[Interviewed]]:
    from smallville.inference.session import open_models

    answers: dict[str, list[Interviewed]] = {}
    async with open_models(settings.inference, report_dir, lm=lm, embedder=embedder) as models:
        log.info("interviews think with %s", models.description)
        phases.accounting = models.accounting
        for moment, tick in moments.items():
            with phases.measure(f"interviews_{moment}"):
                answers[moment] = await diffusion.interview_all(opened, phases.counting(models.lm), models.embedder,
                                                                tick)
    return answers


def study(out: Path, settings: Settings, *, saves: list[Path] | None = None, seeds: int = 1, days: float = 2.0,
          scenario: Path | None = None, interviews: bool = True, progress: bool = True, parallel: int = 1,
          scale: ScaleSettings | None = None, **models: Any) -> dict[str, Any]:
    """Run (unless `saves` are given) and evaluate; write the report into `out`; return report.json's dict.

    `parallel` > 1 runs that many seeds side by side, each in a process of its own (for servers that take
    many requests at once; on the embedded model each process starts its own servers on the same cores).
    `scale` (`ScaleSettings`) with more than one worker, or a cluster address, fans the seeds out over Ray."""
    from smallville.eval import report

    if scale is not None and scale.uses_ray and parallel > 1:
        from smallville.errors import ConfigError

        raise ConfigError("--parallel (local processes) and --workers (Ray) both spread the seeds: choose one")
    if not saves and scale is not None and scale.uses_ray:
        from smallville.scale.cluster import check

        check(scale)  # no Ray, or a cluster that does not answer: one line before anything is made
    out.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[str, Path | diffusion.Opened]] = []
    if not saves and scale is not None and scale.uses_ray:
        diffusion.check_scenario(settings, scenario)  # a mistake found now costs no game day
        first = settings.sim.seed
        jobs = [SeedJob(f"seed-{seed}", seed, out / "runs" / f"seed-{seed}" / "save") for seed in
                range(first, first + seeds)]
        done = fan_out(out, settings, jobs, scale, days=days, scenario=scenario, interviews=interviews,
                       models=models)
        return report.write(out, [run for run, _ in done], [graph for _, graph in done])
    if saves and scale is not None and scale.uses_ray:
        log.warning("--workers fans out runs; the %d save(s) given are evaluated here, one after another", len(saves))
    if saves:
        # every save opened (and checked) first: one that cannot be evaluated stops the study before any call
        runs = [(f"{i + 1:02d}-{Path(s).resolve().name}", diffusion.open_save(Path(s), scenario))
                for i, s in enumerate(saves)]
    else:
        diffusion.check_scenario(settings, scenario)  # a mistake found now costs no game day
        first = settings.sim.seed
        dirs = [(f"seed-{seed}", out / "runs" / f"seed-{seed}" / "save") for seed in range(first, first + seeds)]
        if parallel > 1 and len(dirs) > 1 and not models:
            _side_by_side(settings, dirs, first, days, scenario, parallel)
        else:
            for i, (_, save_dir) in enumerate(dirs):
                log.info("seed %d: %g game days -> %s", first + i, days, save_dir)
                run_seed(settings, first + i, days, save_dir, scenario=scenario, progress=progress, **models)
        runs = list(dirs)
    results, graphs = [], []
    for name, save in runs:
        run, graph = evaluate(save, out / "runs" / name, settings, scenario=scenario, interviews=interviews,
                              **models)
        run["name"] = name
        results.append(run)
        graphs.append(graph)
    return report.write(out, results, graphs)


def _side_by_side(settings: Settings, runs: list[tuple[str, Path]], first: int, days: float,
                  scenario: Path | None, parallel: int) -> None:
    """Seeds in processes of their own ('spawn': a fork of a process with model threads can hang)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        futures = [pool.submit(run_seed, settings, first + i, days, save_dir, scenario=scenario, progress=False)
                   for i, (_, save_dir) in enumerate(runs)]
        for (name, save_dir), future in zip(runs, futures, strict=True):
            future.result()  # a failed run raises here, with its reason
            log.info("%s finished: %s", name, save_dir)


@dataclass(frozen=True)
class SeedJob:
    """One seed of a fanned-out study: its run's name and save folder."""

    name: str
    seed: int
    save_dir: Path


@dataclass(frozen=True)
class SeedDone:
    name: str
    run: dict[str, Any]
    graphs: dict[str, Any]


@dataclass(frozen=True)
class SeedGroupFactory:
    """What each worker builds its `SeedGroup` from (picklable: the settings, and a test's own models)."""

    settings: Settings
    out: Path
    marker: str  # a file the driver wrote into `out`: a worker that cannot see it is on another disk
    cwd: str  # the driver's: relative paths (and so the report's replay commands) mean the same in a worker
    days: float
    scenario: Path | None
    interviews: bool
    models: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict, repr=False)  # the endpoints' API keys (scale/actor.py)

    def build(self) -> SeedGroup:
        return SeedGroup(self)


def _run_and_evaluate(spec: SeedGroupFactory, job: SeedJob) -> SeedDone:
    """One seed, as the one-after-another study does it: run (or finish) its save, then evaluate it."""
    run_seed(spec.settings, job.seed, spec.days, job.save_dir, scenario=spec.scenario, progress=False,
             **spec.models)
    run, graphs = evaluate(job.save_dir, spec.out / "runs" / job.name, spec.settings, scenario=spec.scenario,
                           interviews=spec.interviews, **spec.models)
    run["name"] = job.name
    return SeedDone(job.name, run, graphs)


class SeedGroup:
    """A worker of a fanned-out diffusion study: the seeds it is given, one at a time, in a thread of its own
    (a town run drives its own event loop)."""

    def __init__(self, spec: SeedGroupFactory):
        self.spec = spec

    async def open(self) -> None:
        from smallville.scale.actor import adopt_env, node_facts
        from smallville.scale.cluster import ScaleError

        if not (Path(self.spec.cwd) / self.spec.out / self.spec.marker).is_file():
            facts = node_facts()
            raise ScaleError(f"node {facts['node']} ({facts['host']}) does not see the study folder {self.spec.out}: "
                             "on a Ray cluster, --out must be on a filesystem every node mounts at the same path")
        # a group actor's process is this group's alone: its working folder and key variables may follow the
        # driver's
        os.chdir(self.spec.cwd)
        adopt_env(self.spec.keys)

    async def run(self, job: SeedJob) -> AsyncGenerator[SeedDone, None]:
        yield await asyncio.to_thread(_run_and_evaluate, self.spec, job)

    async def close(self) -> None:
        return None


def _given(job: SeedJob) -> Callable[[int], SeedJob]:
    """The job, whatever the attempt (a seed run again resumes from its save)."""
    return lambda _attempt: job


def fan_out(out: Path, settings: Settings, jobs: list[SeedJob], scale: ScaleSettings, *, days: float,
            scenario: Path | None, interviews: bool,
            models: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every seed run and evaluated on the workers; their (run, graphs) in seed order."""
    from smallville.scale.actor import carried_env
    from smallville.scale.pool import open_pool

    marker = f".smallville-workers-{uuid.uuid4().hex[:12]}"
    (out / marker).write_text("a scaled-out study's workers check they see this folder\n", encoding="utf-8")
    names = {e.api_key_env for e in settings.inference.endpoints}
    if settings.inference.embedding is not None:
        names.add(settings.inference.embedding.api_key_env)
    factory = SeedGroupFactory(settings, out, marker, os.getcwd(), days, scenario, interviews, dict(models),
                               carried_env(names))
    done: list[SeedDone | None] = [None] * len(jobs)

    def on_item(j: int, item: SeedDone) -> None:
        log.info("%s finished: %s", item.name, jobs[j].save_dir)
        done[j] = item

    async def main() -> None:
        async with open_pool(scale, factory, label="diffusion") as pool:
            log.info("seeds %s on %s", ", ".join(j.name for j in jobs), pool.description)
            await pool.run([_given(job) for job in jobs], on_item)

    try:
        asyncio.run(main())
    finally:
        (out / marker).unlink(missing_ok=True)
    return [(d.run, d.graphs) for d in done if d is not None]
