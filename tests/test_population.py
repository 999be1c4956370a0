"""Populations: AgentScope's configs read as they are, exact counts, conditional tables, seeded and byte-stable."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smallville.core.rng import Streams
from smallville.population.config import load_config, parse_config
from smallville.population.draw import draw, largest_remainder, permutation
from smallville.population.names import unique_names
from smallville.population.people import PopulationError, read_population, write_population

DATA = Path(__file__).parent / "data" / "population"


def _write(tmp_path: Path, doc: Any, name: str = "pop.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def _dist(name: str, shares: dict[str, float], **extra: Any) -> dict[str, Any]:
    return {"distribution_name": name, "categories": [{"category_name": c, "percentage": p} for c, p in shares.items()],
            **extra}


def _generate(tmp_path: Path, config: Path, seed: int, name: str) -> Path:
    out = tmp_path / name / "population.jsonl"
    out.parent.mkdir(parents=True)
    people = draw(load_config(config), seed)
    write_population(out, people.header(), people.people())
    return out


# -- AgentScope's files ------------------------------------------------------------------------------------


def test_agentscope_edu_json_is_read_as_it_is_with_exact_counts(tmp_path: Path) -> None:
    config = load_config(DATA / "edu.json")
    assert (config.total, config.attributes) == (1000, ["Gender", "Education Level"])
    header, people = read_population(_generate(tmp_path, DATA / "edu.json", 7, "a"))
    assert (header.source, header.seed, header.count) == ("edu.json", 7, 1000)
    assert [p.id for p in people] == list(range(1000))
    assert Counter(p.attributes["Gender"] for p in people) == {"Male": 500, "Female": 500}
    assert set(Counter(p.attributes["Education Level"] for p in people).values()) == {200}
    assert len({p.name for p in people}) == 1000
    assert all(p.background and p.name in p.background for p in people)  # templates by default


def test_agentscope_job_json_sums_to_1_2_refused_unless_normalized() -> None:
    # AgentScope's own tools/job.json: six professions at 0.2 each (its generator silently trims to 100 each)
    with pytest.raises(PopulationError) as err:
        load_config(DATA / "job.json")
    assert str(err.value).startswith(f'{DATA / "job.json"}: distributions[1] "Profession": shares sum to 1.2, not 1')
    config = load_config(DATA / "job.json", normalize=True)
    assert config.notes and "rescaled" in config.notes[0]
    people = draw(config, 0)
    assert Counter(people.category("Profession", i) for i in range(600)) == dict.fromkeys(
        config.distribution("Profession").categories, 100)


def test_agentscope_name_key_and_category_attributes_are_honoured() -> None:
    # AgentScope's generator reads "name", and a category's "attributes" replace {name: category}
    doc = {"total_num": 10, "distributions": [
        {"name": "Role", "categories": [
            {"category_name": "Prof", "percentage": 0.3, "attributes": {"Job": "Professor", "Tenured": True}},
            {"category_name": "Kid", "percentage": 0.7, "attributes": {"Job": "Pupil", "Tenured": False}}]}]}
    config = parse_config(doc, "roles.json")
    assert config.attributes == ["Job", "Tenured"]
    people = list(draw(config, 1).people())
    assert Counter((p.attributes["Job"], p.attributes["Tenured"]) for p in people) == {
        ("Professor", "true"): 3, ("Pupil", "false"): 7}


# -- largest remainder ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shares", "total", "expected"), [
    ([0.5, 0.5], 1000, [500, 500]),
    ([0.2] * 5, 1000, [200] * 5),  # 0.2 is not exact in binary: the decimal as written is
    ([1 / 3] * 3, 10, [4, 3, 3]),  # equal remainders: the first listed wins
    ([0.35, 0.6, 0.05], 150, [53, 90, 7]),  # 52.5 / 90 / 7.5: tie, first listed
    ([0.1, 0.2, 0.7], 1, [0, 0, 1]),
    ([0.5, 0.5], 1, [1, 0]),
    ([0.0, 1.0], 5, [0, 5]),
    ([0.25, 0.25, 0.25, 0.25], 0, [0, 0, 0, 0]),
    ([0.7, 0.2, 0.1], 7, [5, 1, 1]),  # 4.9 / 1.4 / 0.7: the two leftovers to .9 and .7, not to .4
])
def test_largest_remainder(shares: list[float], total: int, expected: list[int]) -> None:
    assert largest_remainder(shares, total) == expected
    assert sum(expected) == total


def test_largest_remainder_counts_are_within_one_of_the_quota() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        shares = rng.dirichlet(np.ones(int(rng.integers(1, 9)))).tolist()
        total = int(rng.integers(0, 5000))
        counts = largest_remainder(shares, total)
        assert sum(counts) == total
        assert all(abs(c - s * total / sum(shares)) < 1 for c, s in zip(counts, shares, strict=True))


def test_permutation_is_a_seeded_permutation() -> None:
    a = permutation(Streams(3).get("x"), 10_000)
    assert sorted(a.tolist()) == list(range(10_000))
    assert (a == permutation(Streams(3).get("x"), 10_000)).all()
    assert not (a == permutation(Streams(4).get("x"), 10_000)).all()
    assert not (a == permutation(Streams(3).get("y"), 10_000)).all()


# -- conditional tables -------------------------------------------------------------------------------------


def test_conditional_tables_draw_no_impossible_person_in_10000(tmp_path: Path) -> None:
    doc = json.loads((DATA / "age_education.json").read_text())
    doc["total_num"] = 10_000
    people = draw(parse_config(doc, "age_education.json"), 11)
    pairs = Counter((people.category("Age", i), people.category("Education Level", i)) for i in range(10_000))
    ages = Counter(people.category("Age", i) for i in range(10_000))
    assert ages == {"6-11": 1000, "12-17": 1000, "18-24": 1500, "25-44": 3000, "45-64": 2500, "65-90": 1000}
    assert {edu for (age, edu) in pairs if age == "6-11"} == {"Elementary School"}
    assert {edu for (age, edu) in pairs if age == "12-17"} == {"Elementary School", "High School"}
    assert not [p for p in pairs if p[0] in ("6-11", "12-17", "18-24") and p[1] == "Ph.D."]
    # exact counts inside each group: 18-24 is 60/35/5, 25-44 (no table) the marginal 20% each
    assert (pairs[("18-24", "High School")], pairs[("18-24", "Bachelor's Degree")],
            pairs[("18-24", "Master's Degree")]) == (900, 525, 75)
    assert {pairs[("25-44", e)] for e in config_categories(doc, 2)} == {600}
    professions = Counter((people.category("Age", i), people.category("Profession", i)) for i in range(10_000))
    assert {job for (age, job) in professions if age == "6-11"} == {"Student"}


def config_categories(doc: dict[str, Any], i: int) -> list[str]:
    return [c["category_name"] for c in doc["distributions"][i]["categories"]]


# -- byte-stable ----------------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(tmp_path: Path) -> None:
    def digest(seed: int, name: str) -> str:
        return hashlib.sha256(_generate(tmp_path, DATA / "age_education.json", seed, name).read_bytes()).hexdigest()

    first, again, other = digest(5, "one"), digest(5, "two"), digest(6, "three")
    assert first == again
    assert first != other


def test_an_attribute_added_later_leaves_the_others_draws_alone() -> None:
    # named streams: adding Profession does not reshuffle Gender or Education
    base = {"total_num": 300, "distributions": [_dist("Gender", {"F": 0.5, "M": 0.5}),
                                                 _dist("Education", {"A": 0.3, "B": 0.7})]}
    more = {**base, "distributions": [*base["distributions"], _dist("Profession", {"X": 0.5, "Y": 0.5})]}
    a, b = draw(parse_config(base, "a"), 9), draw(parse_config(more, "b"), 9)
    assert (a.codes["Gender"] == b.codes["Gender"]).all() and (a.codes["Education"] == b.codes["Education"]).all()


# -- names ----------------------------------------------------------------------------------------------------


def test_names_stay_unique_when_the_lists_run_out() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    draws = [rng.integers(0, 2**63, n, dtype=np.uint64) for _ in range(3)]
    names = unique_names(*draws, female=["Ada"], male=["Bo"], last=["Brook", "Stone"], reserved={"Ada Brook"})
    assert len(set(names)) == n
    assert "Ada Brook" not in names
    assert any(". " in name for name in names)  # middle initials first
    assert "Ada Brook 2" in names and "Ada Stone 2" in names  # then numbers
    assert {name.split()[0] for name in names} == {"Ada", "Bo"}  # no gender given: first names from both lists
    assert names == unique_names(*draws, female=["Ada"], male=["Bo"], last=["Brook", "Stone"], reserved={"Ada Brook"})


def test_first_names_follow_the_gender_attribute() -> None:
    people = draw(load_config(DATA / "edu.json"), 2)
    from smallville.population.names import FEMALE, MALE

    for i in range(1000):
        first = people.names[i].split()[0]
        assert first in (FEMALE if people.category("Gender", i) == "Female" else MALE)


def test_two_hundred_thousand_names_are_unique() -> None:
    doc = {"total_num": 200_000, "distributions": [_dist("Gender", {"Female": 0.5, "Male": 0.5})]}
    names = draw(parse_config(doc, "big.json"), 1).names
    assert len(set(names)) == 200_000


# -- bad configs: one line naming the field ---------------------------------------------------------------------

GOOD = {"total_num": 10, "distributions": [_dist("Gender", {"Male": 0.5, "Female": 0.5}),
                                           _dist("Education", {"School": 0.4, "Degree": 0.6})]}


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(GOOD))
    *keys, last = path.split("/")
    node: Any = doc
    for key in keys:
        node = node[int(key) if key.isdigit() else key]
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


_DELETE = object()
_TABLE = [{"category_name": "School", "percentage": 1.0}]


def _conditional(given: str, table: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(json.dumps(GOOD))
    doc["distributions"][1].update({"given": given, "conditional": table})
    return doc


BAD: list[tuple[str, dict[str, Any] | str, str]] = [
    ("sum", _with("distributions/1/categories/1/percentage", 0.5),
     'distributions[1] "Education": shares sum to 0.9, not 1'),
    ("negative", _with("distributions/0/categories/0/percentage", -0.5),
     'distributions[0] "Gender": categories[0] "Male": share is negative (-0.5)'),
    ("nan", json.dumps(GOOD).replace('"percentage": 0.4', '"percentage": NaN'),
     'distributions[1] "Education": categories[0] "School": share is NaN'),
    ("infinite", json.dumps(GOOD).replace('"percentage": 0.4', '"percentage": Infinity'),
     'distributions[1] "Education": categories[0] "School": share is infinite'),
    ("string share", _with("distributions/0/categories/1/percentage", "half"),
     'distributions[0] "Gender": categories[1].percentage: expected float, got str'),
    ("empty categories", _with("distributions/1/categories", []), 'distributions[1] "Education": categories: empty'),
    ("zero total", _with("total_num", 0), "total_num: must be a whole number above 0, got 0"),
    ("float total", _with("total_num", 10.5), "total_num: must be a whole number above 0, got 10.5"),
    ("string total", _with("total_num", "10"), 'total_num: must be a whole number above 0, got "10"'),
    ("bool total", _with("total_num", True), "total_num: must be a whole number above 0, got true"),
    ("huge total", _with("total_num", 10**12), "total_num: 1,000,000,000,000 is more than"),
    ("missing total", _with("total_num", _DELETE), "total_num: missing"),
    ("missing distributions", _with("distributions", _DELETE), "distributions: missing"),
    ("missing percentage", _with("distributions/1/categories/0/percentage", _DELETE),
     'distributions[1] "Education": categories[0].percentage: missing'),
    ("missing name", _with("distributions/1/distribution_name", _DELETE),
     "distributions[1]: distribution_name: missing or empty"),
    ("empty distributions", _with("distributions", []), "distributions: empty"),
    ("unknown key", _with("distributions/1/giv", "Gender"), 'distributions[1] "Education": giv: unknown key'),
    ("twice", _with("distributions/1/distribution_name", "Gender"),
     'distributions[1] "Gender": attribute "Gender" appears twice'),
    ("category twice", _with("distributions/1/categories/1/category_name", "School"),
     'distributions[1] "Education": categories[1]: category "School" appears twice'),
    ("not json", '{"total_num": 10,', "1: not valid JSON"),
    ("not an object", "[1, 2]", "expected a JSON object"),
]


BAD += [
    ("unknown given", _conditional("Age", {"6-11": _TABLE}),
     'distributions[1] "Education": given: "Age" is not an attribute of this config'),
    ("given later", {**GOOD, "distributions": [
        {**GOOD["distributions"][1], "given": "Gender", "conditional": {"Male": _TABLE}}, GOOD["distributions"][0]]},
     'distributions[0] "Education": given: "Gender" comes later'),
    ("unknown group", _conditional("Gender", {"Robot": _TABLE}),
     'distributions[1] "Education": conditional "Robot": not a category of "Gender"'),
    ("unknown category in table", _conditional("Gender", {"Male": [{"category_name": "PhD", "percentage": 1}]}),
     'distributions[1] "Education": conditional "Male": categories[0] "PhD": not a category of "Education"'),
    ("table sum", _conditional("Gender", {"Male": [{"category_name": "School", "percentage": 0.7}]}),
     'distributions[1] "Education": conditional "Male": shares sum to 0.7, not 1'),
    ("empty table", _conditional("Gender", {"Male": []}), 'distributions[1] "Education": conditional "Male": empty'),
    ("given alone", _with("distributions/1/given", "Gender"),
     'distributions[1] "Education": given and conditional come together'),
]


@pytest.mark.parametrize(("case", "doc", "expected"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_config_is_one_line_naming_the_field(tmp_path: Path, case: str, doc: Any, expected: str) -> None:
    path = _write(tmp_path, doc, "edu.json")
    with pytest.raises(PopulationError) as err:
        load_config(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}"), message
    assert expected in message, message


def test_shares_may_sum_to_one_within_float_noise(tmp_path: Path) -> None:
    doc = {"total_num": 9, "distributions": [_dist("X", {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}),
                                              _dist("Y", {"a": 0.1, "b": 0.2, "c": 0.7})]}
    people = draw(load_config(_write(tmp_path, doc)), 0)
    assert Counter(people.category("X", i) for i in range(9)) == {"a": 3, "b": 3, "c": 3}


def test_a_missing_or_unreadable_config_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PopulationError, match=r"nope\.json: population config not found$"):
        load_config(tmp_path / "nope.json")
    with pytest.raises(PopulationError, match="is a directory"):
        load_config(tmp_path)
