"""Stopping a run, however the stop comes: each path ends with a checkpoint at the tick it stopped at, and
resume from there gives the bytes an uninterrupted run gives."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smallville.persist.save import Save

CLI = [sys.executable, "-m", "smallville.cli"]


def _config(tmp_path: Path, small_town: tuple[Path, Path]) -> Path:
    cfg = tmp_path / "smallville.toml"
    cfg.write_text(f'[sim]\nseed = 3\n[town]\nmap = "{small_town[0]}"\nresidents = "{small_town[1]}"\n'
                   '[agents]\nmind = "routine"\n')
    return cfg


def _stop_midway(args: list[str], after_s: float, sig: int = signal.SIGINT,
                 env: dict[str, str] | None = None, presses: int = 1) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(after_s)
    for _ in range(presses):
        proc.send_signal(sig)
        time.sleep(0.2)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_a_stop_in_the_pacers_nap_checkpoints_the_tick_it_names(tmp_path: Path,
                                                                small_town: tuple[Path, Path]) -> None:
    """--speed keeps the loop asleep most of the time, so the signal lands in the pacer's nap (where it used to
    leave the loop with no checkpoint, though it printed 'stopped at tick N')."""
    cfg = _config(tmp_path, small_town)
    reference = tmp_path / "whole"
    subprocess.run([*CLI, "run", "--headless", "--config", str(cfg), "--hours", "3", "--save", str(reference),
                    "--no-progress"], check=True, capture_output=True, timeout=120)
    for sig in (signal.SIGINT, signal.SIGTERM):
        save = tmp_path / f"stopped-{sig}"
        done = _stop_midway(["run", "--headless", "--config", str(cfg), "--hours", "3", "--save", str(save),
                             "--no-progress", "--speed", "20"], after_s=3.0, sig=sig)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "stopping at" in done.stderr  # answered at once, not in silence
        stopped = int(re.search(r"stopped at tick (\d+)", done.stdout).group(1))  # type: ignore[union-attr]
        assert 0 < stopped < 3 * 360
        assert Save.open(save).checkpoint_ticks()[-1] == stopped
        resumed = subprocess.run([*CLI, "resume", str(save), "--no-progress"], capture_output=True, text=True,
                                 timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        assert f"(tick {stopped})" in resumed.stdout  # went on from the stop tick, nothing simulated twice
        assert (save / "events.jsonl").read_bytes() == (reference / "events.jsonl").read_bytes()


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_in_the_window_stops_like_closing_it(tmp_path: Path, presses: int) -> None:
    """The first Ctrl-C in a live window is answered at once and ends as closing the window does: a checkpoint
    at the tick reached, exit 0, and a resume that gives an uninterrupted run's bytes (it used to exit 130
    with the work since the last hourly checkpoint lost)."""
    town = ["--mind", "routine", "--seed", "3", "--hours", "3"]  # the Ville: its map can be drawn
    reference = tmp_path / "whole"
    subprocess.run([*CLI, "run", "--headless", *town, "--save", str(reference), "--no-progress"], check=True,
                   capture_output=True, timeout=120)
    save = tmp_path / "window"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    # a second press cancels the thoughts under way (none here: routine minds) but still checkpoints
    done = _stop_midway(["run", *town, "--save", str(save), "--speed", "20"], after_s=5.0, env=env, presses=presses)
    assert done.returncode == 0, done.stderr
    assert "stopping:" in done.stderr and "Traceback" not in done.stderr
    stopped = int(re.search(r"stopped at tick (\d+)", done.stdout).group(1))  # type: ignore[union-attr]
    assert 0 < stopped < 3 * 360 and Save.open(save).checkpoint_ticks()[-1] == stopped
    resumed = subprocess.run([*CLI, "resume", str(save), "--headless", "--no-progress"], capture_output=True,
                             text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert (save / "events.jsonl").read_bytes() == (reference / "events.jsonl").read_bytes()
