"""The scale-out through the real command: `smallville game guess --workers 2` starts Ray on this machine and leaves no
Ray process behind, neither when it ends nor after Ctrl-C (and the game then resumes from its save); a cluster
address that does not answer is one line within seconds; without Ray, asking for workers is one line naming
`pip install ray`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from games_kit import config, run_cli, sha

from smallville.games import standin
from smallville.testing.fake_server import FakeServerProcess

pytest.importorskip("ray")

MAIN = [sys.executable, "-m", "smallville.cli"]
PLAYERS = 300


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServerProcess]:
    fake = FakeServerProcess(latency_s=0.05, answers=standin.answer).start()
    yield fake
    fake.stop()


def _marked(mark: str) -> list[str]:
    """The processes carrying this test's mark in their environment (the command and every process it started,
    Ray's own included: they inherit it), as 'pid command'."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"SMALLVILLE_TEST_MARK={mark}".encode() not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")[:100]
            found.append(f"{pid} {command}")
        except OSError:
            continue
    return found


def _none_left(mark: str, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while (left := _marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"left behind: {left}"


def _game(tmp_path: Path, port: int) -> Path:
    return config(tmp_path / "game.toml", {"variant": "P1", "agents": PLAYERS, "rounds": 2, "concurrency": 16},
                  port=port)


def _start(args: list[str], mark: str, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    """`sigint_ignored`: started as a script's background job is (SIGINT inherited as ignored)."""
    env = {**os.environ, "SMALLVILLE_TEST_MARK": mark}

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen([*MAIN, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ignore_sigint if sigint_ignored else None)


def _ray_seen(proc: subprocess.Popen[str], mark: str) -> bool:
    """Wait while the command runs until Ray's processes (raylet, group actors) carry the mark."""
    while proc.poll() is None:
        running = _marked(mark)
        if any("raylet" in p for p in running) and any("ray::GroupActor" in p for p in running):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def on_workers(tmp_path_factory: pytest.TempPathFactory, server: FakeServerProcess) -> tuple[Path, Path, str, str]:
    """A game played to its end on 2 workers: (its config, its study, its output, the processes' mark)."""
    root = tmp_path_factory.mktemp("workers")
    cfg, out, mark = _game(root, server.port), root / "whole", uuid.uuid4().hex
    proc = _start(["game", "guess", "--config", str(cfg), "--out", str(out), "--workers", "2", "--no-progress"], mark)
    assert _ray_seen(proc, mark), "the check must see Ray's processes while the command runs"
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    return cfg, out, stdout, mark


def test_a_command_on_workers_leaves_no_ray_process_when_it_ends(on_workers: tuple[Path, Path, str, str]) -> None:
    _, _, stdout, mark = on_workers
    assert "workers: 2 group actor(s) on a local Ray instance" in stdout
    _none_left(mark)


def test_ctrl_c_stops_the_workers_leaves_no_ray_process_and_the_game_resumes(
        tmp_path: Path, on_workers: tuple[Path, Path, str, str]) -> None:
    _, whole, _, _ = on_workers
    mark = uuid.uuid4().hex
    out = tmp_path / "stopped"
    # The same answers, slower: against the module's 50 ms server the whole game takes about a second, and
    # it could end before the Ctrl-C was acted on (exit 0, a failed test that says nothing of the stop).
    with FakeServerProcess(latency_s=0.5, answers=standin.answer) as slow:
        cfg = _game(tmp_path, slow.port)
        # started as a script's background job: the Ctrl-C a supervisor sends must stop it all the same
        proc = _start(["game", "guess", "--config", str(cfg), "--out", str(out), "--workers", "2", "--no-progress"],
                      mark, sigint_ignored=True)
        calls = out / "seed-0" / "calls.jsonl"
        deadline = time.monotonic() + 90
        while not (calls.exists() and calls.read_bytes().count(b"\n") >= PLAYERS // 10):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)  # to the command alone, as a supervisor would
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert f"stopped; continue with: smallville game resume {out}" in stderr
        _none_left(mark)
        # the save goes on, here in one process, to the bytes of the game never stopped
        done = run_cli("game", "resume", str(out), "--workers", "1", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert sha(out / "seed-0" / "answers.jsonl") == sha(whole / "seed-0" / "answers.jsonl")


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith(("WARNING ", "INFO "))]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_a_cluster_address_that_does_not_answer_is_one_line_within_seconds(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        refused = free.getsockname()[1]  # closed again below: nothing listens there
    # an endpoint that is never asked: the cluster is what fails first
    cfg = config(tmp_path / "game.toml", {"variant": "P1", "agents": 10}, port=refused)
    started = time.monotonic()
    line = _one_line(run_cli("game", "guess", "--config", str(cfg), "--out", str(tmp_path / "a"), "--workers", "2",
                             "--ray-address", f"127.0.0.1:{refused}"))
    assert time.monotonic() - started < 15
    assert f"the Ray cluster at 127.0.0.1:{refused} does not answer" in line, line
    # a port that accepts and never speaks (a hung head node): the probe's deadline, from the config's [scale]
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        cfg.write_text(cfg.read_text() + f'[scale]\nworkers = 2\naddress = "127.0.0.1:{port}"\n'
                                          "connect_timeout_s = 3\n")
        started = time.monotonic()
        line = _one_line(run_cli("game", "guess", "--config", str(cfg), "--out", str(tmp_path / "b")))
        assert time.monotonic() - started < 15
    assert f"the Ray cluster at 127.0.0.1:{port} did not answer within 3 s" in line, line


def test_without_ray_workers_are_one_line_naming_pip_install_ray(tmp_path: Path) -> None:
    hidden = tmp_path / "no-ray" / "ray"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('ray is not installed here')\n")
    cfg = config(tmp_path / "game.toml", {"variant": "P1", "agents": 10}, port=1)
    line = _one_line(run_cli("game", "guess", "--config", str(cfg), "--out", str(tmp_path / "a"), "--workers", "2",
                             env={"PYTHONPATH": str(hidden.parent)}))
    assert "pip install ray" in line and "--workers 1" in line, line
    assert not (tmp_path / "a").exists()  # refused before anything was made
