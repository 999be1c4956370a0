"""The round games' figures are exact on stand-in players whose answers are known before the game is played
(their numbers are written in their backgrounds: `games/standin.py`). Every expected figure below is worked out
by hand in the comments, not recomputed with the code under test."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from games_kit import population

from smallville.games import config, game, report, roster, scoring, standin
from smallville.games.standin import StandInModel
from smallville.testing.fake_server import FakeServer


def play(tmp_path: Path, specs: list[str], attributes: list[dict[str, str]] | None = None, **knobs: Any) -> dict:
    """A study of stand-ins: player i is `specs[i]` (given by its place, whatever the variant's prompt holds)."""
    pop = population(tmp_path / "pop.jsonl", specs, attributes)
    settings = config.load(None, {"population": str(pop), "variant": "P5", **knobs})
    return game.start_study(tmp_path / "study", settings, progress=False,
                            override=StandInModel(jitter_s=0.005, specs=specs), say=lambda _: None)


def test_round_figures_by_hand(tmp_path: Path) -> None:
    specs = ["10", "20", "30", "40", "50", "60", "garbage", "fail"]
    education = ["A", "A", "A", "B", "B", "B", "A", "B"]
    rep = play(tmp_path, specs, [{"Education": e} for e in education], rounds=2, max_failed_share=0.2)
    r1, r2 = rep["runs"][0]["rounds"]
    # round 1: the six valid answers 10..60; one invalid (not JSON after no re-ask), one failed call
    assert (r1["players"], r1["n"], r1["invalid"], r1["failed"]) == (8, 6, 1, 1)
    assert r1["mean"] == 35 and r1["median"] == 35 and (r1["min"], r1["max"]) == (10, 60)
    # deviations -25 -15 -5 5 15 25: squares sum to 1750, over 6
    assert r1["std"] == pytest.approx(math.sqrt(1750 / 6), abs=1e-12)
    assert r1["target"] == pytest.approx(70 / 3, abs=1e-12)  # 2/3 of 35
    assert r1["winner"] == 20 and r1["winners_n"] == 1  # |20 - 23.33| = 3.33 < |30 - 23.33| = 6.67
    assert r1["share_within_half"] == 0 and r1["share_at_most_1"] == 0
    assert r1["share_below_previous_announced"] is None  # no round before
    assert r1["histogram"][10] == r1["histogram"][60] == 1 and sum(r1["histogram"]) == 6
    assert len(r1["histogram"]) == 101
    # round 2: each stand-in halves its number: 5 10 15 20 25 30
    assert r2["mean"] == 17.5 and r2["median"] == 17.5
    assert r2["std"] == pytest.approx(math.sqrt(437.5 / 6), abs=1e-12)
    assert r2["target"] == pytest.approx(35 / 3, abs=1e-12) and r2["winner"] == 10
    assert r2["share_below_previous_announced"] == pytest.approx(4 / 6)  # 5 10 15 20 < 23.33
    assert r2["share_below_previous_winner"] == pytest.approx(3 / 6)  # 5 10 15 < 20
    assert (r2["invalid"], r2["failed"]) == (1, 1)
    # by attribute, round 1: A = 10 20 30 + the invalid one; B = 40 50 60 + the failed one
    a, b = r1["by_attribute"]["Education"]["A"], r1["by_attribute"]["Education"]["B"]
    assert (a["n"], a["invalid"], a["failed"], a["mean"], a["median"]) == (3, 1, 0, 20, 20)
    assert a["std"] == pytest.approx(math.sqrt(200 / 3), abs=1e-12)
    assert (b["n"], b["invalid"], b["failed"], b["mean"]) == (3, 0, 1, 50)
    # response tokens: the stand-in counts len(text) // 4 + 1 per answer; the failed turn has none
    ok = len(json.dumps({"reasoning": "A stand-in does not think.", "number": 10.0})) // 4 + 1
    garbage = len("I would rather not say {") // 4 + 1
    assert r1["response_tokens_mean"] == pytest.approx((6 * ok + garbage) / 7)
    # the summary and every plot are there
    out = tmp_path / "study"
    assert (out / "summary.md").read_text().count("| 1 | 6 |") == 1
    assert sorted(rep["files"]) == ["histogram-r1.png", "histogram-r2.png", "means.png"]


def test_a_failed_turn_stops_a_round_past_max_failed_share(tmp_path: Path) -> None:
    pop = population(tmp_path / "pop.jsonl", ["10", "fail", "fail", "30"])
    settings = config.load(None, {"population": str(pop), "variant": "P5"})  # default share 0.01: none may fail
    with pytest.raises(Exception, match=r"round 1: more than 0 of 4 turns failed"):
        game.start_study(tmp_path / "study", settings, progress=False, override=StandInModel(), say=lambda _: None)
    answers = (tmp_path / "study" / "seed-0" / "answers.jsonl").read_bytes()
    assert answers == b""  # the round was not committed


def test_tie_goes_to_the_lower_number(tmp_path: Path) -> None:
    # 9, 11, 25: mean 15, target exactly 10; 9 and 11 are both 1 away: the lower wins
    rep = play(tmp_path, ["9", "11", "25"], variant="P1", instruction="direct")
    r1 = rep["runs"][0]["rounds"][0]
    assert r1["target"] == 10 and r1["winner"] == 9 and r1["winners_n"] == 1
    score = scoring.score_round([11.0, 9.0, 25.0], [0, 1, 2], Fraction(2, 3), Fraction(0), announce="winner")
    assert score.winner == 9 and score.winners == [1] and score.announced == 9


def test_p7_adds_the_five(tmp_path: Path) -> None:
    # 12, 20, 40: mean 24; P7's target 5 + 24/2 = 17 (AgentScope scored 12, forgetting the 5): 20 is closest
    rep = play(tmp_path, ["12", "20", "40"], variant="P7")
    r1 = rep["runs"][0]["rounds"][0]
    assert r1["target"] == 17 and r1["winner"] == 20
    assert rep["equilibrium"] == 10 and rep["settings"]["ratio"] == "1/2" and rep["settings"]["offset"] == 5
    assert "5 plus 1/2 of the average" in (tmp_path / "study" / "seed-0" / "calls.jsonl").read_text()


def test_p7_equilibrium_everyone_wins(tmp_path: Path) -> None:
    rep = play(tmp_path, ["10"] * 4, variant="P7")
    r1 = rep["runs"][0]["rounds"][0]
    assert r1["target"] == 10 and r1["winners_n"] == 4 and r1["share_within_half"] == 1.0


def test_p6_groups_compete_on_their_means(tmp_path: Path) -> None:
    numbers = [0, 10, 20, 30, 40, 50]
    rep = play(tmp_path, [str(n) for n in numbers], variant="P6", seed=3)
    seats = roster.team_seats(6, 3, 3)
    assert sorted(seats) == ["A", "A", "B", "B", "C", "C"]
    r1 = rep["runs"][0]["rounds"][0]
    # mean 25, target 50/3 = 16.67; each group's mean from the seating, worked out here
    means = {t: sum(n for n, s in zip(numbers, seats, strict=True) if s == t) / 2 for t in "ABC"}
    assert r1["team_means"] == means
    assert r1["team_won"] == min(means, key=lambda t: abs(means[t] - 50 / 3))
    prompt = (tmp_path / "study" / "seed-3" / "calls.jsonl").read_text()
    assert "split into 3 groups, A, B and C; you are in group" in prompt


def test_two_call_parsing_counts_its_calls_and_retries(tmp_path: Path) -> None:
    # player 0 reports 30 (answer + extraction: 2 calls); player 1's replies hold no number: the whole turn is
    # asked 3 times (answer_retries 2), 6 calls, then it is invalid
    rep = play(tmp_path, ["30", "none"], variant="P5", parse="two-call", max_failed_share=0.5)
    r1 = rep["runs"][0]["rounds"][0]
    assert (r1["n"], r1["invalid"], r1["mean"]) == (1, 1, 30)
    calls = [json.loads(line) for line in (tmp_path / "study" / "seed-0" / "calls.jsonl").read_text().splitlines()]
    assert sorted((c["agent"], c["step"]) for c in calls) == [
        (0, "answer.0"), (0, "extract.0"), (1, "answer.0"), (1, "answer.1"), (1, "answer.2"),
        (1, "extract.0"), (1, "extract.1"), (1, "extract.2")]
    answers = [json.loads(line) for line in (tmp_path / "study" / "seed-0" / "answers.jsonl").read_text().splitlines()]
    assert answers[1]["attempts"] == 3 and "no number" in answers[1]["error"]
    assert answers[0]["extract_usage"]["requests"] == 1 and answers[1]["extract_usage"]["requests"] == 3
    assert r1["extract_completion_tokens"] > 0 and r1["requests"] == 8


def test_t_interval_and_aggregate_by_hand() -> None:
    ci = report.t_interval([1.0, 2.0, 3.0])  # sd 1, t(2 df) = 4.303: 4.303 / sqrt(3)
    assert ci["mean"] == 2 and ci["ci95"] == pytest.approx(4.303 / math.sqrt(3))
    assert report.t_interval([5.0])["ci95"] is None
    runs = [{"complete": True, "rounds": [{"mean": m, "target": m * 2 / 3}]} for m in (10.0, 20.0)]
    agg = report.aggregate(runs)
    # two values 10, 20: mean 15, sd 7.071, t(1 df) = 12.706: 12.706 * 7.071 / sqrt(2) = 63.53
    assert agg[0]["mean"]["mean"] == 15 and agg[0]["mean"]["ci95"] == pytest.approx(12.706 * 5)


def test_exact_counts_and_seating() -> None:
    # 7 x (0.5, 0.3, 0.2) = 3.5, 2.1, 1.4: floors 3 2 1, the seat left to the largest remainder (0.5)
    assert roster.exact_counts(7, [0.5, 0.3, 0.2]) == [4, 2, 1]
    assert roster.exact_counts(10, [0.5, 0.3, 0.2]) == [5, 3, 2]
    cfg = config.load(None, {"agents": 10}).game.model_copy(update={"models": [
        config.ModelGroup(name="x", endpoints=["a"], share=0.7), config.ModelGroup(name="y", endpoints=["b"],
                                                                                  share=0.3)]})
    seats = roster.model_seats(10, cfg, seed=1)
    assert seats.count("x") == 7 and seats == roster.model_seats(10, cfg, seed=1)
    assert seats != roster.model_seats(10, cfg, seed=2) or seats != roster.model_seats(10, cfg, seed=3)


def test_a_mixture_pins_each_group_to_its_server(tmp_path: Path) -> None:
    with FakeServer(models=["model-a"], answers=standin.answer) as one, \
            FakeServer(models=["model-b"], answers=standin.answer) as two:
        from smallville.inference.settings import EndpointSettings, InferenceSettings

        inference = InferenceSettings(endpoints=[
            EndpointSettings(name="a", base_url=one.base_url, model="model-a"),
            EndpointSettings(name="b", base_url=two.base_url, model="model-b")], retries=1, backoff_s=0.01)
        pop = population(tmp_path / "pop.jsonl", [str(n) for n in range(10)])
        cfg = config.GameFile(game=config.GuessSettings(variant="P5", population=str(pop), models=[
            config.ModelGroup(name="alpha", endpoints=["a"], share=0.7),
            config.ModelGroup(name="beta", endpoints=["b"], share=0.3)]).resolved(), inference=inference)
        rep = game.start_study(tmp_path / "study", cfg, progress=False, say=lambda _: None)
        assert one.stats()["paths"]["/v1/chat/completions"] == 7
        assert two.stats()["paths"]["/v1/chat/completions"] == 3
    by_model = rep["runs"][0]["rounds"][0]["by_model"]
    assert by_model["alpha"]["n"] == 7 and by_model["beta"]["n"] == 3
    assert by_model["alpha"]["mean"] + 0 == pytest.approx(
        sum(n for n, g in enumerate(roster.model_seats(10, cfg.game, 0)) if g == "alpha") / 7)
    assert rep["runs"][0]["groups"] == {"alpha": 7, "beta": 3}


def test_repeating_the_announced_number_as_the_players_read_it() -> None:
    # announced 70/3 = 23.333..., read as "23.33": 23.33 and 23.334 say it back, 23.34 and 10 do not
    previous = scoring.score_round([10.0, 20.0, 30.0, 40.0, 50.0, 60.0], list(range(6)), Fraction(2, 3), Fraction(0))
    values = [23.33, 23.334, 23.34, 10.0]
    now = scoring.score_round(values, list(range(4)), Fraction(2, 3), Fraction(0))
    figures = scoring.round_figures(values, ["ok"] * 4, now, 100, previous)
    assert figures["share_repeating_announced"] == 0.5
    assert figures["share_below_previous_announced"] == 0.5  # 23.33 and 10 are below 23.333...; 23.334 is not
