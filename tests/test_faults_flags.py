"""Odd flags get one line naming the flag, exit 2, and make nothing (no half-made save)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "smallville.cli"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize(("flag", "value"), [
    ("--hours", "nan"), ("--hours", "inf"), ("--hours", "-1"), ("--hours", "0"), ("--hours", "lots"),
    ("--hours", "1e308"),
    ("--speed", "nan"), ("--speed", "-5"), ("--speed", "0"), ("--seed", "-1"), ("--seed", "1.5"),
])
def test_run_refuses_odd_numbers(tmp_path: Path, flag: str, value: str) -> None:
    save = tmp_path / "save"
    done = _cli("run", "--headless", "--mind", "routine", flag, value, "--save", str(save), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"argument {flag}" in done.stderr and value in done.stderr
    assert not save.exists() and not (tmp_path / "saves").exists()


@pytest.mark.parametrize(("args"), [
    ["eval", "diffusion", "--days", "nan"], ["eval", "diffusion", "--days", "-2"],
    ["eval", "diffusion", "--seeds", "0"], ["eval", "diffusion", "--parallel", "-1"],
    ["resume", "somewhere", "--hours", "inf"], ["resume", "somewhere", "--hours", "1e308"],
    ["replay", "somewhere", "--at", "nan"], ["replay", "somewhere", "--at", "1e308"],
])
def test_other_commands_refuse_odd_numbers(tmp_path: Path, args: list[str]) -> None:
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error" in done.stderr


def test_replay_at_is_checked(tmp_path: Path) -> None:
    for at in ("nan", "-3", "7:75", "x:10", "1e308", "99999999:00"):  # refused before the (missing) save is opened
        done = _cli("replay", str(tmp_path / "missing"), "--at", at, cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr and "--at" in done.stderr


def test_save_naming_a_file_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    done = _cli("run", "--headless", "--mind", "routine", "--hours", "1", "--save", str(target), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "names a file" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert target.read_text() == "mine\n"


def test_save_under_a_file_or_where_folders_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for target in (tmp_path / "afile" / "sub", Path("/proc/smallville-save")):
        done = _cli("run", "--headless", "--mind", "routine", "--hours", "1", "--save", str(target), cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_a_save_killed_while_being_made_can_be_started_again(tmp_path: Path) -> None:
    skeleton = tmp_path / "save"
    (skeleton / "checkpoints").mkdir(parents=True)
    (skeleton / "events.jsonl").touch()  # what a run killed before its manifest leaves
    refused = _cli("resume", str(skeleton), "--headless", cwd=tmp_path)
    assert refused.returncode == 2 and "never started" in refused.stderr
    done = _cli("run", "--headless", "--mind", "routine", "--hours", "1", "--save", str(skeleton), "--no-progress",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
