"""A run whose model server never answers usefully says so and stops: exit 2, one line naming the endpoint, no
"saved", and the save left resumable. Six bad servers: refused, hanging, 500, garbage, an unknown model, and
10 MB answers."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from smallville.persist.save import Save
from smallville.testing.fake_server import FakeServer

CLI = [sys.executable, "-m", "smallville.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path, small_town: tuple[Path, Path], port: int, model: str = "fake-model") -> Path:
    tmx, residents = small_town
    cfg = tmp_path / "smallville.toml"
    cfg.write_text(f'''[sim]
seed = 5
[town]
map = "{tmx}"
residents = "{residents}"
[agents]
mind = "generative"
[inference]
retries = 1
backoff_s = 0.05
backoff_max_s = 0.1
[[inference.endpoints]]
name = "bad-gpu"
base_url = "http://127.0.0.1:{port}/v1"
model = "{model}"
timeout_s = 0.5
[inference.embedding]
base_url = "http://127.0.0.1:{port}/v1"
model = "fake-model"
dim = 8
timeout_s = 0.5
''')
    return cfg


def _run(cfg: Path, save: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "run", "--headless", "--config", str(cfg), "--hours", "12", "--save", str(save),
                           "--no-progress"], capture_output=True, text=True, timeout=300)


def _assert_stopped_naming_the_endpoint(done: subprocess.CompletedProcess[str], save: Path) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "saved" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "bad-gpu" in last, done.stderr
    assert Save.open(save).checkpoint_ticks(), "the save keeps a checkpoint to resume from"


@pytest.mark.parametrize("behaviour", ["hang", "500", "garbage", "huge:10", "404"])
def test_a_server_that_never_answers_stops_the_run(tmp_path: Path, small_town: tuple[Path, Path],
                                                  behaviour: str) -> None:
    with FakeServer() as server:
        server.set_default(behaviour)
        save = tmp_path / "save"
        # embeddings must work for the run to get as far as thinking: only chat answers are broken
        done = _run(_config(tmp_path, small_town, server.port), save)
    _assert_stopped_naming_the_endpoint(done, save)


def test_a_refused_port_stops_the_run(tmp_path: Path, small_town: tuple[Path, Path]) -> None:
    with FakeServer() as embedder:  # embeddings answer; chat goes to a port nobody listens on
        cfg = _config(tmp_path, small_town, _free_port())
        text = cfg.read_text().replace(
            '[inference.embedding]\nbase_url = "http://127.0.0.1:',
            f'[inference.embedding]\nbase_url = "http://127.0.0.1:{embedder.port}/v1"\n#', 1)
        cfg.write_text(text)
        save = tmp_path / "save"
        done = _run(cfg, save)
    _assert_stopped_naming_the_endpoint(done, save)


def test_a_model_the_server_does_not_serve_stops_at_once(tmp_path: Path, small_town: tuple[Path, Path]) -> None:
    with FakeServer() as server:
        save = tmp_path / "save"
        done = _run(_config(tmp_path, small_town, server.port, model="no-such-model"), save)
        requests = server.requests
    _assert_stopped_naming_the_endpoint(done, save)
    assert "no-such-model" in done.stderr
    assert requests < 20, "a missing model is not retried call after call"
