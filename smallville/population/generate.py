"""`smallville population generate`, as a function: config in, population file (and residents file) out.

Owns the order of the work and what lands in the output folder:

- `population.jsonl`: the population file (`people.py`), for the round games;
- with a town: `residents.toml` (`residents.py`), checked by the town's own loader before this returns, and
  `town.toml`, a settings file naming the town's map and those residents, so that
  `smallville run --config OUT/town.toml` runs them;
- with `expand`: `calls.jsonl` and `inference.json` (every model call, recorded as a run records them) and
  `expand.json` (how many backgrounds came from the model, how many from the template, which ids and why).

Everything that can be refused is refused before any file is written or any model called: the config, the
town, and a town without a bed for everyone. The population and residents files depend only on the config,
the seed and the town (and, with `expand`, on the model's answers): the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallville.inference.base import LanguageModel
from smallville.inference.settings import InferenceSettings
from smallville.population.config import load_config
from smallville.population.draw import draw, template_background
from smallville.population.people import PopulationError, write_population
from smallville.population.residents import beds_of, build_residents, toml_string, write_residents
from smallville.world.town import Town, load_town

POPULATION_FILE = "population.jsonl"
RESIDENTS_FILE = "residents.toml"
TOWN_SETTINGS_FILE = "town.toml"


@dataclass
class Generated:
    population: Path
    people: int
    attributes: list[str]
    seconds: float
    sha256: str
    residents: Path | None = None
    town_settings: Path | None = None
    homes: int = 0
    expanded: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def town_map(town: Path) -> Path:
    """A town folder holding <name>.tmx (as `smallville run --town` takes it), or a .tmx file itself."""
    tmx = town if town.suffix == ".tmx" else town / f"{town.name}.tmx"
    if not tmx.is_file():
        raise PopulationError(f"{town}: no town map here (expected {tmx})")
    return tmx


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _settings_toml(tmx: Path, residents: Path) -> str:
    return ("# Written by `smallville population generate`: the town's map with the generated residents.\n"
            f"# Run them: smallville run --config {residents.parent / TOWN_SETTINGS_FILE}\n"
            "[town]\n"
            f"map = {toml_string(str(tmx.resolve()))}\n"
            f"residents = {toml_string(str(residents.resolve()))}\n")


def generate(config_path: Path, seed: int, out: Path, *, town: Path | None = None, expand: bool = False,
             inference: InferenceSettings | None = None, normalize: bool = False,
             lm: LanguageModel | None = None) -> Generated:
    """Draw the population of `config_path` for `seed` into `out` (see the module's docstring)."""
    start = time.perf_counter()
    config = load_config(config_path, normalize=normalize)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PopulationError(f"{out}: --out must be a folder; this is a file")
    tmx: Path | None = None
    the_town: Town | None = None
    if town is not None:
        tmx = town_map(Path(town))
        the_town = load_town(tmx)
        beds = len(beds_of(the_town))
        if beds < config.total:
            raise PopulationError(f"{tmx}: {beds} beds for {config.total} people (total_num of {config_path}; each "
                                  f"object named 'bed' sleeps one); lower total_num to {beds} or use a bigger town")
    out.mkdir(parents=True, exist_ok=True)
    # names the map already places (its spawns layer) are taken: the town's loader would hold them to those tiles
    people = draw(config, seed, reserved=the_town.data.spawns if the_town is not None else ())
    expanded = None
    backgrounds: list[str] | None = None
    if expand:
        from smallville.population.expand import expand as expand_backgrounds

        expanded = expand_backgrounds(people, inference or InferenceSettings(), out, lm=lm)
        backgrounds = expanded.backgrounds
    population = out / POPULATION_FILE
    write_population(population, people.header(), people.people(backgrounds))
    result = Generated(population, people.count, config.attributes, 0.0, _sha256(population),
                       expanded=expanded.summary() if expanded else None, notes=list(config.notes))
    if the_town is not None and tmx is not None:
        from smallville.world.residents import load_residents

        texts = backgrounds or [template_background(people.names[i], people.attributes_of(i))
                                for i in range(people.count)]
        rows = build_residents(people, the_town, texts)
        residents = out / RESIDENTS_FILE
        write_residents(residents, rows, f"{len(rows)} residents of {the_town.world}, drawn by `smallville population "
                                         f"generate` from {config.source} with seed {seed}.\n"
                                         "Schema: docs/map-format.md; how they were made: docs/populations.md.")
        load_residents(residents, the_town)  # the town's own loader: what `smallville run` will do with it
        settings_file = out / TOWN_SETTINGS_FILE
        settings_file.write_text(_settings_toml(tmx, residents), encoding="utf-8")
        result.residents, result.town_settings = residents, settings_file
        result.homes = len({r["home"][0] for r in rows})
    result.seconds = time.perf_counter() - start
    return result
