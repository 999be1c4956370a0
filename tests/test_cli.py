"""The `smallville` command as users and scripts call it, including kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smallville.config import Settings
from smallville.run import drive, new_run

CLI = [sys.executable, "-m", "smallville.cli"]


def _config(tmp_path: Path, small_town: tuple[Path, Path], extra: str = "") -> Path:
    cfg = tmp_path / "smallville.toml"
    cfg.write_text(f'[sim]\nseed = 3\n{extra}\n[town]\nmap = "{small_town[0]}"\nresidents = "{small_town[1]}"\n'
                   '[agents]\nmind = "routine"\n')
    return cfg


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_run_inspect_resume(tmp_path: Path, small_town: tuple[Path, Path]) -> None:
    cfg = _config(tmp_path, small_town)
    save = tmp_path / "save"
    out = _cli("run", "--headless", "--config", str(cfg), "--hours", "2", "--save", str(save), "--no-progress")
    assert "2 residents of Testville" in out.stdout and "saved" in out.stdout
    info = json.loads(_cli("inspect", str(save), "--json").stdout)
    assert {"residents", "first_tick", "last_tick", "events", "bytes"} <= info.keys()
    assert info["last_tick"] == 2 * 360 - 6 and info["complete"]
    assert "complete" in _cli("resume", str(save)).stdout
    _cli("resume", str(save), "--hours", "1", "--no-progress")
    assert json.loads(_cli("inspect", str(save), "--json").stdout)["last_tick"] == 3 * 360 - 6


def test_headless_progress_bar_shows_game_time_and_speed(tmp_path: Path, small_town: tuple[Path, Path]) -> None:
    cfg = _config(tmp_path, small_town)
    out = _cli("run", "--headless", "--config", str(cfg), "--hours", "1", "--save", str(tmp_path / "s"))
    assert "Mon 13 Feb 2023 01:00" in out.stderr and "game-min/s" in out.stderr


def test_errors_are_one_line_with_the_place(tmp_path: Path, small_town: tuple[Path, Path]) -> None:
    bad = _config(tmp_path, small_town, extra="tick_seconds = -5")
    done = _cli("run", "--headless", "--config", str(bad), "--save", str(tmp_path / "x"), check=False)
    assert done.returncode == 2 and "sim.tick_seconds" in done.stderr and "Traceback" not in done.stderr
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[sim]\nsede = 4\n")
    done = _cli("run", "--headless", "--config", str(unknown), "--save", str(tmp_path / "y"), check=False)
    assert done.returncode == 2 and "sim.sede" in done.stderr
    done = _cli("inspect", str(tmp_path / "missing"), check=False)
    assert done.returncode == 2 and "no such save" in done.stderr and "Traceback" not in done.stderr
    done = _cli("map", str(tmp_path / "none.tmx"), check=False)
    assert done.returncode == 2 and "map file not found" in done.stderr


def test_map_command_checks_a_town(small_town: tuple[Path, Path]) -> None:
    out = _cli("map", str(small_town[0]), "--json")
    info = json.loads(out.stdout)
    assert info["sectors"] == 2 and info["arenas"] == 3 and info["tree"]["Park"] == {"lawn": ["park garden"]}


@pytest.mark.parametrize("kill_after_bytes", [1, 9_000, 40_000])
def test_kill_9_then_resume_has_no_missing_or_duplicated_tick(
        tmp_path: Path, small_town: tuple[Path, Path], small_settings: Settings, kill_after_bytes: int) -> None:
    hours = 48
    whole, sim = new_run(tmp_path / "whole", small_settings, hours)
    drive(whole, sim, whole.manifest["target_tick"], progress=False)
    expected = whole.events_path.read_bytes()
    assert len(expected) > 60_000

    cfg = _config(tmp_path, small_town)
    save = tmp_path / "killed"
    proc = subprocess.Popen([*CLI, "run", "--headless", "--config", str(cfg), "--hours", str(hours),
                             "--save", str(save), "--no-progress", "--speed", "2000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events = save / "events.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if events.exists() and events.stat().st_size >= kill_after_bytes:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(events.read_bytes()) < len(expected)
    _cli("resume", str(save), "--no-progress")
    assert events.read_bytes() == expected


def test_bench_world_prints_every_figure() -> None:
    figures = json.loads(_cli("bench", "world", "--quick", "--json").stdout)
    for key in ("path_ms_median", "tick_ms_25", "tick_ms_1000", "day_mb_25", "read_events_per_s"):
        assert isinstance(figures[key], int | float) and figures[key] > 0, key
    assert figures["day_events_25"] > 1000
