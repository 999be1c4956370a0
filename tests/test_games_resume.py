"""A game killed with SIGKILL mid-round resumes at that round and ends with the bytes of a game never killed;
and the answers' order of completion, whatever it is, never shows in the answer log or the report.

Every game here is a real `smallville game guess` process against the fake OpenAI-compatible server (in its own
process, answering as the stand-ins do, with a random latency per request so that calls complete in a shuffled
order). The answer log and the report (less its wall-clock figures) are compared by SHA-256."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from games_kit import CLI, config, population, run_cli, sha, stable_report

from smallville.games import config as game_config
from smallville.games import game, standin
from smallville.games.standin import StandInModel
from smallville.testing.fake_server import FakeServerProcess

PLAYERS = 240
ROUNDS = 3


@pytest.fixture(scope="module")
def server() -> object:
    fake = FakeServerProcess(answers=standin.answer, latency_s=0.01, jitter_s=0.04,
                             jitter_seed=7).start()
    yield fake
    fake.stop()


def _setup(tmp_path: Path, port: int) -> Path:
    rng = random.Random(14)
    specs = [str(rng.randint(0, 100)) for _ in range(PLAYERS)]
    specs[5], specs[77] = "garbage", "150"  # two invalid players, each round
    pop = population(tmp_path / "pop.jsonl", specs, [{"Job": "a" if i % 3 else "b"} for i in range(PLAYERS)])
    return config(tmp_path / "game.toml", {"variant": "P5", "population": str(pop), "rounds": ROUNDS,
                                           "concurrency": 12}, port=port)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _kill_when(command: list[str], calls: Path, at_least: int) -> None:
    """Start `command`, SIGKILL it once `calls` holds `at_least` lines (mid-round)."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _lines(calls) < at_least:
            assert proc.poll() is None, "the game ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)


def test_kill_9_mid_round_resumes_at_that_round_with_the_same_bytes(tmp_path: Path, server: object) -> None:
    cfg = _setup(tmp_path, server.port)  # type: ignore[attr-defined]
    whole = tmp_path / "whole"
    done = run_cli("game", "guess", "--config", str(cfg), "--out", str(whole), "--no-progress")
    assert done.returncode == 0, done.stderr

    killed = tmp_path / "killed"
    calls = killed / "seed-0" / "calls.jsonl"
    # each round makes PLAYERS calls plus the re-asks of the two invalid players (2 each)
    per_round = PLAYERS + 4
    _kill_when([*CLI, "game", "guess", "--config", str(cfg), "--out", str(killed), "--no-progress"], calls,
               per_round + PLAYERS // 2)
    answers = killed / "seed-0" / "answers.jsonl"
    rounds_done = answers.read_bytes().count(b'"k":"round"')
    assert rounds_done == 1, "killed in round 2"
    _kill_when([*CLI, "game", "resume", str(killed), "--no-progress"], calls, 2 * per_round + PLAYERS // 3)
    assert answers.read_bytes().count(b'"k":"round"') == 2, "killed again, in round 3"
    finished = run_cli("game", "resume", str(killed), "--no-progress")
    assert finished.returncode == 0, finished.stderr

    assert sha(answers) == sha(whole / "seed-0" / "answers.jsonl")
    assert stable_report(killed) == stable_report(whole)
    timing = [json.loads(line) for line in (killed / "seed-0" / "timing.jsonl").read_text().splitlines()]
    resumed = {t["r"]: t for t in timing}
    assert resumed[2]["calls_reused"] >= PLAYERS // 2 - 12  # answered from the recording, not asked again
    assert resumed[3]["calls_reused"] >= PLAYERS // 3 - 12
    # every call of the game is in the recording (a call re-asked on resume only when it was in flight)
    steps = {(c["round"], c["agent"], c["step"]) for c in map(json.loads, calls.read_text().splitlines())}
    assert len(steps) == ROUNDS * PLAYERS


def test_shuffled_completion_orders_give_one_sha256(tmp_path: Path, server: object) -> None:
    cfg = _setup(tmp_path, server.port)  # type: ignore[attr-defined]
    digests, orders = set(), []
    for i, hash_seed in enumerate(("0", "1", "12345")):
        out = tmp_path / f"run{i}"
        done = run_cli("game", "guess", "--config", str(cfg), "--out", str(out), "--no-progress",
                       env={"PYTHONHASHSEED": hash_seed})
        assert done.returncode == 0, done.stderr
        digests.add((sha(out / "seed-0" / "answers.jsonl"), stable_report(out)))
        calls = [json.loads(line) for line in (out / "seed-0" / "calls.jsonl").read_text().splitlines()]
        orders.append([c["agent"] for c in calls])
    assert len(digests) == 1
    assert len({tuple(o) for o in orders}) == 3, "the calls did complete in different orders"


def test_in_process_jitter_gives_one_sha256(tmp_path: Path) -> None:
    specs = [str(n % 101) for n in range(0, 700, 7)]
    pop = population(tmp_path / "pop.jsonl", specs)
    settings = game_config.load(None, {"variant": "P4", "population": str(pop), "rounds": 2, "seeds": 2})
    digests = set()
    for order_seed in range(4):
        out = tmp_path / f"s{order_seed}"
        game.start_study(out, settings, progress=False, say=lambda _: None,
                         override=StandInModel(jitter_s=0.01, order_seed=order_seed, specs=specs))
        digests.add((sha(out / "seed-0" / "answers.jsonl"), sha(out / "seed-1" / "answers.jsonl"),
                     stable_report(out)))
    assert len(digests) == 1


def test_report_again_from_the_saves_alone(tmp_path: Path) -> None:
    specs = ["10", "20", "60", "garbage"]
    pop = population(tmp_path / "pop.jsonl", specs)
    settings = game_config.load(None, {"variant": "P2", "population": str(pop), "rounds": 2})
    out = tmp_path / "study"
    game.start_study(out, settings, progress=False, say=lambda _: None, override=StandInModel(specs=specs))
    before = stable_report(out)
    (out / "report.json").unlink()
    again = run_cli("game", "report", str(out))
    assert again.returncode == 0, again.stderr
    assert stable_report(out) == before
    assert "round 2: mean" in again.stdout


def test_a_call_record_torn_by_a_kill_is_cut_before_the_next(tmp_path: Path) -> None:
    import asyncio

    from smallville.games.calls import CallBook, Place
    from smallville.games.prompts import answer_model
    from smallville.inference.base import CallOptions, Message

    path = tmp_path / "calls.jsonl"
    chat = [Message("system", "rules stand-in: 12"), Message("user", "go")]
    options = CallOptions("guess", seed=1)
    book = CallBook(path)
    first = asyncio.run(book.structured(StandInModel(), Place(1, 0, "answer.0"), "default", chat,
                                        answer_model(100, False), options))
    book.close()
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"v":1,"key":"abc","n":0,"round":1,"agent":1,"st')  # a kill mid-write
    again = CallBook(path)
    assert path.read_bytes() == whole  # the torn line is gone before anything is appended
    reused = asyncio.run(again.structured(StandInModel(), Place(1, 0, "answer.0"), "default", chat,
                                          answer_model(100, False), options))
    asked = asyncio.run(again.structured(StandInModel(), Place(1, 1, "answer.0"), "default", chat,
                                         answer_model(100, False), options))
    again.close()
    assert (again.reused, again.asked) == (1, 1)
    assert reused.value == first.value and reused.usage == first.usage and asked.value is not None
    assert all(json.loads(line) for line in path.read_text().splitlines())
