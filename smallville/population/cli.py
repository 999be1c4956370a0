"""The `smallville population` command: its arguments, its handler and what it prints.

Owns the command line of populations, plugged into the main parser by `smallville/cli.py`:

    from smallville.population.cli import add_population_parser
    add_population_parser(sub)

`smallville population generate CONFIG --seed N --out DIR [--town DIR] [--expand] [--config SETTINGS.toml]
[--normalize]`. A bad config, a town without enough beds or models that cannot answer are one line on stderr
and exit status 2 (a `SmallvilleError`, printed by the main CLI), never a traceback; argparse refuses bad
flags with its usage line and status 2. `main()` here does the same for `python -m smallville.population.cli`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from smallville.errors import SmallvilleError


def _seed(value: str) -> int:
    """A seed the named random streams take: a whole number from 0 to 2**63 - 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 0 <= number < 2**63:
        raise argparse.ArgumentTypeError(f"{value!r}: give a whole number from 0 to {2**63 - 1}")
    return number


def add_population_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `population` (and its `generate`) to the main parser's subcommands; returns the new parser."""
    population = subparsers.add_parser("population", help="generate populations from attribute distributions "
                                                           "(AgentScope's config files)")
    sub = population.add_subparsers(dest="population_command", required=True)
    generate = sub.add_parser("generate", help="draw a population (and a town's residents) from a config",
                              description="Draw the people a config describes: exact counts per attribute, a "
                                          "seeded shuffle, unique names; optionally residents for a town and "
                                          "backgrounds written by a model. See docs/populations.md.")
    generate.add_argument("population_config", metavar="CONFIG",
                          help="a population config (AgentScope's JSON: total_num, distributions)")
    generate.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    generate.add_argument("--out", required=True, help="output folder (population.jsonl, and residents.toml with "
                                                       "--town)")
    generate.add_argument("--town", help="also write residents for this town (a folder holding <name>.tmx, or "
                                         "a .tmx file)")
    generate.add_argument("--expand", action="store_true",
                          help="backgrounds written by the models (default: templates, no model)")
    generate.add_argument("--config", dest="settings",
                          help="settings TOML naming the inference endpoints for --expand (default: "
                               "./smallville.toml if present, else the embedded model)")
    generate.add_argument("--normalize", action="store_true",
                          help="rescale shares that do not sum to 1 (AgentScope's job.json sums to 1.2)")
    generate.set_defaults(func=cmd_population)
    return population


def cmd_population(args: argparse.Namespace) -> int:
    """The handler (`args.func`): raises `SmallvilleError` for anything the user must fix."""
    from smallville.population.generate import generate

    inference = None
    if args.expand:
        from smallville.config import load_settings

        inference = load_settings(Path(args.settings) if args.settings else None).inference
    done = generate(Path(args.population_config), args.seed, Path(args.out),
                    town=Path(args.town) if args.town else None, expand=args.expand, inference=inference,
                    normalize=args.normalize)
    print(f"wrote {done.population} ({done.people:,} people; {', '.join(done.attributes)}; seed {args.seed}; "
          f"{done.seconds:.3f} s; sha256 {done.sha256[:12]})")
    if done.expanded is not None:
        print(f"backgrounds: {done.expanded['from_model']:,} from {done.expanded['models']}, "
              f"{done.expanded['fallbacks']:,} template fallbacks"
              + (f" ({', '.join(f'{k} {v}' for k, v in done.expanded['reasons'].items())})"
                 if done.expanded["fallbacks"] else ""))
    if done.residents is not None:
        print(f"wrote {done.residents} ({done.people:,} residents in {done.homes} homes); run them: "
              f"smallville run --config {done.town_settings}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m smallville.population.cli generate ...`: the same command, outside the main CLI."""
    parser = argparse.ArgumentParser(prog="smallville")
    add_population_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpx2", "openai", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except SmallvilleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
