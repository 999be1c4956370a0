"""`smallville game ...`: the round games' commands (`guess`, `resume`, `report`).

Owns their flags and how results and errors reach the user. `add_game_parser(subparsers)` hangs the commands
under the main `smallville` parser; `python -m smallville.games.cli game ...` runs them on their own (tests
use that). Bad input (a count that is not a whole number, nan or inf, an unknown variant, a bad config, a
population that cannot seat the players) is one line on stderr and exit status 2, never a traceback or a
usage screen; a game whose models cannot answer stops with one line naming the endpoint, exit 2, its save
kept for `smallville game resume`. `--workers K` / `--ray-address` put the players in group actors on Ray
(`smallville/scale/`, docs/scale.md); a group actor that does not come back stops the game the same way, naming
its node.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from smallville.errors import SmallvilleError
from smallville.games.limits import MAX_AGENTS, VARIANTS
from smallville.monitor import add_monitor_flag


class GameStopped(SmallvilleError):
    """A game that stopped before its end (its models could not answer): the save is kept."""


def _one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse prints a usage screen then the error; a script reading stderr wants the error alone."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"error: {parser.prog}: {message}\n")

    parser.error = error  # type: ignore[method-assign]
    return parser


def _whole(low: int, high: int) -> Any:
    def check(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value!r}: give a whole number from {low:,} to {high:,}")
        return number
    return check


def _finite(low: float, high: float) -> Any:
    def check(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if not math.isfinite(number) or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value!r}: give a finite number from {low:g} to {high:g}")
        return number
    return check


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    flags = {"variant": args.variant, "agents": args.agents, "rounds": args.rounds, "ratio": args.ratio,
             "offset": args.offset, "temperature": args.temperature, "parse": args.parse, "seed": args.seed,
             "seeds": args.seeds, "population": args.population, "announce": args.announce, "history": args.history,
             "max_tokens": args.max_tokens, "concurrency": args.concurrency, "instruction": args.instruction}
    out = {k: v for k, v in flags.items() if v is not None}
    if args.famous_note:
        out["famous_note"] = True
    return out


def _scale_flags(args: argparse.Namespace) -> dict[str, Any]:
    flags = {"workers": args.workers, "address": args.ray_address}
    return {k: v for k, v in flags.items() if v is not None}


def _stopped(out: Path, exc: SmallvilleError) -> GameStopped:
    from smallville.scale.cluster import WorkerLost

    if isinstance(exc, WorkerLost):
        return GameStopped(f"{exc} (the save is kept: smallville game resume {out} goes on from the round it was in)")
    return GameStopped(f"{exc} (the save is kept: once the models answer, smallville game resume {out} goes on)")


def _print_report(out: Path, report: dict[str, Any]) -> None:
    for agg in report["aggregate"]:
        mean, target = agg["mean"], agg["target"]
        ci = f" ± {mean['ci95']:.2f}" if mean["ci95"] is not None else ""
        shown = "-" if mean["mean"] is None else f"{mean['mean']:.2f}{ci}"
        goal = "-" if target["mean"] is None else f"{target['mean']:.2f}"
        print(f"round {agg['r']}: mean {shown}, target {goal}, invalid {agg['invalid']['mean'] or 0:g}, "
              f"failed {agg['failed']['mean'] or 0:g} (per seed)")
    print(f"report: {out / 'summary.md'} (and report.json, plots)")


def cmd_guess(args: argparse.Namespace) -> int:
    from smallville.games import config, game
    from smallville.monitor import monitor_beside

    settings = config.load(Path(args.config) if args.config else None, _overrides(args), _scale_flags(args))
    cfg = settings.game
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("saves") / f"game-guess-{cfg.variant}-{stamp}-seed{cfg.seed}"
    print(f"guess {cfg.ratio} of the average ({cfg.variant}, {cfg.parse}), {cfg.rounds} round(s), "
          f"{cfg.seeds} seed(s) -> {out}")
    monitor_beside(args, out)  # --monitor: the game's page beside it (its address printed)
    return _play(out, lambda: game.start_study(out, settings, progress=not args.no_progress))


def _play(out: Path, study: Any) -> int:
    """Run `study` (a start or a resume) and print its report; a model that cannot answer or a Ctrl-C ends it
    with one line saying how to go on."""
    from smallville.inference.base import InferenceError
    from smallville.scale.cluster import WorkerLost

    # Ctrl-C (SIGINT) stops the game even where it was inherited as ignored (a command started in the
    # background by a script: POSIX shells ignore SIGINT there), as the town's StopFlag takes it over too.
    main = threading.current_thread() is threading.main_thread()  # signal() works only there
    old = signal.signal(signal.SIGINT, signal.default_int_handler) if main else None
    try:
        report = study()
    except (InferenceError, WorkerLost) as exc:
        raise _stopped(out, exc) from None
    except KeyboardInterrupt:
        print(f"stopped; continue with: smallville game resume {out}", file=sys.stderr)
        return 130
    finally:
        if main and old is not None:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGINT, old)
    _print_report(out, report)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from smallville.games import game
    from smallville.monitor import monitor_beside

    out = Path(args.study)
    monitor_beside(args, out)
    return _play(out, lambda: game.resume_study(out, config=Path(args.config) if args.config else None,
                                                progress=not args.no_progress, workers=args.workers,
                                                address=args.ray_address))


def cmd_report(args: argparse.Namespace) -> int:
    from smallville.games.report import write_report

    out = Path(args.study)
    _print_report(out, write_report(out))
    return 0


def add_scale_flags(parser: argparse.ArgumentParser, *, resume: bool = False) -> None:
    """`--workers K` and `--ray-address ADDR` (they win over the config's [scale])."""
    from smallville.scale.limits import MAX_WORKERS

    default = "the study's" if resume else "1: in this process"
    parser.add_argument("--workers", type=_whole(1, MAX_WORKERS), help=f"group actors on Ray, the players split "
                        f"between them (default {default}; more than 1 starts Ray on this machine unless "
                        "--ray-address names a cluster)")
    parser.add_argument("--ray-address", help="a Ray cluster to run the group actors on (host:port of its head, "
                        "ray://host:port, or auto; default RAY_ADDRESS, else this machine)")


def add_game_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`smallville game ...` under the main parser's subcommands."""
    game = _one_line_errors(subparsers.add_parser("game", help="round games over many agents (AgentScope's "
                                                               "'guess 2/3 of the average')"))
    sub = game.add_subparsers(dest="game_command", required=True)
    guess = _one_line_errors(sub.add_parser("guess", help="play 'guess p of the average' (variants P1-P7)"))
    guess.add_argument("--config", help="a TOML file with [game] and [inference] (games/guess.toml shows every knob)")
    guess.add_argument("--variant", choices=VARIANTS, help="P1 direct, P2 step by step, P3 +rational, P4 +others' "
                       "strategies, P5 +background, P6 three groups, P7 5 plus 1/2 (default P1)")
    guess.add_argument("--agents", type=_whole(1, MAX_AGENTS), help="players (default: the population's, else 100)")
    guess.add_argument("--rounds", type=_whole(1, 1000), help="rounds (default 1)")
    guess.add_argument("--ratio", help="p: 2/3 (default), 1/2, 51/100, 0.5 ... (P7: 1/2)")
    guess.add_argument("--offset", type=_finite(0, 1000), help="added to the target (P7: 5)")
    guess.add_argument("--famous-note", action="store_true", help="say it is a variation of the famous 2/3 game")
    guess.add_argument("--instruction", choices=["direct", "step_by_step"], help="how to answer (P1: direct)")
    guess.add_argument("--temperature", type=_finite(0, 2), help="sampling temperature (default 1.0)")
    guess.add_argument("--max-tokens", type=_whole(8, 32_768), help="per answer call")
    guess.add_argument("--parse", choices=["structured", "two-call"], help="one structured call (default) or the "
                       "paper's answer-then-extract calls")
    guess.add_argument("--announce", choices=["target", "winner"], help="the winning number announced next round: "
                       "the target (default, as AgentScope) or the answer closest to it")
    guess.add_argument("--history", choices=["chat", "announce"], help="earlier rounds stay in the chat (default) "
                       "or only the latest winning number is said")
    guess.add_argument("--population", help="a population file: its people play (their backgrounds in P5)")
    guess.add_argument("--seed", type=_whole(0, 2**63 - 1), help="the first seed (default 0)")
    guess.add_argument("--seeds", type=_whole(1, 1000), help="seeds played one after another (default 1)")
    guess.add_argument("--concurrency", type=_whole(1, 100_000), help="turns in flight at once")
    guess.add_argument("--out", help="study folder (default saves/game-guess-<variant>-<time>-seed<N>)")
    guess.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_scale_flags(guess)
    add_monitor_flag(guess)
    guess.set_defaults(func=cmd_guess)

    resume = _one_line_errors(sub.add_parser("resume", help="go on with a game study stopped anyhow"))
    resume.add_argument("study")
    resume.add_argument("--config", help="where the models are now ([inference]; the game's settings stay the save's)")
    resume.add_argument("--no-progress", action="store_true")
    add_scale_flags(resume, resume=True)
    add_monitor_flag(resume)
    resume.set_defaults(func=cmd_resume)

    report = _one_line_errors(sub.add_parser("report", help="write a study's report again from its saves"))
    report.add_argument("study")
    report.set_defaults(func=cmd_report)
    return game


def main(argv: list[str] | None = None) -> int:
    """`python -m smallville.games.cli game guess ...`: the commands without the main CLI."""
    import logging

    parser = argparse.ArgumentParser(prog="smallville")
    parser.add_argument("-v", "--verbose", action="store_true")
    add_game_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args))
    except SmallvilleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
