"""Faults around a save: two writers at once, a writer killed while it holds the save, a read-only save, and a
log cut back before its newest checkpoint (which inspect, eval and resume all see). Real `smallville`
processes on real saves; the refused one must leave every byte as it was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from agents_kit import agent_settings, run
from mapkit import write_town

from smallville.cli import main
from smallville.config import Settings
from smallville.errors import SaveError
from smallville.eval.diffusion import open_save
from smallville.inspect import render, summarize
from smallville.persist.save import Save
from smallville.run import drive, new_run, open_for_resume
from smallville.testing.scripted import ScriptedModel

CLI = [sys.executable, "-m", "smallville.cli"]


def _made(root: Path, settings: Settings, hours: float) -> Save:
    """A finished run of `hours`, let go (as the process that made it would on exit)."""
    save, sim = new_run(root, settings, hours)
    drive(save, sim, save.manifest["target_tick"], progress=False)
    save.release_lock()
    return save


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _writer(save: Path, hours: float, speed: float) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, "resume", str(save), "--hours", str(hours), "--speed", str(speed), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _holder(save: Path, proc: subprocess.Popen[str], timeout_s: float = 60) -> dict[str, Any]:
    """The lock record once `proc` holds the save."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the writer ended early: {proc.communicate()}"
        try:
            holder = json.loads((save / "lock").read_text())
            if holder.get("pid") == proc.pid:
                return holder
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.005)
    raise AssertionError("the writer never took the save's lock")


def _whole_log(tmp_path: Path, settings: Settings, hours: float) -> bytes:
    return _made(tmp_path / "whole", settings, hours).events_path.read_bytes()


def test_a_second_writer_is_refused_naming_the_first_and_changes_nothing(tmp_path: Path,
                                                                         small_settings: Settings) -> None:
    save = _made(tmp_path / "save", small_settings, 2).root
    first = _writer(save, 6, speed=120)
    try:
        holder = _holder(save, first)
        os.kill(first.pid, signal.SIGSTOP)  # hold the first still: every byte it wrote stays as it is
        before = _digest(save)
        second = subprocess.run([*CLI, "resume", str(save), "--no-progress"], capture_output=True, text=True,
                                timeout=120)
        after = _digest(save)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 2, second.stderr
    line = second.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: {save}: in use by another smallville (pid {first.pid} on ")
    assert "wait for it or stop it" in line and "Traceback" not in second.stderr
    assert holder["host"] and isinstance(holder["since"], float)
    assert after == before and "lock" in after  # the refused writer changed nothing, the lock file included
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert not (save / "lock").exists()  # the writer let go
    assert (save / "events.jsonl").read_bytes() == _whole_log(tmp_path, small_settings, 8)


def test_a_killed_writer_leaves_the_lock_to_the_next(tmp_path: Path, small_settings: Settings) -> None:
    save = _made(tmp_path / "save", small_settings, 2).root
    made = (save / "events.jsonl").stat().st_size
    killed = _writer(save, 6, speed=30)  # 12 s if left alone
    _holder(save, killed)
    deadline = time.monotonic() + 60
    while (save / "events.jsonl").stat().st_size <= made:  # into its drive (its target is set by then)
        assert time.monotonic() < deadline and killed.poll() is None, "the writer did not get going"
        time.sleep(0.005)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    stale = json.loads((save / "lock").read_text())
    assert stale["pid"] == killed.pid  # the file stays; the kernel dropped the lock with the process
    nxt = subprocess.run([*CLI, "resume", str(save), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert nxt.returncode == 0, nxt.stderr
    assert not (save / "lock").exists()
    assert (save / "events.jsonl").read_bytes() == _whole_log(tmp_path, small_settings, 8)


def test_a_writer_in_this_process_holds_the_save_until_it_lets_go(tmp_path: Path, small_settings: Settings) -> None:
    save, _ = new_run(tmp_path / "run", small_settings, 1)
    assert json.loads((save.root / "lock").read_text())["pid"] == os.getpid()
    with pytest.raises(SaveError, match=rf"in use by this process .*pid {os.getpid()}"):
        open_for_resume(save.root)
    assert (save.root / "lock").exists()  # the refusal did not take the holder's file away
    save.release_lock()
    assert not (save.root / "lock").exists()
    resumed, _, _ = open_for_resume(save.root)
    resumed.release_lock()


def _without_root_override() -> None:
    """In the child, before exec: give up CAP_DAC_OVERRIDE (for good: dropped from the bounding set), so
    that root meets file modes like anyone else. chmod alone stops nothing for root."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(24, 1, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_DAC_OVERRIDE
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


@pytest.mark.parametrize("read_only", ["folder", "log"])
def test_a_read_only_save_is_refused_in_one_line(tmp_path: Path, small_settings: Settings, read_only: str) -> None:
    save = _made(tmp_path / "save", small_settings, 1).root
    with (save / "events.jsonl").open("ab") as f:
        f.write(b'{"k":"walk","t":360,"who":"Ada Lov')  # a torn tail: resume would cut it first
    for p in save.rglob("*"):
        p.chmod(0o444 if p.is_file() else 0o555)
    save.chmod(0o555 if read_only == "folder" else 0o755)  # "log": the lock can be taken, the log not written
    before = _digest(save)
    try:
        done = subprocess.run([*CLI, "resume", str(save), "--no-progress"], capture_output=True, text=True,
                              timeout=120, preexec_fn=_without_root_override if os.geteuid() == 0 else None)
    except subprocess.SubprocessError:  # the preexec_fn failed: this root may not give up its override
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here, and root writes through any mode")
    finally:
        for p in [save, *save.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    # the first part a run writes that cannot be written is named (the folder, else the manifest)
    where = save if read_only == "folder" else save / "manifest.json"
    assert "\n" not in line and line.startswith(f"error: {where}: read-only") and "nothing was changed" in line
    assert _digest(save) == before and not (save / "lock").exists()


# -- a log cut back before its newest checkpoint ----------------------------------------------------------------


@pytest.fixture(scope="module")
def generative_save(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from smallville.inference.embed import LocalEmbedder

    root = tmp_path_factory.mktemp("gen")
    settings = agent_settings(write_town(root / "town"))
    run(settings, root / "run", 4, lm=ScriptedModel(), embedder=LocalEmbedder())
    return root / "run"


def test_inspect_eval_and_resume_see_a_log_cut_back_before_its_checkpoint(generative_save: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    save = tmp_path / "cut"
    shutil.copytree(generative_save, save)
    ticks = Save.open(save).checkpoint_ticks()
    last = Save.open(save).read_checkpoint(ticks[-1])
    earlier = Save.open(save).read_checkpoint(ticks[-3])
    with (save / "events.jsonl").open("r+b") as f:
        f.truncate(earlier["log_bytes"])  # the log of two hours ago, beside today's checkpoints
    expects, has = last["log_bytes"], earlier["log_bytes"]
    before = _digest(save)

    summary = summarize(Save.open(save))
    assert summary["problems"] == [f"{save / 'events.jsonl'}: the checkpoint at tick {ticks[-1]} expects {expects} "
                                   f"bytes of events, the log has {has}: it was cut back or lost its end"]
    assert not summary["complete"]
    text = render(summary)
    assert f"warning     {save / 'events.jsonl'}: the checkpoint at tick {ticks[-1]} expects {expects}" in text
    assert main(["inspect", str(save), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["problems"] == summary["problems"]

    with pytest.raises(SaveError, match=rf"expects {expects} bytes of events, the log has {has}"):
        open_save(save)
    assert main(["eval", "diffusion", "--save", str(save), "--no-interviews", "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {save / 'events.jsonl'}: the checkpoint at tick {ticks[-1]} expects {expects} bytes of "
                   f"events, the log has {has}: it was cut back or lost its end; not evaluated (its figures would be "
                   "wrong)")

    with pytest.raises(SaveError, match=rf"expects {expects} bytes of events, the log has {has}.*not resumed"):
        open_for_resume(save)
    assert _digest(save) == before
    # the whole save: no problem to report
    assert summarize(Save.open(generative_save))["problems"] == []


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_lock_that_is_not_a_plain_file_is_refused_and_nothing_is_written(tmp_path: Path, small_settings: Settings,
                                                                          kind: str) -> None:
    save = _made(tmp_path / "save", small_settings, 1).root
    precious = tmp_path / "precious.txt"
    precious.write_text("mine\n")
    if kind == "symlink":  # a save from someone else must not make us write into a file of ours
        (save / "lock").symlink_to(precious)
    else:
        os.mkfifo(save / "lock")
    before = _digest(save)
    done = subprocess.run([*CLI, "resume", str(save), "--no-progress"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "lock" in done.stderr
    assert precious.read_text() == "mine\n" and _digest(save) == before
