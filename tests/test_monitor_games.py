"""The round games on the monitor: a finished study and its seeds through the API (the histogram of the latest
round and the mean per round agree with the report), half-made and corrupt game saves as rows with their
reason, the answer log read incrementally within a budget, and `--monitor` on `smallville game guess`."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from games_kit import CLI, config, population
from monitor_kit import get_json, monitor, row

from smallville.games import config as game_config
from smallville.games import game, standin
from smallville.games.monitor import LogTally, tally_of
from smallville.games.standin import StandInModel

SPECS = ["10", "20", "30", "60", "90", "100", "garbage", "150", "40", "55"]


def played(saves: Path, name: str = "g", rounds: int = 3, seeds: int = 2) -> Path:
    pop = population(saves.parent / f"{name}-pop.jsonl", SPECS)
    settings = game_config.load(None, {"variant": "P2", "population": str(pop), "rounds": rounds, "seeds": seeds})
    out = saves / name
    game.start_study(out, settings, progress=False, say=lambda _: None, override=StandInModel(specs=SPECS))
    return out


def _blocks(detail: dict[str, Any]) -> dict[str, Any]:
    return {b.get("key"): b for b in detail["blocks"] if b.get("key")}


def test_a_finished_game_through_the_api(tmp_path: Path) -> None:
    saves = tmp_path / "saves"
    out = played(saves)
    report = json.loads((out / "report.json").read_text())
    with monitor(saves) as url:
        study = row(get_json(f"{url}/api/runs"), "g")
        assert study["kind"] == "game-study" and study["state"] == "finished" and study["progress"] == 1.0
        assert study["seeds"] == study["seeds_done"] == 2 and study["rounds_done"] == 6 and study["variant"] == "P2"
        assert study["players"] == len(SPECS) and study["game_time"] == "seed 2/2, rounds 6/6"
        detail = get_json(f"{url}/api/runs/g")
        blocks = _blocks(detail)
        assert [r["link"] for r in blocks["seeds"]["rows"]] == ["g/seed-0", "g/seed-1"]
        hist = blocks["histogram"]
        assert hist["type"] == "histogram" and len(hist["counts"]) == 101 and hist["width"] == 1.0
        last = report["aggregate"][-1]
        valid = sum(hist["counts"])
        assert last["invalid"]["mean"] >= 1  # garbage, every round
        assert valid == len(SPECS) - last["invalid"]["mean"] - last["failed"]["mean"]
        assert "round 3" in hist["title"] and abs(hist["marks"]["mean"] - last["mean"]["mean"]) < 1e-9
        means = {ln["name"]: ln["points"] for ln in blocks["means"]["lines"]}
        assert [p[0] for p in means["mean"]] == [1, 2, 3]
        for (r, mean), agg in zip(means["mean"], report["aggregate"], strict=True):
            assert agg["r"] == r and abs(mean - agg["mean"]["mean"]) < 1e-9
        assert [p[1] for p in means["target"]] == pytest.approx([a["target"]["mean"] for a in report["aggregate"]])
        rounds = blocks["rounds"]["rows"]
        assert rounds[0]["r"] == 3 and rounds[0]["invalid"] == last["invalid"]["mean"] and rounds[0]["failed"] == 0
        seed = get_json(f"{url}/api/runs/g/seed-0")
        assert seed["kind"] == "game" and seed["state"] == "finished" and seed["rounds_done"] == 3
        assert _blocks(seed)["histogram"]["counts"] == _blocks(get_json(f"{url}/api/runs/g/seed-1"))["histogram"][
            "counts"]  # the stand-ins answer the same in every seed


def test_half_made_and_corrupt_game_saves_are_rows_with_their_reason(tmp_path: Path) -> None:
    saves = tmp_path / "saves"
    out = played(saves, rounds=2, seeds=1)
    half = saves / "half-made"  # killed while its save was being made: a lock, an empty log, no manifest
    half.mkdir()
    (half / "lock").write_text("")
    (half / "answers.jsonl").touch()
    (half / "manifest.json.tmp").write_text('{"format": "smallville-ga')
    torn = saves / "torn-study"
    torn.mkdir()
    (torn / "study.json").write_text('{"format": "smallville-game-study", "se')
    garbled = saves / "garbled"
    shutil.copytree(out / "seed-0", garbled)
    lines = (garbled / "answers.jsonl").read_bytes().split(b"\n")
    lines[1] = b'{"k":"answer","r":1,"agent":1,"sta'  # torn in the middle of the log, rounds after it
    (garbled / "answers.jsonl").write_bytes(b"\n".join(lines))
    stopped = saves / "stopped"
    shutil.copytree(out / "seed-0", stopped)
    manifest = json.loads((stopped / "manifest.json").read_text())
    (stopped / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    (stopped / "timing.jsonl").write_text((stopped / "timing.jsonl").read_text().splitlines()[0] + "\n")
    with monitor(saves) as url:
        runs = get_json(f"{url}/api/runs")
        made = row(runs, "half-made")
        assert made["kind"] == "game" and made["state"] == "corrupt" and "being made" in made["why"]
        assert row(runs, "torn-study")["state"] == "corrupt" and "study.json" in row(runs, "torn-study")["why"]
        assert row(runs, "g")["state"] == "finished"
        halted = row(runs, "stopped")
        assert halted["state"] == "stopped" and "resume" in halted["why"] and halted["progress"] == 0.5
        bad = get_json(f"{url}/api/runs/garbled")
        assert bad["health"]["level"] == "bad" and "answers.jsonl line 2" in bad["health"]["text"]
        assert bad["blocks"][1]["type"] == "note" and bad["blocks"][1]["tone"] == "bad"
        assert get_json(f"{url}/api/runs/half-made")["blocks"][0]["tone"] == "bad"
        assert get_json(f"{url}/api/runs/torn-study")["state"] == "corrupt"


def test_the_answer_log_is_read_incrementally_within_a_budget(tmp_path: Path) -> None:
    out = played(tmp_path / "saves", rounds=4, seeds=1)
    save = out / "seed-0"
    whole = LogTally(101, 1.0)
    whole.advance(save / "answers.jsonl", budget=1 << 30)
    size = (save / "answers.jsonl").stat().st_size
    small = LogTally(101, 1.0)
    steps = 0
    while small.offset < size:
        small.advance(save / "answers.jsonl", budget=700)  # a few lines a look
        steps += 1
        assert steps < 500
    assert steps > 4 and [(t.r, t.n, t.mean, t.bins) for t in small.rounds] == \
        [(t.r, t.n, t.mean, t.bins) for t in whole.rounds]
    assert len(whole.rounds) == 4 and whole.problem is None
    # cut back (as a resume cuts a torn tail): the tally starts again and agrees with the shorter log
    data = (save / "answers.jsonl").read_bytes()
    cut = data[: data.index(b'"k":"round","r":2')]
    cut = cut[: cut.rindex(b"\n") + 1]
    (save / "answers.jsonl").write_bytes(cut)
    again = tally_of(save, 100)
    assert [t.r for t in again.rounds] == [1]


def test_monitor_flag_on_game_guess(tmp_path: Path) -> None:
    from smallville.cli import build_parser
    from smallville.testing.fake_server import FakeServerProcess

    assert build_parser().parse_args(["eval", "diffusion", "--monitor"]).monitor is True
    assert build_parser().parse_args(["game", "resume", "x", "--monitor"]).monitor is True
    pop = population(tmp_path / "pop.jsonl", SPECS)
    with FakeServerProcess(answers=standin.answer, latency_s=0.3) as server:
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
        cfg = config(tmp_path / "game.toml", {"variant": "P1", "population": str(pop), "rounds": 4,
                                              "concurrency": 2}, port=port)
        proc = subprocess.Popen([*CLI, "game", "guess", "--config", str(cfg), "--out", str(tmp_path / "saves" / "gg"),
                                 "--no-progress", "--monitor"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            lines = [proc.stdout.readline() for _ in range(2)] if proc.stdout else []
            shown = [ln.strip() for ln in lines if ln.startswith("monitor: ")]
            assert len(shown) == 1 and shown[0].endswith("#run=gg"), lines
            url = shown[0].removeprefix("monitor: ").split("#")[0].rstrip("/")
            deadline = time.monotonic() + 60
            seen = None
            while time.monotonic() < deadline:
                try:
                    seen = row(get_json(f"{url}/api/runs"), "gg")
                    if seen["state"] == "running":
                        break
                except (OSError, AssertionError):
                    pass
                time.sleep(0.2)
            assert seen is not None and seen["kind"] == "game-study" and seen["state"] == "running", seen
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
