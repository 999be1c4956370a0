"""The quality measure of what the model says (smallville.bench.quality): a hand-made save with known good and
bad plans and lines gives exact shares; the checks it is made of, one by one."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from smallville.bench.quality import TownWords, bench_quality, english, known_activity, plan_items, timely
from smallville.config import PROJECT_ROOT
from smallville.world.residents import Resident

RESIDENTS = PROJECT_ROOT / "maps" / "the_ville" / "residents.toml"
ISABELLA = "You are Isabella Rodriguez, 34, owner of Hobbs Cafe. You are friendly."
KLAUS = "You are Klaus Mueller, 20, sociology student at Oak Hill College. You are kind."


@pytest.fixture(scope="module")
def town() -> TownWords:
    doc = tomllib.loads(RESIDENTS.read_text(encoding="utf-8"))
    return TownWords.of(Resident.model_validate(d) for d in doc["residents"])


def call(purpose: str, persona: str, answer: Any, user: str = "Plan today.") -> dict[str, Any]:
    record: dict[str, Any] = {"v": 1, "key": f"k{id(answer)}", "n": 0, "kind": "model", "purpose": purpose,
                              "messages": [{"role": "system", "content": persona}, {"role": "user", "content": user}],
                              "options": {"purpose": purpose}}
    if answer is None:
        record["error"] = {"type": "AnswerInvalid", "message": "no valid answer", "endpoint": "embedded"}
    else:
        record["answer"] = json.dumps(answer)
    return record


def chunks(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"chunks": [{"start": s, "activity": a} for s, a in pairs]}


def line(persona: str, to: str, text: str) -> dict[str, Any]:
    return call("conversation", persona, {"utterance": text, "end": False}, f"You meet {to} at Hobbs Cafe.")


def make_save(root: Path) -> Path:
    save = root / "save"
    save.mkdir()
    (save / "manifest.json").write_text(json.dumps({"settings": {"town": {"residents": str(RESIDENTS)}}}))
    calls = [
        # good: in order, awake, known activities, known places, meals on time
        call("daily_plan", ISABELLA, chunks(("06:00", "wake up and get ready"), ("06:30", "have breakfast"),
                                            ("08:00", "open Hobbs Cafe"), ("12:00", "have lunch"),
                                            ("20:00", "relax at home"))),
        # the quote: out of order, and asleep in the morning
        call("daily_plan", ISABELLA, chunks(("06:31", "sleeping at home"), ("22:57", "eating dinner"),
                                            ("08:49", "walking back to bed"))),
        # in order (02:35 is the night after), but past bedtime, and no activity at all
        call("daily_plan", KLAUS, chunks(("07:30", "1.5"), ("23:00", "4"), ("02:35", "No activity"))),
        # a closed answer: one pick per time
        call("daily_plan", KLAUS, {"07:30": "have breakfast", "16:00": "write a research paper"}),
        call("daily_plan", KLAUS, None),  # no answer at all: counted as a call, not judged
        # an hourly schedule that invents a person
        call("hourly_schedule", KLAUS, {"blocks": [{"start": "07:00", "minutes": 60, "activity": "have breakfast"},
                                                   {"start": "08:00", "minutes": 240,
                                                    "activity": "reading papers with David"}]}),
        line(KLAUS, "Isabella Rodriguez", "Did you hear that Sam Moore is running for mayor?"),  # good
        line(ISABELLA, "Klaus Mueller", "lil-fjör grunger-bunny"),  # not English, about nothing
        line(KLAUS, "Isabella Rodriguez", "Mike Johnson is running for mayor."),  # invents Mike
        line(ISABELLA, "Klaus Mueller", "Check www.example.com/party now"),  # a URL: not English
        line(ISABELLA, "Klaus Mueller", "Hi Klaus, how are you?"),  # English, but greeting the other is no news
        line(ISABELLA, "Klaus Mueller", "I am busy at the cafe all day today."),  # good: a place of the town
        # good: about what the prompt showed the speaker (news of her own), though it names no one
        call("conversation", ISABELLA, {"utterance": "I hope the physics exam goes fine for her.", "end": True},
             "You meet Klaus Mueller at Hobbs Cafe.\nWhat comes to mind:\n1. Maria Lopez is studying for a physics "
             "exam\nStart the conversation with one line."),
        call("decompose", KLAUS, {"actions": [{"action": "open the laptop", "minutes": 5},
                                              {"action": "moohoorrddammerderdammahreemwadawid", "minutes": 10}]}),
    ]
    (save / "calls.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
    events = [{"k": "fallback", "t": 5, "who": "Klaus Mueller", "step": "daily_plan", "reason": ""},
              {"k": "fallback", "t": 9, "who": "Isabella Rodriguez", "step": "conversation", "reason": ""}]
    (save / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return save


def test_exact_shares_of_a_hand_made_save(tmp_path: Path) -> None:
    got = bench_quality(make_save(tmp_path))
    day = got["day_plans"]
    assert (day["calls"], day["answered"], day["fallbacks"], day["fell_back"]) == (5, 4, 1, 0.2)
    assert {k: day[k] for k in ("ordered", "awake", "known_activities", "known_places", "timely", "sensible")} == {
        "ordered": 0.75, "awake": 0.75, "known_activities": 0.75, "known_places": 1.0, "timely": 0.75,
        "sensible": 0.5}
    assert day["activities_known"] == round(10 / 13, 3)
    hourly = got["hourly_schedules"]
    assert (hourly["answered"], hourly["known_places"], hourly["sensible"], hourly["ordered"]) == (1, 0.0, 0.0, 1.0)
    talk = got["talk"]
    assert (talk["answered"], talk["fallbacks"], talk["fell_back"]) == (7, 1, round(1 / 7, 3))
    assert {k: talk[k] for k in ("english", "about_town", "invented_names", "good")} == {
        "english": round(5 / 7, 3), "about_town": round(4 / 7, 3), "invented_names": round(1 / 7, 3),
        "good": round(3 / 7, 3)}
    assert got["actions"] == {"calls": 1, "answered": 2, "fell_back": 0.0, "english": 0.5}
    examples = got["examples"]
    assert examples["day_plans"][0].startswith("Isabella Rodriguez: 06:00 wake up and get ready; 06:30")
    assert any("Mike" in t and "invents Mike" in t for t in examples["talk"])


def test_english_is_mostly_dictionary_words_in_plain_letters(town: TownWords) -> None:
    assert english("Good morning! I am off to Hobbs Cafe to see Isabella.", town)
    assert english("Valentine's Day party at the cafe tonight", town)
    assert not english("Hi Klaus", town)  # not a sentence
    assert not english("the the the party", town)  # a loop
    assert not english("go_home20am dulkisha-babu.com", town)
    assert not english("morning_amazing daynight friday", town)
    assert not english("Flying back }} The Rose { 2f", town)
    assert not english("tweetskonggerbwandigangergirahngirygargagaiyidamarudra is here", town)
    assert not english("gargle blorf snorkwhip zintok", town)  # letters, but no words
    assert not english("2017-06-30 at 8:45:29.799, not in a game.", town)  # numbers, not words


def test_known_activities_and_their_times(town: TownWords) -> None:
    klaus = town.residents["Klaus Mueller"]
    assert known_activity("write a research paper", klaus, town)
    assert known_activity("have lunch at Hobbs Cafe", klaus, town)
    assert not known_activity("1.5", klaus, town)
    assert not known_activity("No activity", klaus, town)
    assert not known_activity("SEMBLASTERA", klaus, town)
    assert timely("have breakfast", 7 * 60 + 30, klaus) and not timely("have breakfast", 17 * 60, klaus)
    assert timely("have lunch", 12 * 60, klaus) and not timely("eating lunch", 19 * 60, klaus)
    assert not timely("sleeping at home", 9 * 60, klaus) and timely("go to bed", 22 * 60 + 45, klaus)
    assert timely("wind down before bed", 22 * 60, klaus)


def test_plan_items_read_every_answer_shape() -> None:
    assert plan_items(chunks(("07:00", "a"), ("25:00", "b"))) == [(420, "a"), (None, "b")]
    assert plan_items({"blocks": [{"start": "9:30", "minutes": 60, "activity": "c"}]}) == [(570, "c")]
    assert plan_items({"07:30": "x", "12:00": "y"}) == [(450, "x"), (720, "y")]
    assert plan_items({"answer": "z"}) == [] and plan_items(["x"]) == []
