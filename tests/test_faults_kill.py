"""kill -9 at random moments of a generative run against the fake OpenAI-compatible server (the scripted model,
answers coming back in shuffled orders): every resume ends with the bytes of an uninterrupted run, in the event
log and in the record of calls."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agents_kit import SCENARIO

from smallville.inference.record import read_recording
from smallville.testing import scripted
from smallville.testing.fake_server import FakeServerProcess

CLI = [sys.executable, "-m", "smallville.cli"]
HOURS = "16"


@pytest.fixture(scope="module")
def server() -> object:
    fake = FakeServerProcess(answers=scripted.answer, jitter_s=0.05, jitter_seed=5).start()
    yield fake
    fake.stop()


def _config(tmp_path: Path, small_town: tuple[Path, Path], port: int) -> Path:
    tmx, residents = small_town
    (residents.parent / "scenario.toml").write_text(SCENARIO)
    cfg = tmp_path / "smallville.toml"
    cfg.write_text(f'''[sim]
seed = 11
[town]
map = "{tmx}"
residents = "{residents}"
[agents]
mind = "generative"
economy = "off"
[inference]
backoff_s = 0.05
[[inference.endpoints]]
name = "fake"
base_url = "http://127.0.0.1:{port}/v1"
model = "fake-model"
[inference.embedding]
base_url = "http://127.0.0.1:{port}/v1"
model = "fake-model"
dim = 8
''')
    return cfg


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_kill_9_at_random_moments_then_resume_gives_the_same_bytes(tmp_path: Path, small_town: tuple[Path, Path],
                                                                   server: FakeServerProcess) -> None:
    cfg = _config(tmp_path, small_town, server.port)
    whole = tmp_path / "whole"
    done = subprocess.run([*CLI, "run", "--headless", "--config", str(cfg), "--hours", HOURS, "--save", str(whole),
                           "--no-progress"], check=True, capture_output=True, text=True, timeout=300)
    # the seconds the ticks took (the summary's figure), not the process's: imports and model setup come first
    stepping = float(re.search(r"events, ([0-9.]+) s,", done.stdout).group(1))  # type: ignore[union-attr]
    reference = (whole / "events.jsonl").read_bytes()
    assert b'"k":"talk"' in reference or b'"k":"plan' in reference  # the minds thought, not just walked

    killed = tmp_path / "killed"
    rng = random.Random(2026)
    kills = 0
    cut_at: list[int] = []  # the log's length at each kill
    command = [*CLI, "run", "--headless", "--config", str(cfg), "--hours", HOURS, "--save", str(killed),
               "--no-progress"]
    resume = [*CLI, "resume", str(killed), "--headless", "--no-progress"]
    while kills < 4:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # from the moment it holds the save's lock (its run is about to step), a random moment of its stepping
        while proc.poll() is None and str(proc.pid) not in _text(killed / "lock"):
            time.sleep(0.005)
        try:
            proc.wait(timeout=rng.uniform(0.0, 0.8) * stepping)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            if (killed / "events.jsonl").exists():
                cut_at.append((killed / "events.jsonl").stat().st_size)
            if (killed / "manifest.json").exists():
                command = resume
            continue
        assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
        break
    else:
        done = subprocess.run(resume, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert kills >= 1, "the run ended before any kill: lengthen it"
    assert any(0 < n < len(reference) for n in cut_at), f"no kill landed mid-run: {cut_at} of {len(reference)}"
    assert (killed / "events.jsonl").read_bytes() == reference
    # calls are written as they complete (in any order), so compare them as a set of (request, occurrence)
    calls = [(c["key"], c["n"]) for c in read_recording(killed / "calls.jsonl")]  # blanked lines skipped
    assert len(calls) == len(set(calls)), "a call recorded twice after a resume"
    assert set(calls) == {(c["key"], c["n"]) for c in read_recording(whole / "calls.jsonl")}
