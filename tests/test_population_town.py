"""A population as a town's residents, and the `smallville population generate` command.

The residents file is checked by the town's own loaders (the one `smallville run` uses), and a short headless
run starts with it through the real CLI.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
from conftest import THE_VILLE
from mapkit import write_town

from smallville.config import load_settings
from smallville.population.cli import main as population_main
from smallville.population.generate import generate
from smallville.population.people import PopulationError, read_population
from smallville.population.residents import CHARACTERS, beds_of
from smallville.run.assemble import load
from smallville.world.residents import load_residents
from smallville.world.town import load_town

DATA = Path(__file__).parent / "data" / "population"
VILLE_DIR = THE_VILLE.parent


@pytest.fixture(scope="module")
def ville_town():
    return load_town(THE_VILLE)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_ville_residents_file_loads_in_the_towns_own_loader(tmp_path: Path, ville_town) -> None:
    done = generate(DATA / "ville.json", 3, tmp_path / "out", town=VILLE_DIR)
    assert done.residents == tmp_path / "out" / "residents.toml"
    residents = load_residents(done.residents, ville_town)
    _, people = read_population(done.population)
    assert [r.name for r in residents] == [p.name for p in people]  # the same people, in id order
    assert len({r.name for r in residents}) == 25
    assert not {r.name for r in residents} & set(ville_town.data.spawns)  # the map's own residents' names
    beds = {(b.sector, b.arena): b for b in beds_of(ville_town)}
    assert all(tuple(r.home) in beds for r in residents)
    assert len({tuple(r.spawn) for r in residents}) == 25
    doc = tomllib.loads(done.residents.read_text())
    for r, row, person in zip(residents, doc["residents"], people, strict=True):
        assert row["population_id"] == person.id and row["attributes"] == person.attributes
        assert r.background == person.background
        assert (CHARACTERS / f"{r.sprite}.png").is_file()
        assert r.wake_minute < r.bed_minute
        if r.workplace is not None:
            assert r.work_minutes is not None and r.wake_minute <= r.work_minutes[0] - 60
        age_band = person.attributes["Age"]
        if age_band == "65+":
            assert 65 <= r.age <= 80
        else:
            lo, hi = map(int, age_band.split("-"))
            assert lo <= r.age <= hi
        assert r.home in r.knows and all(h in r.knows for h in r.haunts)
    # relationships: housemates share a home sector, coworkers a workplace, and both ways
    by_name = {r.name: r for r in residents}
    ties = 0
    for r in residents:
        for other, text in r.relationships.items():
            o = by_name[other]
            assert (o.home[0] == r.home[0]) or (o.workplace is not None and o.workplace == r.workplace), text
            assert r.name in o.relationships
            ties += 1
    assert ties > 0
    # workplaces follow the keyword table: students and the professor at the college, bartenders at the pub
    for r in residents:
        if r.occupation in ("Student", "Professor"):
            assert r.workplace is not None and r.workplace[0] == "Oak Hill College"
        if r.occupation == "Bartender":
            assert r.workplace == ("The Rose and Crown Pub", "pub")
        if r.occupation == "Retired":
            assert r.workplace is None


def test_the_runner_loads_the_residents_and_a_headless_hour_runs(tmp_path: Path) -> None:
    from smallville.cli import main

    done = generate(DATA / "ville.json", 4, tmp_path / "out", town=VILLE_DIR)
    assert done.town_settings is not None
    settings = load_settings(done.town_settings)
    loaded = load(settings)  # the runner's own loader: town, residents, clock
    assert len(loaded.residents) == 25
    save = tmp_path / "save"
    assert main(["run", "--headless", "--hours", "1", "--config", str(done.town_settings), "--mind", "routine",
                 "--save", str(save), "--no-progress"]) == 0
    manifest = json.loads((save / "manifest.json").read_text())
    assert manifest["residents"]["names"] == [r.name for r in loaded.residents]


def test_the_residents_file_is_byte_stable_for_a_seed(tmp_path: Path) -> None:
    a = generate(DATA / "ville.json", 8, tmp_path / "a", town=VILLE_DIR)
    b = generate(DATA / "ville.json", 8, tmp_path / "b", town=VILLE_DIR)
    c = generate(DATA / "ville.json", 9, tmp_path / "c", town=VILLE_DIR)
    assert a.residents and b.residents and c.residents
    assert _sha(a.residents) == _sha(b.residents) and _sha(a.population) == _sha(b.population)
    assert _sha(a.residents) != _sha(c.residents)


def test_a_town_without_enough_beds_is_one_line_naming_the_counts(tmp_path: Path) -> None:
    with pytest.raises(PopulationError) as err:
        generate(DATA / "edu.json", 0, tmp_path / "out", town=VILLE_DIR)
    assert "\n" not in str(err.value)
    assert "26 beds for 1000 people" in str(err.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_a_small_town_with_one_bed(tmp_path: Path) -> None:
    tmx, _ = write_town(tmp_path / "town")
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"total_num": 1, "distributions": [
        {"distribution_name": "Job", "categories": [{"category_name": "Gardener", "percentage": 1}]}]}))
    done = generate(one, 0, tmp_path / "out", town=tmx)
    [resident] = load_residents(done.residents, load_town(tmx))  # type: ignore[arg-type]
    assert resident.home == ("House", "bedroom") and resident.workplace == ("Park", "lawn")
    two = tmp_path / "two.json"
    two.write_text(one.read_text().replace('"total_num": 1', '"total_num": 2'))
    with pytest.raises(PopulationError, match="1 beds for 2 people"):
        generate(two, 0, tmp_path / "out2", town=tmx)


# -- the command ---------------------------------------------------------------------------------------------


def test_the_command_writes_the_files_and_says_how_to_run_them(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert population_main(["population", "generate", str(DATA / "ville.json"), "--seed", "3", "--out", str(out),
                            "--town", str(VILLE_DIR)]) == 0
    printed = capsys.readouterr().out
    assert "25 people" in printed and f"smallville run --config {out / 'town.toml'}" in printed
    assert {p.name for p in out.iterdir()} == {"population.jsonl", "residents.toml", "town.toml"}


def test_a_thousand_people_take_well_under_a_second(tmp_path: Path, capsys) -> None:
    # behaviour, not a benchmark: the figure itself is measured by `bench_population` (docs/populations.md)
    done = generate(DATA / "edu.json", 0, tmp_path / "out")
    assert done.people == 1000 and done.seconds < 1.0


@pytest.mark.parametrize(("argv", "expected"), [
    (["{data}/job.json"], 'distributions[1] "Profession": shares sum to 1.2, not 1'),
    (["{data}/edu.json", "--town", "{data}"], "no town map here"),
    (["{data}/edu.json", "--town", "{ville}"], "26 beds for 1000 people"),
    (["{tmp}/missing.json"], "population config not found"),
    (["{data}/edu.json", "--out", "{tmp}/afile"], "--out must be a folder"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, argv: list[str], expected: str) -> None:
    (tmp_path / "afile").write_text("x")
    fill = {"data": str(DATA), "ville": str(VILLE_DIR), "tmp": str(tmp_path)}
    args = [a.format(**fill) for a in argv]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    assert population_main(["population", "generate", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert "Traceback" not in err[0]


def test_a_bad_seed_is_refused_by_the_parser(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        population_main(["population", "generate", str(DATA / "edu.json"), "--seed", "-1", "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert "--seed" in capsys.readouterr().err


# -- through the main CLI, once `smallville/cli.py` wires `add_population_parser` ----------------------------


def _wired() -> bool:
    from smallville.cli import build_parser

    try:
        build_parser().parse_args(["population", "generate", "x.json", "--out", "y"])
    except SystemExit:
        return False
    return True


wired = pytest.mark.skipif(not _wired(), reason="smallville/cli.py does not wire `population` yet "
                                                "(add_population_parser(sub))")


@wired
def test_smallville_population_generate_through_the_main_cli(tmp_path: Path, capsys) -> None:
    from smallville.cli import main

    assert main(["population", "generate", str(DATA / "edu.json"), "--seed", "5", "--out", str(tmp_path / "a")]) == 0
    assert main(["population", "generate", str(DATA / "edu.json"), "--seed", "5", "--out", str(tmp_path / "b")]) == 0
    assert _sha(tmp_path / "a" / "population.jsonl") == _sha(tmp_path / "b" / "population.jsonl")
    assert "1,000 people" in capsys.readouterr().out


@wired
def test_bad_input_through_the_main_cli_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    from smallville.cli import main

    assert main(["population", "generate", str(DATA / "job.json"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shares sum to 1.2, not 1" in err[0]
    assert main(["population", "generate", str(DATA / "edu.json"), "--out", str(tmp_path / "o"),
                 "--town", str(VILLE_DIR)]) == 2
    assert "26 beds for 1000 people" in capsys.readouterr().err


@wired
def test_the_main_cli_runs_a_generated_town(tmp_path: Path) -> None:
    from smallville.cli import main

    out = tmp_path / "out"
    assert main(["population", "generate", str(DATA / "ville.json"), "--out", str(out), "--town",
                 str(VILLE_DIR)]) == 0
    assert main(["run", "--headless", "--hours", "1", "--config", str(out / "town.toml"), "--mind", "routine",
                 "--save", str(tmp_path / "save"), "--no-progress"]) == 0


def test_the_bundled_test_configs_are_agentscopes_shape() -> None:
    # edu.json and job.json are AgentScope's files (v0, examples/paper_large_scale_simulation/tools) verbatim
    for name in ("edu.json", "job.json"):
        doc = json.loads((DATA / name).read_text())
        assert set(doc) == {"total_num", "distributions"}
        assert all(set(d) == {"distribution_name", "categories"} for d in doc["distributions"])


@pytest.mark.parametrize(("value", "low", "high"), [
    ("34", 34, 34), ("25-44", 25, 44), ("18 to 24", 18, 24), ("65+", 65, 80), ("over 70", 70, 85),
    ("under 18", 7, 17), ("unknown", 20, 65), (None, 20, 65),
])
def test_ages_come_from_the_age_attribute(value: str | None, low: int, high: int) -> None:
    from smallville.core.rng import Stream
    from smallville.population.residents import _age

    ages = {_age(value, Stream(0, f"age:{k}")) for k in range(200)}
    assert low <= min(ages) and max(ages) <= high


def test_the_benchmark_measures_in_a_fresh_interpreter() -> None:
    from smallville.bench.population import bench_population

    figures = bench_population(2000)
    assert figures["n"] == 2000 and figures["names_unique"] is True
    assert figures["total_s"] > 0 and figures["peak_rss_mb"] >= figures["rss_after_imports_mb"] > 0
