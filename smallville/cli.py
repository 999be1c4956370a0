"""The `smallville` command: run, resume, replay, inspect, eval, map, doctor, monitor, bench.

Owns argument parsing and how results and errors reach the user. Every `SmallvilleError` becomes one
line on stderr (naming file, line, layer or key) and exit status 2, never a traceback. Scripts rely on
these names and flags: `run [--headless] [--seed N] [--hours H] [--save DIR]`, `resume DIR [--hours H]`,
`inspect DIR [--json]`, `bench NAME [--json]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from smallville import __version__
from smallville.errors import SmallvilleError


def _positive(value: str) -> float:
    """An argparse type: a finite number above zero and below a million (`--hours nan`, `inf`, `-1` or
    `1e308` are refused here, with the flag named, before anything is made or changed)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or not 0 < number < 1e6:
        raise argparse.ArgumentTypeError(f"{value!r}: give a finite number above 0 and below 1,000,000")
    return number


def _whole(low: int, high: int | None = None) -> Any:
    """An argparse type: a whole number from `low` (to `high`, exclusive)."""
    def check(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < low or (high is not None and number >= high):
            bound = f"from {low} to {high - 1}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"{value!r}: give a whole number {bound}")
        return number
    return check


_count = _whole(1)
_seed = _whole(0, 2**63)  # what the named random streams and the servers' seed fields take


def _settings(args: argparse.Namespace) -> Any:
    from smallville.config import load_settings

    overrides: dict[str, Any] = {}
    if getattr(args, "seed", None) is not None:
        overrides.setdefault("sim", {})["seed"] = args.seed
    if getattr(args, "mind", None):
        overrides["agents"] = {"mind": args.mind}
    if getattr(args, "town", None):
        town = Path(args.town)
        overrides["town"] = {"map": str(town / f"{town.name}.tmx"), "residents": str(town / "residents.toml")}
    return load_settings(Path(args.config) if args.config else None, overrides)


def _pace(game_minutes_per_s: float) -> str:
    """'1,234' for a fast routine run, '0.54' for a run thinking with a slow model."""
    return f"{game_minutes_per_s:,.0f}" if game_minutes_per_s >= 10 else f"{game_minutes_per_s:.2g}"


def _report(args: argparse.Namespace, save_dir: Path, result: dict[str, Any]) -> None:
    if result["stopped_early"]:
        print(f"stopped at tick {result['tick']}; continue with: smallville resume {save_dir}")
    else:
        print(f"saved {save_dir} (tick {result['tick']}, {result['events']:,} events, "
              f"{result['wall_s']:.1f} s, {_pace(result['game_minutes_per_s'])} game-min/s)")
    mind = result.get("mind") or {}
    if mind:
        print(f"minds: {mind.get('conversations', 0):,} conversations, {mind.get('reflections', 0):,} reflections "
              f"(smallville inspect {save_dir} for more)")
    if result.get("inference"):
        print(f"thinking: {result['inference']['line']}")
    if result["fallbacks"]:
        print(f"fallbacks: {result['fallbacks']}")


def cmd_run(args: argparse.Namespace) -> int:
    from smallville.monitor import monitor_beside
    from smallville.run import drive, new_run

    settings = _settings(args)
    if not args.headless:
        _open_display()  # before the save is made: no window, no half-made run
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    save_dir = Path(args.save) if args.save else Path("saves") / f"{stamp}-seed{settings.sim.seed}"
    save, sim = new_run(save_dir, settings, args.hours)
    save.update_manifest(view="headless" if args.headless else "window")  # resume goes on the same way
    print(f"smallville {__version__}: {len(sim.agents)} residents of {sim.town.world}, "
          f"seed {settings.sim.seed}, {args.hours:g} game hours -> {save_dir}")
    monitor_beside(args, save_dir)  # --monitor: the web page beside the run (its address printed)
    if args.headless:
        result = drive(save, sim, save.manifest["target_tick"], progress=not args.no_progress, speed=args.speed,
                       inference=settings.inference)
    else:
        result = _watch(save, sim, save.manifest["target_tick"], args.speed, settings.inference)
    _report(args, save_dir, result)
    return 0


def _quiet_pygame() -> None:
    """pygame's greeting off, and no sound device opened: the town is silent, and a machine without one
    would print ALSA complaints at every start (set SDL_AUDIODRIVER to have sound anyway)."""
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


def _open_display() -> None:
    """Refuse early, in one line, when no window can be shown: before the save is made."""
    import os

    from smallville.errors import SmallvilleError as Refused

    _quiet_pygame()
    hint = "run with --headless, or give it a display (a desktop session, or Xvfb: apt-get install xvfb, then xvfb-run)"
    asked = os.environ.get("SDL_VIDEODRIVER", "")
    if sys.platform.startswith("linux") and not asked and not (os.environ.get("DISPLAY")
                                                               or os.environ.get("WAYLAND_DISPLAY")):
        raise Refused(f"no display for the window (DISPLAY is not set): {hint}")
    try:
        import pygame
    except ImportError:
        raise Refused("the window needs pygame: pip install -e '.[viewer]' (or run with --headless)") from None
    try:
        pygame.display.init()
        pygame.display.set_mode((320, 200))
        driver = pygame.display.get_driver()
    except pygame.error as exc:
        raise Refused(f"no display for the window ({exc}): {hint}") from None
    if driver in ("dummy", "offscreen") and asked != driver:
        # SDL fell back to drawing nowhere: a window nobody can see, which ignores the keyboard
        raise Refused(f"no display for the window (SDL chose its {driver!r} driver): {hint}")


def _watch(save: Any, sim: Any, target: int, speed: float | None, inference: Any) -> dict[str, Any]:
    """The run on a thread beside the window; closing the window stops it (thoughts finish, a checkpoint)."""
    import signal

    import pygame

    from smallville.errors import SaveError
    from smallville.run.control import Control
    from smallville.run.stop import STOP_GRACE_S
    from smallville.viewer.app import Viewer
    from smallville.viewer.sources import LiveSource

    control = Control(speed if speed is not None else 5.0)
    viewer = Viewer(LiveSource(save, sim, target, control, inference=inference))

    def stop(signum: int, frame: Any) -> None:
        # as closing the window: the run stops with a checkpoint at the tick reached; a second signal cancels
        # the thoughts under way at once (they start again on resume), a third quits without the checkpoint
        if control.finished.is_set():
            # the run has stopped and checkpointed already: nothing left to stop but the window showing it
            viewer.running = False
            return
        if control.hurry:
            raise KeyboardInterrupt
        if not viewer.running:
            control.hurry = True
            print("cancelling the thoughts under way; writing the checkpoint (Ctrl-C again to quit without it "
                  "and resume from the one before)", file=sys.stderr, flush=True)
            return
        viewer.running = False
        print(f"stopping: the residents get up to {STOP_GRACE_S:.0f} s to finish their thoughts, then a checkpoint "
              "(Ctrl-C again to cancel them now: they start again on resume)", file=sys.stderr, flush=True)

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        viewer.run()
    finally:
        # SDL puts back the signal handlers it found when pygame started, so ours go back after it
        pygame.quit()
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if control.finished.is_set():
            # stopped and saved: a late Ctrl-C (a second press while the process exits) has nothing left to
            # stop, and must not kill it with a signal's exit status half-way through its last words
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    if control.error is not None:
        raise control.error
    result = viewer.source.result
    if result is None:
        raise SaveError(save.root, "the run ended without a result; its last checkpoint is kept: "
                                   f"smallville resume {save.root}")
    return result


def cmd_replay(args: argparse.Namespace) -> int:
    from smallville.viewer.sources import ReplaySource

    at_minutes = _minutes(args.at) if args.at else None  # the flags first, then the save, then the display
    source = ReplaySource.open(Path(args.save_dir))
    _open_display()
    from smallville.viewer.app import Viewer

    if source.torn_bytes:
        print(f"note: the log ends with {source.torn_bytes} bytes of a line cut by a crash; shown up to there")
    start = None
    if at_minutes is not None:
        start = source.first + source.clock.ticks(at_minutes)
    viewer = Viewer(source, start=start)
    viewer.playing = not args.paused
    try:
        viewer.run()
    finally:
        import pygame as pg

        pg.quit()
    return 0


def _minutes(value: str) -> float:
    """'7:30' or '7.5' (hours into the save) as minutes."""
    from smallville.errors import ConfigError

    try:
        if ":" in value:
            hours, minutes = value.split(":", 1)
            if not (hours.strip().isdigit() and minutes.strip().isdigit() and int(minutes) < 60
                    and int(hours) < 1_000_000):
                raise ValueError(value)
            return int(hours) * 60 + int(minutes)
        hours_f = float(value)
        if not math.isfinite(hours_f) or not 0 <= hours_f < 1e6:
            raise ValueError(value)
        return hours_f * 60
    except ValueError:
        raise ConfigError(f"--at {value!r}: give hours into the run, as 7:30 or 7.5") from None


def cmd_resume(args: argparse.Namespace) -> int:
    from smallville.config import inference_for_save, settings_from_manifest
    from smallville.monitor import monitor_beside
    from smallville.persist.save import Save
    from smallville.run import drive, resume_run

    save_dir = Path(args.save_dir)
    # The way the run was started (window or headless) unless a flag says otherwise; saves from before the
    # manifest recorded it went on headless.
    manifest = Save.open(save_dir).manifest
    headless = args.headless or (not args.window and manifest.get("view") != "window")
    # Refusals first (models, display), before anything is cut back: a refused resume changes nothing.
    saved = settings_from_manifest(manifest.get("settings"), save_dir / "manifest.json").inference
    inference = inference_for_save(saved, Path(args.config) if args.config else None)
    if not headless:
        _open_display()
    save, sim = resume_run(save_dir)
    if args.hours is not None:
        target = sim.tick + round(args.hours * sim.clock.ticks_per_hour)
        save.update_manifest(target_tick=max(target, int(save.manifest.get("target_tick", 0))))
    else:
        target = int(save.manifest["target_tick"])
    if sim.tick >= target:
        save.release_lock()
        print(f"{save_dir} is complete at tick {sim.tick}; use --hours H to go further")
        return 0
    print(f"resuming {save_dir} at {sim.clock.label(sim.tick)} (tick {sim.tick}) to tick {target}"
          f"{'' if headless else ' in the window'}")
    monitor_beside(args, save_dir)  # --monitor: the web page beside the run (its address printed)
    if headless:
        result = drive(save, sim, target, progress=not args.no_progress, speed=args.speed, inference=inference)
    else:
        result = _watch(save, sim, target, args.speed, inference)
    _report(args, save_dir, result)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from smallville.inspect import render, summarize
    from smallville.persist.save import Save

    summary = summarize(Save.open(Path(args.save_dir)))
    print(json.dumps(summary, ensure_ascii=False, indent=2) if args.json else render(summary))
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from smallville.config import resolve_path
    from smallville.world.residents import load_residents
    from smallville.world.town import load_town

    settings = _settings(args)
    town = load_town(Path(args.tmx) if args.tmx else resolve_path(settings.town.map))
    residents = [] if args.tmx else load_residents(resolve_path(settings.town.residents), town)
    tree = town.tree()
    info = {"map": str(town.data.path), "world": town.world, "size": [town.width, town.height],
            "sectors": len(tree), "arenas": len(town.arenas),
            "objects": sum(len(a.objects) for a in town.arenas),
            "object_types": len({o.kind for a in town.arenas for o in a.objects}),
            "walkable_tiles": int(town.walkable_grid.sum()), "residents": len(residents),
            "sha256": town.data.sha256, "tree": tree}
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"{info['map']}: ok. {town.world}, {town.width}x{town.height} tiles, {info['sectors']} sectors, "
          f"{info['arenas']} arenas, {info['objects']} objects of {info['object_types']} types, "
          f"{info['walkable_tiles']} walkable tiles, {len(residents)} residents")
    for sector, arenas in tree.items():
        print(f"  {sector}")
        for arena, objects in arenas.items():
            print(f"    {arena}: {', '.join(objects) or '-'}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from smallville.inference.doctor import check_endpoints, healthy, render_table

    inference = _settings(args).inference
    if inference.uses_embedded_server:
        from smallville.inference.local import EmbeddedServer
        from smallville.inference.settings import EndpointSettings

        print("no endpoint configured: checking the embedded local server")
        with EmbeddedServer() as server:
            # llama-cpp-python's server takes the schema as {"type": "json_object", "schema": ...} only.
            embedded = EndpointSettings(name="embedded", base_url=server.base_url, model=server.model,
                                        structured="json_object_schema", max_concurrency=1)
            rows = check_endpoints(inference.model_copy(update={"endpoints": [embedded]}))
    else:
        rows = check_endpoints(inference)
    print(render_table(rows))
    return 0 if healthy(rows) else 1


def cmd_bench(args: argparse.Namespace) -> int:
    from smallville.bench import run_bench

    if args.name == "scale":  # its own knob: the dummy agents of the round
        from smallville.bench.scale import bench_scale

        figures = bench_scale(args.agents, quick=args.quick)
    else:
        figures = run_bench(args.name, quick=args.quick, embedded_day=args.embedded_day, days=not args.no_days,
                            save=Path(args.save) if args.save else None)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:28s} {value}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from smallville.eval.study import study
    from smallville.monitor import monitor_beside

    settings = _settings(args)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("saves") / f"diffusion-{stamp}"
    monitor_beside(args, out)  # --monitor: the study's page beside it (its address printed)
    from smallville.scale.settings import ScaleSettings

    scale = ScaleSettings().with_flags(args.workers, args.ray_address)  # --workers 1: this process, as before
    report = study(out, settings, saves=[Path(s) for s in args.save] if args.save else None, seeds=args.seeds,
                   days=args.days, scenario=Path(args.scenario) if args.scenario else None,
                   interviews=not args.no_interviews, progress=not args.no_progress, parallel=args.parallel,
                   scale=scale)
    agg = report["aggregate"]
    for key in [k for k in agg if k.endswith((".aware_start", ".aware_end"))] + ["density_before", "density_after"]:
        cell = agg.get(key)
        if cell:
            ci = f" ± {cell['ci95']:.3f}" if cell["ci95"] is not None else ""
            print(f"{key:28s} {cell['mean']:.3f}{ci}")
    for run in report["runs"]:
        for note in run["notes"]:
            print(f"note: {run['name']}: {note}")
    print(f"report: {out / 'summary.md'} (and report.json, plots, graphs)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from smallville.games.cli import add_game_parser
    from smallville.monitor import add_monitor_command, add_monitor_flag
    from smallville.population.cli import add_population_parser
    from smallville.scale.limits import MAX_WORKERS

    p = argparse.ArgumentParser(prog="smallville", description="A town of generative agents.")
    p.add_argument("--version", action="version", version=f"smallville {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", help="settings TOML file (default: ./smallville.toml if present)")
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")
        sp.add_argument("--speed", type=_positive, help="at most this many game minutes per real second "
                                                    "(default: as fast as possible)")

    run = sub.add_parser("run", help="start a new run and save it")
    common(run)
    run.add_argument("--headless", action="store_true", help="no window: a progress bar")
    run.add_argument("--seed", type=_seed, help="random seed (default: from config, else 0)")
    run.add_argument("--hours", type=_positive, default=24.0, help="game hours to simulate (default 24)")
    run.add_argument("--save", help="save directory (default: saves/<date>-seed<N>)")
    run.add_argument("--town", help="a town directory holding <name>.tmx and residents.toml")
    run.add_argument("--mind", choices=["generative", "routine"],
                     help="generative: language-model minds (default); routine: fixed habits, no model")
    run.set_defaults(func=cmd_run)
    add_monitor_flag(run)

    resume = sub.add_parser("resume", help="continue a save (after a stop or a crash)")
    common(resume)
    resume.add_argument("save_dir")
    view = resume.add_mutually_exclusive_group()
    view.add_argument("--headless", action="store_true", help="no window: a progress bar (default for a run "
                                                              "started with --headless)")
    view.add_argument("--window", action="store_true", help="in the window (default for a run started in it)")
    resume.add_argument("--hours", type=_positive, help="game hours beyond where the save stands "
                                                   "(default: up to the run's original target)")
    resume.set_defaults(func=cmd_resume)
    add_monitor_flag(resume)

    replay = sub.add_parser("replay", help="watch a saved run in a window (no model needed)")
    replay.add_argument("save_dir")
    replay.add_argument("--at", help="start this far into the run (hours: 7:30 or 7.5)")
    replay.add_argument("--paused", action="store_true", help="start paused")
    replay.set_defaults(func=cmd_replay)

    inspect = sub.add_parser("inspect", help="summarise a save")
    inspect.add_argument("save_dir")
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(func=cmd_inspect)

    check = sub.add_parser("map", help="load and check a town map; print its address tree")
    check.add_argument("tmx", nargs="?", help="a .tmx file (default: the configured town)")
    check.add_argument("--config")
    check.add_argument("--town")
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_map)

    doctor = sub.add_parser("doctor", help="check each inference endpoint (or the embedded server)")
    doctor.add_argument("--config")
    doctor.set_defaults(func=cmd_doctor)

    evaluate = sub.add_parser("eval", help="headless evaluations (diffusion: the paper's end-to-end study)")
    evaluate.add_argument("study", choices=["diffusion"])
    evaluate.add_argument("--save", action="append", help="evaluate this save instead of running (repeatable)")
    evaluate.add_argument("--days", type=_positive, default=2.0, help="game days of each run (default 2)")
    evaluate.add_argument("--seeds", type=_count, default=1, help="runs, one seed after another from --seed")
    evaluate.add_argument("--seed", type=_seed, help="the first seed (default: from config, else 0)")
    evaluate.add_argument("--parallel", type=_count, default=1, help="seeds run side by side (default 1: one after "
                                                                  "another)")
    evaluate.add_argument("--workers", type=_whole(1, MAX_WORKERS + 1),
                          help="seeds fanned out over this many group actors on Ray (each runs and evaluates one "
                          "seed at a time; default 1: one after another here)")
    evaluate.add_argument("--ray-address", help="the Ray cluster for --workers (host:port of its head; default "
                          "RAY_ADDRESS, else this machine); --out must then be on a disk every node mounts")
    evaluate.add_argument("--out", help="report directory (default: saves/diffusion-<time>)")
    evaluate.add_argument("--scenario", help="a scenario file (facts and questions) instead of the town's")
    evaluate.add_argument("--no-interviews", action="store_true",
                          help="no model calls: awareness from memories, density from the log")
    evaluate.add_argument("--config")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_monitor_flag(evaluate)
    evaluate.set_defaults(func=cmd_eval)

    add_monitor_command(sub)

    bench = sub.add_parser("bench", help="print benchmark figures")
    bench.add_argument("name", choices=["world", "inference", "agents", "viewer", "first-run", "population", "games",
                                              "quality", "scale"])
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions (for smoke tests)")
    bench.add_argument("--embedded-day", action="store_true",
                       help="agents: also a whole day on the embedded model (about 25 minutes on 2 cores)")
    bench.add_argument("--no-days", action="store_true", help="agents: only retrieval, no whole game days")
    bench.add_argument("--save", help="viewer: measure the replay of this save (default: a routine 2-day run); "
                       "quality: the save whose model answers to measure (required)")
    bench.add_argument("--agents", type=_count, default=1_000_000, help="scale: dummy agents in the round "
                       "(default 1,000,000; --quick: 20,000)")
    bench.set_defaults(func=cmd_bench)
    add_population_parser(sub)
    add_game_parser(sub)
    return p


def _quiet_libraries() -> None:
    """The libraries behind the embedding model print loading bars and advice of their own, which break the
    run's progress line and tell a user nothing (-v keeps what they log at warning level)."""
    import os

    _quiet_pygame()  # also keeps `bench viewer --json` JSON alone on stdout
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not args.verbose:
        # One line per HTTP request drowns what matters; -v brings them back.
        for noisy in ("httpx", "httpx2", "openai", "aiohttp", "faiss", "sentence_transformers", "transformers"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except SmallvilleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
