"""The scale-out engine on a real Ray instance (started once for the module): group actors play shards of a game's
rounds and the answer log is byte-identical for 1, 2 and 4 workers; a group actor killed mid-round is restarted and
its shard played again from what it had recorded, nothing lost or counted twice; one that does not come back stops
the game in one line naming its node, and a resume finishes it; the diffusion study's seeds fan out over workers
into the same report; the dummy agents of `bench scale` give the same answers on every engine."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from games_kit import sha
from monitor_kit import get_json, monitor

from smallville.games import config as game_config
from smallville.games import game
from smallville.games.standin import StandInModel
from smallville.inference.base import EndpointUnavailable
from smallville.scale.cluster import WorkerLost
from smallville.scale.settings import ScaleSettings
from smallville.scale.shards import merge, split

ray = pytest.importorskip("ray")

PLAYERS = 240
SPECS = [str(random.Random(15).randint(0, 100)) for _ in range(PLAYERS)]
SPECS[3], SPECS[100], SPECS[200] = "garbage", "150", "fail"  # invalid, invalid, failed: in every round


@pytest.fixture(scope="module", autouse=True)
def ray_up() -> Any:
    """One local Ray instance for the module (each study finds it up and leaves it up)."""
    ray.init(address="local", num_cpus=4, include_dashboard=False, object_store_memory=128 * 1024 * 1024,
             logging_level="ERROR")
    # this module's own models travel to the group actors by value (the workers cannot import a test module)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


def _settings(workers: int, *, rounds: int = 2, concurrency: int = 16, **scale: Any) -> game_config.GameFile:
    cfg = game_config.GuessSettings(variant="P1", agents=PLAYERS, rounds=rounds, concurrency=concurrency,
                                    max_failed_share=0.05)
    return game_config.GameFile(game=cfg.resolved(), scale=ScaleSettings(workers=workers, batch_s=0.05, **scale))


def _play(out: Path, workers: int, model: Any = None, **kw: Any) -> dict[str, Any]:
    return game.start_study(out, _settings(workers, **kw), progress=False, say=lambda _: None,
                            override=model or StandInModel(jitter_s=0.004, order_seed=workers, specs=SPECS))


def _timing(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "seed-0" / "timing.jsonl").read_text().splitlines()]


def _places(out: Path) -> list[tuple[int, int, str]]:
    return [(r["round"], r["agent"], r["step"]) for r in
            (json.loads(line) for line in (out / "seed-0" / "calls.jsonl").read_text().splitlines())]


class StillFailing:
    """A server that fails every call as the stand-in `fail` does: a study on it stands on its recording alone
    (a call the recording answers asked again would fail, and the answer log would show it)."""

    def __repr__(self) -> str:
        return "StillFailing()"

    async def complete_model(self, *args: Any, **kwargs: Any) -> Any:
        raise EndpointUnavailable("the stand-in's call failed", "standin")

    async def complete_text(self, *args: Any, **kwargs: Any) -> Any:
        raise EndpointUnavailable("the stand-in's call failed", "standin")


class HashVectors:
    """A cheap embedder whose vectors depend on the text alone (the bundled model would load in every worker)."""

    dim = 384  # the memory stream's width

    async def embed(self, texts: Any) -> Any:
        import hashlib

        import numpy as np

        rows = [np.resize(np.frombuffer(hashlib.sha256(t.encode()).digest(), np.uint8), self.dim).astype(np.float32)
                - 127.5 for t in texts]
        out = np.array(rows, np.float32).reshape(len(rows), self.dim)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)


def _replayed(source: Path, into: Path) -> Path:
    """A copy of a finished study with no round committed, so that a resume plays every round again from its
    recorded calls."""
    shutil.copytree(source, into)
    seed = into / "seed-0"
    (seed / "answers.jsonl").write_bytes(b"")
    manifest = json.loads((seed / "manifest.json").read_text())
    manifest["complete"] = False
    (seed / "manifest.json").write_text(json.dumps(manifest))
    (seed / "timing.jsonl").unlink()
    return into


def test_shards_are_contiguous_balanced_and_merge_back_in_agent_order() -> None:
    assert split(10, 4) == [range(0, 2), range(2, 5), range(5, 7), range(7, 10)]
    assert split(3, 8) == [range(0, 1), range(1, 2), range(2, 3)]  # never an empty shard
    assert split(0, 4) == [range(0)]
    shards = split(10, 3)
    assert merge(shards, [list(s) for s in shards]) == list(range(10))
    with pytest.raises(ValueError):
        merge(shards, [list(s) for s in shards[:-1]] + [[1]])


def test_the_answer_log_is_byte_identical_for_1_2_and_4_workers(tmp_path: Path) -> None:
    one = tmp_path / "k1"
    _play(one, 1)
    answers = sha(one / "seed-0" / "answers.jsonl")
    assert [t["workers"] for t in _timing(one)] == [1, 1]
    for k in (2, 4):
        # on recorded answers: the K=1 study's calls, every one answered from the recording by K workers
        again = game.resume_study(_replayed(one, tmp_path / f"replay-k{k}"), progress=False, say=lambda _: None,
                                  override=StillFailing(), workers=k)
        assert sha(tmp_path / f"replay-k{k}" / "seed-0" / "answers.jsonl") == answers
        # asked again: only the call that failed (a recorded failure is asked again in a later session)
        assert [(t["workers"], t["calls_asked"]) for t in _timing(tmp_path / f"replay-k{k}")] == [(k, 1), (k, 1)]
        assert again["runs"][0]["rounds"][0]["failed"] == 1
    accounting = json.loads((tmp_path / "replay-k4" / "inference.json").read_text())["sessions"][-1]
    assert len(accounting["workers"]) == 4 and len(accounting["by_worker"]) == 4
    assert accounting["groups"]["default"]["totals"]["calls"] == 2  # the failed call, asked again each round


def _kill_mid_round(out: Path, at_calls: int, worker: int = 0) -> threading.Thread:
    """SIGKILL group actor `worker` once the first round has `at_calls` calls recorded (its pid from status.json)."""
    def kill() -> None:
        calls, status = out / "seed-0" / "calls.jsonl", out / "seed-0" / "status.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if calls.exists() and calls.read_bytes().count(b"\n") >= at_calls and status.exists():
                pid = json.loads(status.read_text())["workers"][worker]["pid"]
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_group_actor_killed_mid_round_is_restarted_and_nothing_is_lost_or_counted_twice(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    _play(whole, 1, rounds=1)
    killed = tmp_path / "killed"
    slow = StandInModel(latency_s=0.02, specs=SPECS)  # 120 turns a worker, 4 at a time: about 0.6 s a shard
    thread = _kill_mid_round(killed, PLAYERS // 4)
    _play(killed, 2, slow, rounds=1, concurrency=8)
    thread.join(1)
    assert sha(killed / "seed-0" / "answers.jsonl") == sha(whole / "seed-0" / "answers.jsonl")
    timing = _timing(killed)[0]
    assert timing["worker_restarts"] == 1 and timing["calls_redone"] > 0, timing
    places = _places(killed)
    # every call recorded exactly once (those the killed actor had shipped were not asked again; those it had
    # in flight were asked again and recorded once), and counted once
    assert len(places) == len(set(places)) == len(_places(whole))
    assert timing["calls_asked"] == len(places) and timing["calls_reused"] == 0
    status = json.loads((killed / "seed-0" / "status.json").read_text())
    assert [w["restarts"] for w in status["workers"]] == [1, 0]
    with monitor(tmp_path) as url:  # the monitor shows where the group actors ran, and the restart
        blocks = {b.get("key"): b for b in get_json(f"{url}/api/runs/killed/seed-0")["blocks"]}
        assert [(r["worker"], r["restarts"]) for r in blocks["workers"]["rows"]] == [(1, 1), (2, 0)]


def test_a_worker_that_does_not_come_back_stops_in_one_line_naming_its_node_then_resume_finishes(
        tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    _play(whole, 1, rounds=1)
    lost = tmp_path / "lost"
    thread = _kill_mid_round(lost, PLAYERS // 4, worker=1)
    slow = StandInModel(latency_s=0.02, specs=SPECS)
    with pytest.raises(WorkerLost) as stopped:
        _play(lost, 2, slow, rounds=1, concurrency=8, actor_restarts=0)
    thread.join(1)
    message = str(stopped.value)
    assert "\n" not in message and "group actor 2 of 2 (node " in message and "cannot come back" in message, message
    assert (lost / "seed-0" / "answers.jsonl").read_bytes() == b""  # the round was not committed
    records = [json.loads(line) for line in (lost / "seed-0" / "calls.jsonl").read_text().splitlines()]
    reusable = sum(1 for r in records if "answer" in r or r["error"]["type"] == "AnswerInvalid")
    assert reusable > 0
    # the run resumes from its save, here in one process: the calls the lost actor's shard recorded are reused
    game.resume_study(lost, progress=False, say=lambda _: None, override=StandInModel(specs=SPECS), workers=1)
    assert sha(lost / "seed-0" / "answers.jsonl") == sha(whole / "seed-0" / "answers.jsonl")
    assert _timing(lost)[0]["calls_reused"] == reusable


def test_the_dummy_agents_answer_alike_in_one_process_and_on_group_actors() -> None:
    from smallville.bench.scale import DummyGroupFactory, DummyShard, dummy_round
    from smallville.scale.pool import open_pool

    agents = 3000
    alone = asyncio.run(dummy_round(0, agents, 5, sleep_s=0.05)).tobytes()
    parts: dict[int, bytes] = {}

    async def main() -> None:
        factory = DummyGroupFactory(sleep_s=0.05)
        async with open_pool(ScaleSettings(workers=3), factory) as pool:
            shards = split(agents, pool.size)

            def on_item(j: int, item: DummyShard) -> None:
                parts[j] = item.answers

            await pool.run([(lambda _a, s=s: (s.start, len(s), 5)) for s in shards], on_item)
            assert len(await pool.peak_rss_mb()) == 3

    asyncio.run(main())
    assert b"".join(parts[j] for j in sorted(parts)) == alone


def test_diffusion_seeds_fanned_out_over_workers_give_the_same_report(tmp_path: Path, monkeypatch) -> None:
    from agents_kit import agent_settings
    from mapkit import write_town

    from smallville.eval.study import study
    from smallville.testing.scripted import ScriptedModel

    monkeypatch.chdir(tmp_path)  # relative --out folders, as a user gives them
    settings = agent_settings(write_town(tmp_path / "town"), talk_cooldown_minutes=30)
    reports = {}
    for workers in (1, 2):
        report = study(Path(f"report-{workers}"), settings, seeds=2, days=3 / 24, progress=False,
                       interviews=False, scale=ScaleSettings(workers=workers), lm=ScriptedModel(),
                       embedder=HashVectors())
        for run in report["runs"]:
            run.pop("phases")  # wall-clock seconds
        reports[workers] = json.dumps(report, sort_keys=True).replace(f"report-{workers}/", "report/")
    assert reports[1] == reports[2]
    assert [r["name"] for r in json.loads(reports[2])["runs"]] == ["seed-7", "seed-8"]
    assert not list(Path("report-2").glob(".smallville-workers-*"))  # the shared-disk check's file is gone
