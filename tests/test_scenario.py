"""The standard scenario and the residents' personas: the seeded facts load, and no persona gives them away."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import THE_VILLE, THE_VILLE_RESIDENTS

from smallville.errors import MapError
from smallville.world.residents import Resident, load_residents
from smallville.world.scenario import load_scenario
from smallville.world.town import load_town

SCENARIO = THE_VILLE_RESIDENTS.parent / "scenario.toml"
PERSONA_TEXT = ("background", "currently", "lifestyle")


@pytest.fixture(scope="module")
def residents() -> list[Resident]:
    return load_residents(THE_VILLE_RESIDENTS, load_town(THE_VILLE))


@pytest.fixture(scope="module")
def by_name(residents: list[Resident]) -> dict[str, Resident]:
    return {r.name: r for r in residents}


def persona_texts(r: Resident) -> list[str]:
    """Every piece of persona text of a resident, one string per field value."""
    return [getattr(r, f) for f in PERSONA_TEXT] + list(r.traits) + list(r.relationships.values())


# --- the scenario file -----------------------------------------------------------------------------------------


def test_the_standard_scenario_loads(residents: list[Resident]) -> None:
    s = load_scenario(SCENARIO, residents)
    assert s.name == "valentines-and-the-election" and s.description
    party, mayor = s.fact("party"), s.fact("mayor")
    assert party.holder == "Isabella Rodriguez" and mayor.holder == "Sam Moore"
    assert party.evidence == ["valentine", "party"] and mayor.evidence == ["mayor", "sam"]
    assert all(w in party.memory for w in ("Valentine", "Hobbs Cafe", "February 14, 2023", "5", "7 pm", "everyone"))
    assert party.carried_by(party.memory) and mayor.carried_by(mayor.memory)
    assert not party.carried_by(mayor.memory) and not mayor.carried_by(party.memory)
    assert party.question == "Did you know there is a Valentine's Day party?"
    assert mayor.question == "Do you know who is running for mayor?"
    assert s.relationship_question.ask("Klaus Mueller") == "Do you know of Klaus Mueller?"
    with pytest.raises(KeyError):
        s.fact("picnic")


def test_evidence_matches_whole_words_and_simple_inflections(residents: list[Resident]) -> None:
    mayor = load_scenario(SCENARIO, residents).fact("mayor")
    assert mayor.carried_by("I heard Sam's mayoral campaign starts soon")
    assert mayor.carried_by("SAM MOORE IS RUNNING FOR MAYOR")
    assert not mayor.carried_by("I feel the same about the mayoral election")  # "same" is not "sam"
    assert not mayor.carried_by("Sam is a retired navy officer")


def write_scenario(tmp_path: Path, facts: str, template: str = "Do you know of {name}?") -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(f'name = "test"\n{facts}\n[relationship_question]\ntemplate = "{template}"\n', encoding="utf-8")
    return path


def fact(fid: str = "party", holder: str = "Isabella Rodriguez", evidence: str = '["party"]',
         memory: str = "Isabella plans a party.") -> str:
    return (f'[[facts]]\nid = "{fid}"\nholder = "{holder}"\nmemory = "{memory}"\n'
            f'question = "Heard of it?"\nevidence = {evidence}\n')


@pytest.mark.parametrize(("facts", "template", "place", "message"), [
    (fact(holder="Isabella Rodrigues"), "Do you know of {name}?", "fact 'party'", "not a resident"),
    (fact(evidence="[]"), "Do you know of {name}?", "fact 'party'", "evidence is empty"),
    (fact() + fact(memory="A second party."), "Do you know of {name}?", "fact 'party'", "appears twice"),
    (fact(evidence='["Party"]'), "Do you know of {name}?", "fact 'party'", "lower-case"),
    (fact(evidence='["party", "cake"]'), "Do you know of {name}?", "fact 'party'", "lacks the evidence words"),
    (fact(), "Do you know of them?", "relationship_question", "must contain {name}"),
    (fact(), "Do you know of {who}?", "relationship_question", "must contain {name}"),
    (fact() + 'surprise = "yes"\n', "Do you know of {name}?", "fact 'party'", "Extra inputs"),
])
def test_bad_scenarios_name_the_file_and_the_fact(tmp_path: Path, residents: list[Resident], facts: str,
                                                   template: str, place: str, message: str) -> None:
    path = write_scenario(tmp_path, facts, template)
    with pytest.raises(MapError) as err:
        load_scenario(path, residents)
    assert str(path) in str(err.value) and place in str(err.value) and message in str(err.value), err.value


def test_a_good_variant_loads_against_names(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, fact() + fact(fid="cake", memory="Isabella bakes cakes.", evidence='["cake"]'))
    s = load_scenario(path, ["Isabella Rodriguez"])
    assert [f.id for f in s.facts] == ["party", "cake"]
    with pytest.raises(MapError, match="not a resident"):
        load_scenario(path, ["Sam Moore"])


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(MapError, match="not found"):
        load_scenario(tmp_path / "nope.toml", [])
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ", encoding="utf-8")
    with pytest.raises(MapError, match="not valid TOML"):
        load_scenario(bad, [])


# --- the personas ----------------------------------------------------------------------------------------------


def test_every_resident_has_a_persona(residents: list[Resident]) -> None:
    for r in residents:
        assert r.traits and all(t and t == t.strip().lower() and len(t.split()) <= 2 for t in r.traits), r.name
        for field in PERSONA_TEXT:
            text = getattr(r, field)
            assert text.strip() and text.rstrip().endswith((".", '"')), (r.name, field)
        assert 1 <= len(re.findall(r"[.!?](?:\s|$)", r.currently)) <= 3, r.name
        assert r.knows, r.name


def test_no_persona_gives_the_seeded_facts_away(residents: list[Resident], by_name: dict[str, Resident]) -> None:
    for r in residents:
        for text in persona_texts(r):
            low = text.lower()
            assert "valentine" not in low, (r.name, text)
            assert not (re.search(r"\bsam\b", low) and "mayor" in low), (r.name, text)
            assert not re.search(r"\b(candidate|candidacy|campaign)", low), (r.name, text)
    isabella = " ".join(persona_texts(by_name["Isabella Rodriguez"])).lower()
    assert not re.search(r"\b(party|parties|february|14)\b", isabella)
    for holder in ("Sam Moore", "Jennifer Moore"):  # the candidate, and his wife who would rather he didn't
        text = " ".join(persona_texts(by_name[holder])).lower()
        assert "mayor" not in text and "election" not in text, holder


def test_relationships_name_only_other_residents(residents: list[Resident], by_name: dict[str, Resident]) -> None:
    for r in residents:
        assert r.relationships, r.name
        assert set(r.relationships) <= set(by_name) - {r.name}, r.name
        assert all(how.strip() for how in r.relationships.values()), r.name
    # a few ties from the sources, seen from both sides
    assert {"Carlos Gomez", "Ryan Park", "Isabella Rodriguez"} <= set(by_name["Giorgio Rossi"].relationships)
    assert "crush" in by_name["Klaus Mueller"].relationships["Maria Lopez"]
    assert "crush" in by_name["Maria Lopez"].relationships["Klaus Mueller"]
    assert "crush" not in by_name["Abigail Chen"].relationships["Francisco Lopez"]  # she does not know
    assert set(by_name["Tamara Taylor"].relationships) == {"Carmen Ortiz"}  # new in town


def knows(r: Resident) -> set[tuple[str, str]]:
    return {tuple(p) for p in r.knows}


def test_starting_spatial_memory_follows_the_original(residents: list[Resident],
                                                      by_name: dict[str, Resident]) -> None:
    everyone = {("Hobbs Cafe", "cafe"), ("Harvey Oak Supply Store", "supply store"),
                ("The Willows Market and Pharmacy", "store"), ("Johnson Park", "park")}
    pub = ("The Rose and Crown Pub", "pub")
    for r in residents:
        assert everyone <= knows(r), r.name
        assert len(knows(r)) == len(r.knows), f"{r.name}: duplicates in knows"
        assert (pub in knows(r)) == (r.name not in {"Sam Moore", "Jennifer Moore"}), r.name
        for place in [*r.haunts, *([r.workplace] if r.workplace else [])]:
            assert tuple(place) in knows(r), (r.name, place)
        assert (tuple(r.home) in knows(r)) == (r.name != "Eddy Lin"), r.name  # Eddy's quirk, kept
    co = "artist's co-living space"
    latoya = knows(by_name["Latoya Williams"])
    assert {(co, "Latoya Williams's bathroom"), (co, "kitchen"), ("Oak Hill College", "hallway")} <= latoya
    assert (co, "Rajiv Patel's room") not in latoya and ("Oak Hill College", "library") not in latoya
    dorm = "Dorm for Oak Hill College"
    klaus = knows(by_name["Klaus Mueller"])
    assert {(dorm, "man's bathroom"), (dorm, "woman's bathroom"), ("Oak Hill College", "library")} <= klaus
    assert (dorm, "kitchen") not in klaus and (dorm, "Maria Lopez's room") not in klaus
    assert ("Arthur Burton's apartment", "bathroom") not in knows(by_name["Arthur Burton"])
    assert ("Ryan Park's apartment", "bathroom") in knows(by_name["Ryan Park"])
    assert ("Lin family's house", "Eddy Lin's bedroom") in knows(by_name["John Lin"])
    assert knows(by_name["Eddy Lin"]) == knows(by_name["Mei Lin"])
    assert knows(by_name["Tom Moreno"]) == knows(by_name["Jane Moreno"])
    assert ("Moreno family's house", "kitchen") not in knows(by_name["Tom Moreno"])
    college = {r.name for r in residents if ("Oak Hill College", "classroom") in knows(r)}
    assert college == {"Klaus Mueller", "Maria Lopez", "Ayesha Khan", "Wolfgang Schulz", "Mei Lin", "Eddy Lin"}
    dorm_common = {r.name for r in residents if (dorm, "common room") in knows(r)}
    assert dorm_common == {"Klaus Mueller", "Maria Lopez", "Ayesha Khan", "Wolfgang Schulz", "Latoya Williams",
                           "Rajiv Patel", "Abigail Chen", "Francisco Lopez", "Hailey Johnson", "Isabella Rodriguez"}
    known = set().union(*(knows(r) for r in residents))
    nobody = {(a.sector, a.name) for a in load_town(THE_VILLE).arenas} - known
    assert nobody == {("Arthur Burton's apartment", "bathroom"), ("Isabella Rodriguez's apartment", "bathroom"),
                      ("Giorgio Rossi's apartment", "bathroom"), (dorm, "kitchen"),
                      ("Tamara Taylor and Carmen Ortiz's house", "kitchen"), ("Moreno family's house", "kitchen"),
                      ("Lin family's house", "kitchen"), ("Moreno family's house", "bathroom")}
