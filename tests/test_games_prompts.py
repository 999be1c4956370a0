"""What each variant tells a player, and what a later round adds: the paper's P1-P7, the ratio and note knobs,
the background (written, or made from the attributes), the announcement of the previous winning number."""

from __future__ import annotations

import pytest

from smallville.games import config, prompts
from smallville.games.prompts import PastTurn, Player


def _chat(player: Player | None = None, past: list[PastTurn] | None = None, **knobs: object) -> list[prompts.Message]:
    cfg = config.load(None, knobs).game if knobs.get("variant") != "P5" else \
        config.GuessSettings(population="x.jsonl", **knobs).resolved()  # type: ignore[arg-type]
    return prompts.messages(cfg, player or Player(0, "P0", "default", team="B"), past or [])


def test_the_variants_say_what_the_paper_says() -> None:
    p1 = _chat(variant="P1")
    assert "closest to 2/3 of the average of all reported numbers" in p1[0].content
    assert "between 0 and 100, inclusive" in p1[0].content and "Notes" not in p1[0].content
    assert p1[1].content == "Report your number directly, with nothing else."
    assert _chat(variant="P2")[1].content == "Think step by step, then report your number."
    p3 = _chat(variant="P3")[0].content
    assert "All players are rational." in p3 and "strategies" not in p3
    p4 = _chat(variant="P4")[0].content
    assert "All players are rational." in p4 and "guess the others' strategies" in p4
    p6 = _chat(variant="P6")[0].content
    assert "split into 3 groups, A, B and C; you are in group B" in p6 and "every member of that group wins" in p6
    p7 = _chat(variant="P7")[0].content
    assert "closest to 5 plus 1/2 of the average" in p7


def test_ratio_and_note_knobs() -> None:
    text = _chat(variant="P1", ratio="51/100", famous_note=True)[0].content
    assert 'variation of the famous "guess 2/3 of the average" game' in text and "closest to 51/100 of" in text
    assert "famous" not in _chat(variant="P1", ratio="1/2")[0].content


def test_p5_plays_the_background_or_its_attributes() -> None:
    written = Player(0, "Ada Brook", "default", {"Education": "PhD"}, "Ada is a game theorist.")
    assert "# Your background\nAda is a game theorist." in _chat(written, variant="P5")[0].content
    bare = Player(1, "Bo Lind", "default", {"Education": "High School", "Age": "30-39"})
    text = _chat(bare, variant="P5")[0].content
    assert "You are Bo Lind. Age: 30-39; Education: High School." in text
    assert "Stay true to your background" in text


def test_later_rounds_announce_the_winning_number() -> None:
    past = [PastTurn(1, '{"number":50.0}', 33.3333), PastTurn(2, None, 22.0)]
    chat = _chat(past=past, variant="P1")
    assert [m.role for m in chat] == ["system", "user", "assistant", "user", "user"]
    assert chat[3].content.startswith("The winning number of round 1 is 33.33. Let's move on to the next round.")
    assert chat[4].content.startswith("The winning number of round 2 is 22.00.")  # its failed turn said nothing
    short = _chat(past=past, variant="P1", history="announce")
    assert len(short) == 2 and "round 2 is 22.00" in short[1].content and "round 1" not in short[1].content
    nothing = prompts.announcement(PastTurn(3, None, None))
    assert nothing.startswith("No valid number was reported in round 3.")


def test_the_answer_schema_bounds_the_number() -> None:
    model = prompts.answer_model(100, True)
    schema = model.model_json_schema()
    assert list(schema["properties"]) == ["reasoning", "number"]  # reasoning first: the model thinks, then commits
    assert schema["properties"]["number"]["maximum"] == 100
    with pytest.raises(ValueError):
        model.model_validate({"reasoning": "x", "number": 101})


def test_equilibria() -> None:
    assert config.load(None, {"variant": "P7"}).game.equilibrium == 10
    assert config.load(None, {"variant": "P2"}).game.equilibrium == 0
    assert config.load(None, {"variant": "P1", "offset": 20, "ratio": "1/2"}).game.equilibrium == 40


def test_the_command_line_knows_the_variants_the_settings_know() -> None:
    import typing

    from smallville.games import limits

    assert typing.get_args(config.Variant) == limits.VARIANTS
