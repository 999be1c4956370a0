"""A diffusion study: runs (or saves) in, a report directory out.

Owns what `smallville eval diffusion` does from start to end: run the standard scenario headless for each
seed (one after another; a run cut short by a crash or Ctrl-C is resumed from its save, so a long study
goes on unattended), evaluate every save (`eval/diffusion.py`), and write the report: `report.json`,
`summary.md`, the plots and the GraphML graphs (`eval/report.py`, `eval/plots.py`).

Interviews ask the configured models (the embedded one without endpoints); their calls are recorded in the
report, per run (`runs/<name>/calls.jsonl`, `inference.json`), never in the save: evaluating changes no
run.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from smallville.config import Settings
from smallville.eval import diffusion
from smallville.eval.ask import Interviewed

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
          **models: Any) -> dict[str, Any]:
    """Run (unless `saves` are given) and evaluate; write the report into `out`; return report.json's dict.

    `parallel` > 1 runs that many seeds side by side, each in a process of its own (for servers that take
    many requests at once; on the embedded model each process starts its own server on the same cores)."""
    from smallville.eval import report

    out.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[str, Path | diffusion.Opened]] = []
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
