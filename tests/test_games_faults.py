"""Servers gone wrong and users typing wrong: garbage answers, numbers out of range, 500s, refusals, bad flags
and bad configs. Invalid answers are counted (never a crash), failed calls are counted or stop the game in one
line with its save kept for `smallville game resume`, and bad input is one line and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from games_kit import config, population, run_cli, sha

from smallville.games import standin
from smallville.testing.fake_server import FakeServer

SPECS = [str(n) for n in (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0, 5)]


@pytest.fixture
def fake() -> object:
    with FakeServer(answers=standin.answer) as server:
        yield server


def _game(tmp_path: Path, port: int, specs: list[str] = SPECS, inference: dict | None = None,
          **knobs: object) -> Path:
    pop = population(tmp_path / "pop.jsonl", specs)
    return config(tmp_path / "game.toml", {"variant": "P5", "population": str(pop), **knobs}, port=port,
                  inference=inference)


def _answers(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "seed-0" / "answers.jsonl").read_text().splitlines()]


def _one_line_error(done: object, *, logged: bool = False) -> str:
    """The one error line of a command that exit 2; `logged`: the pool's warnings may come before it (a server
    going out of rotation is logged as it happens)."""
    lines = done.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert done.returncode == 2, done.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in done.stderr, done.stderr  # type: ignore[attr-defined]
    if logged:
        lines = [line for line in lines if not line.startswith(("WARNING ", "INFO "))]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr  # type: ignore[attr-defined]
    return lines[0]


def test_garbage_now_and_then_is_re_asked(tmp_path: Path, fake: FakeServer) -> None:
    fake.script("garbage", "bad_schema", "ok", "garbage")  # player 0: two bad answers, player 1: one
    out = tmp_path / "out"
    done = run_cli("game", "guess", "--config", str(_game(tmp_path, fake.port, concurrency=1)), "--out", str(out))
    assert done.returncode == 0, done.stderr
    answers = _answers(out)
    assert all(a["status"] == "ok" for a in answers if a["k"] == "answer")
    assert sum(a["usage"]["requests"] for a in answers if a["k"] == "answer") == len(SPECS) + 3


def test_out_of_range_and_garbage_players_are_invalid_not_a_crash(tmp_path: Path, fake: FakeServer) -> None:
    specs = ["10", "150", "garbage", "30"]
    out = tmp_path / "out"
    done = run_cli("game", "guess", "--config", str(_game(tmp_path, fake.port, specs)), "--out", str(out))
    assert done.returncode == 0, done.stderr
    answers = _answers(out)
    assert [a["status"] for a in answers[:4]] == ["ok", "invalid", "invalid", "ok"]
    assert answers[1]["usage"]["requests"] == 3  # asked, then re-asked twice with the reason (answer_retries 2)
    assert "less than or equal to 100" in answers[1]["error"]
    assert answers[4] == {**answers[4], "valid": 2, "invalid": 2, "failed": 0, "target": 40 / 3}
    summary = (out / "summary.md").read_text()
    assert "agent 1: invalid" in summary and "agent 2: invalid" in summary


def test_garbage_always_is_counted_when_the_watch_is_off(tmp_path: Path, fake: FakeServer) -> None:
    fake.set_default("garbage")
    out = tmp_path / "out"
    cfg = _game(tmp_path, fake.port, inference={"stop_after_failures": 0})
    done = run_cli("game", "guess", "--config", str(cfg), "--out", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    r1 = report["runs"][0]["rounds"][0]
    assert (r1["n"], r1["invalid"], r1["failed"], r1["mean"], r1["target"]) == (0, len(SPECS), 0, None, None)


def test_a_model_that_answers_garbage_stops_the_game_in_one_line(tmp_path: Path, fake: FakeServer) -> None:
    fake.set_default("garbage")
    out = tmp_path / "out"
    done = run_cli("game", "guess", "--config", str(_game(tmp_path, fake.port)), "--out", str(out))
    line = _one_line_error(done, logged=True)
    assert "the first 8 model calls all failed" in line and "AnswerInvalid" in line
    assert f"smallville game resume {out}" in line
    assert (out / "seed-0" / "answers.jsonl").read_bytes() == b""


def test_500s_now_and_then_are_retried(tmp_path: Path, fake: FakeServer) -> None:
    fake.script("500", "503", "500")
    out = tmp_path / "out"
    cfg = _game(tmp_path, fake.port, inference={"retries": 4})
    done = run_cli("game", "guess", "--config", str(cfg), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert all(a["status"] == "ok" for a in _answers(out) if a["k"] == "answer")


def test_a_server_answering_500_stops_the_game_then_resume_finishes_it(tmp_path: Path, fake: FakeServer) -> None:
    cfg = _game(tmp_path, fake.port, rounds=2)
    clean = tmp_path / "clean"
    assert run_cli("game", "guess", "--config", str(cfg), "--out", str(clean)).returncode == 0
    fake.set_default("500")
    out = tmp_path / "out"
    line = _one_line_error(run_cli("game", "guess", "--config", str(cfg), "--out", str(out)), logged=True)
    assert "fake: http_500 x" in line and "smallville game resume" in line, line
    fake.set_default("ok")
    again = run_cli("game", "resume", str(out))
    assert again.returncode == 0, again.stderr
    assert sha(out / "seed-0" / "answers.jsonl") == sha(clean / "seed-0" / "answers.jsonl")


def test_a_refusing_server_stops_at_once(tmp_path: Path) -> None:
    with FakeServer(answers=standin.answer, api_key="sk-the-right-one") as server:
        line = _one_line_error(run_cli("game", "guess", "--config", str(_game(tmp_path, server.port)),
                                       "--out", str(tmp_path / "a")), logged=True)
        assert "HTTP 401" in line and server.requests <= len(SPECS)  # each in flight once, never retried
    with FakeServer(models=["another-model"]) as server:
        line = _one_line_error(run_cli("game", "guess", "--config", str(_game(tmp_path, server.port)),
                                       "--out", str(tmp_path / "b")), logged=True)
        assert "HTTP 404" in line and "fake-model" in line


@pytest.mark.parametrize("flags", [
    ["--agents", "nan"], ["--agents", "inf"], ["--agents", "-3"], ["--agents", "0"], ["--agents", "1e9"],
    ["--variant", "P9"], ["--temperature", "nan"], ["--temperature", "-1"], ["--ratio", "two thirds"],
    ["--ratio", "3/0"], ["--ratio", "inf"], ["--rounds", "0"], ["--seeds", "1.5"], ["--offset", "inf"],
    ["--parse", "three-call"], ["--population", "/nonexistent/people.jsonl"], ["--variant", "P5"],
    ["--config", "/nonexistent.toml"],
])
def test_bad_flags_are_one_line(tmp_path: Path, flags: list[str]) -> None:
    done = run_cli("game", "guess", "--out", str(tmp_path / "out"), *flags)
    _one_line_error(done)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("body", "named"), [
    ('[game]\nvariant = "P8"\n', "variant"),
    ("[game]\nagents = -1\n", "agents"),
    ("[game]\nrounds = nan\n", "rounds"),
    ("[game]\ncolour = 1\n", "colour"),
    ("[game\n", "not valid TOML"),
    ('[game]\nratio = "0"\n', "ratio"),
    ('[[game.models]]\nname = "x"\nendpoints = ["nope"]\nshare = 1.0\n', "endpoint"),
    ('[[inference.endpoints]]\nname = "a"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
     '[[game.models]]\nname = "x"\nendpoints = ["a"]\nshare = 0.6\n', "sum to 0.6"),
])
def test_bad_configs_are_one_line_naming_the_key(tmp_path: Path, body: str, named: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    line = _one_line_error(run_cli("game", "guess", "--config", str(cfg), "--out", str(tmp_path / "out")))
    assert named in line


def test_a_population_too_small_is_one_line(tmp_path: Path) -> None:
    pop = population(tmp_path / "pop.jsonl", ["1", "2"])
    line = _one_line_error(run_cli("game", "guess", "--population", str(pop), "--agents", "5",
                                   "--out", str(tmp_path / "out")))
    assert "holds 2 people" in line


def test_resume_of_something_else_is_one_line(tmp_path: Path) -> None:
    line = _one_line_error(run_cli("game", "resume", str(tmp_path)))
    assert "study.json" in line


def test_one_writer_at_a_time_and_a_killed_writer_is_taken_over(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from games_kit import CLI

    with FakeServer(answers=standin.answer, latency_s=6.0) as slow:  # a round of 6 s
        out = tmp_path / "out"
        command = [*CLI, "game", "guess", "--config", str(_game(tmp_path, slow.port)), "--out", str(out)]
        first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not (out / "seed-0" / "lock").exists():
                assert time.monotonic() < deadline and first.poll() is None
                time.sleep(0.02)
            line = _one_line_error(run_cli("game", "resume", str(out)))
            assert "in use by another smallville" in line and f"pid {first.pid}" in line
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        again = run_cli("game", "resume", str(out))
        assert again.returncode == 0, again.stderr
        assert len(_answers(out)) == len(SPECS) + 1
