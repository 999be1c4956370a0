"""The monitor's API on real saves: finished, corrupt, half-made, dead and unknown runs; its guards (loopback,
token, Host, read-only); and no key of a run reaching it."""

from __future__ import annotations

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
from monitor_kit import free_port, get, get_json, monitor, row

from smallville.config import Settings
from smallville.monitor import readers
from smallville.monitor.command import check_listen
from smallville.monitor.files import Found, JsonCache
from smallville.run import drive, new_run

CLI = [sys.executable, "-m", "smallville.cli"]
ROOT = Path(__file__).resolve().parent.parent


def _finished(saves: Path, settings: Settings, name: str = "done", hours: float = 2) -> Path:
    save, sim = new_run(saves / name, settings, hours)
    drive(save, sim, save.manifest["target_tick"], progress=False)
    return save.root


def test_a_finished_save_through_the_api(tmp_path: Path, small_settings: Settings) -> None:
    saves = tmp_path / "saves"
    root = _finished(saves, small_settings)
    status = json.loads((root / "status.json").read_text())
    assert status["state"] == "finished" and status["progress"]["tick"] == status["progress"]["until_tick"] == 720
    with monitor(saves) as url:
        runs = get_json(f"{url}/api/runs")
        done = row(runs, "done")
        assert done["state"] == "finished" and done["progress"] == 1.0 and done["kind"] == "town"
        assert done["game_time"] == "Mon 13 Feb 2023 02:00" and done["residents"] == 2
        detail = get_json(f"{url}/api/runs/done")
        cards = {c["key"]: c for b in detail["blocks"] if b["type"] == "cards" for c in b["items"]}
        assert cards["game_time"]["value"] == "02:00" and cards["progress"]["value"] == 1.0
        assert {b["type"] for b in detail["blocks"]} >= {"cards", "kv"}
        assert get(f"{url}/api/runs/nothing")[0] == 404
        for escape in ("..", "../..", "done/../..", "%2e%2e/%2e%2e/etc"):
            assert get(f"{url}/api/runs/{escape}")[0] == 404
        page = get(url + "/")
        assert page[0] == 200 and b"/static/monitor.js" in page[2]
        assert "script-src 'self'" in page[1]["content-security-policy"]
        for name in ("monitor.js", "monitor.css", "favicon.svg"):
            assert get(f"{url}/static/{name}")[0] == 200
        assert get(f"{url}/static/../app.py")[0] == 404


def test_corrupt_and_half_made_folders_are_rows_with_their_reason(tmp_path: Path, small_settings: Settings) -> None:
    saves = tmp_path / "saves"
    _finished(saves, small_settings)
    (saves / "torn").mkdir()
    (saves / "torn" / "manifest.json").write_text('{"format": "smallville-save", "sche')
    (saves / "listy").mkdir()
    (saves / "listy" / "manifest.json").write_text("[1, 2]")
    (saves / "skeleton" / "checkpoints").mkdir(parents=True)  # killed while its save was being made
    (saves / "skeleton" / "events.jsonl").touch()
    (saves / "skeleton" / "lock").write_text("")
    garbled = _finished(saves, small_settings, "garbled-status")
    (garbled / "status.json").write_bytes(b"\x00\xff not json")
    (saves / "notes").mkdir()  # not a run: left alone
    (saves / "notes" / "todo.txt").write_text("x")
    with monitor(saves) as url:
        runs = get_json(f"{url}/api/runs")
        assert {r["id"] for r in runs["runs"]} == {"done", "torn", "listy", "skeleton", "garbled-status"}
        torn = row(runs, "torn")
        assert torn["state"] == "corrupt" and "manifest.json: not valid JSON" in torn["why"]
        assert row(runs, "listy")["state"] == "corrupt" and "not a JSON object" in row(runs, "listy")["why"]
        skeleton = row(runs, "skeleton")
        assert skeleton["state"] == "corrupt" and "while its save was being made" in skeleton["why"]
        bad = row(runs, "garbled-status")
        assert bad["state"] == "finished" and bad["health"]["level"] == "warn"
        assert "status.json" in bad["health"]["text"]
        detail = get_json(f"{url}/api/runs/torn")
        assert detail["state"] == "corrupt" and detail["blocks"][0]["tone"] == "bad"
        assert get_json(f"{url}/api/health")["ok"]


def _writer(save: Path) -> subprocess.Popen[str]:
    """A resume that goes on for a while (slowly), holding the save's lock."""
    return subprocess.Popen([*CLI, "resume", str(save), "--hours", "6", "--speed", "60", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(check: Any, timeout_s: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_run_that_dies_shows_as_stopped_by_its_death(tmp_path: Path, small_settings: Settings) -> None:
    saves = tmp_path / "saves"
    root = _finished(saves, small_settings, "victim", hours=1)
    proc = _writer(root)
    try:
        with monitor(saves) as url:
            _wait_for(lambda: _status_pid(root) == proc.pid, what="the writer's first status")
            time.sleep(1.5)  # a second sample: rates and the time left
            running = row(get_json(f"{url}/api/runs"), "victim")
            assert running["state"] == "running" and running["status_age"] < 5
            assert running["eta_s"] is not None and running["pace"] and running["health"]["level"] == "ok"
            assert running["why"].startswith(f"pid {proc.pid}")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            dead = _wait_for(lambda: (r := row(get_json(f"{url}/api/runs"), "victim"))["state"] != "running" and r,
                             what="the dead run")
            assert dead["state"] == "crashed" and dead["health"]["level"] == "bad"
            assert "died" in dead["why"] and "smallville resume" in dead["why"] and dead["eta_s"] is None
            assert (root / "lock").exists()  # the monitor only looked: the lock file is as the dead writer left it
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def _status_pid(save: Path) -> int | None:
    try:
        return int(json.loads((save / "status.json").read_text())["process"]["pid"])
    except (OSError, ValueError, KeyError):
        return None


def test_the_monitor_never_takes_the_lock_a_resume_needs(tmp_path: Path, small_settings: Settings) -> None:
    saves = tmp_path / "saves"
    root = _finished(saves, small_settings, "busy", hours=1)
    with monitor(saves) as url:
        for _ in range(30):  # looks while a writer takes the save: never refused because of the monitor
            get_json(f"{url}/api/runs/busy")
        done = subprocess.run([*CLI, "resume", str(root), "--hours", "1", "--no-progress"], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_listens_on_loopback_by_default_and_refuses_more_without_a_token(tmp_path: Path) -> None:
    from smallville.cli import build_parser

    args = build_parser().parse_args(["monitor"])
    assert args.host == "127.0.0.1" and args.port == 8765 and args.token is None
    port = free_port()
    proc = subprocess.Popen([*CLI, "monitor", "--saves", str(tmp_path), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith(f"monitor: http://127.0.0.1:{port}/"), line
        listening = _wait_for(lambda: [ln.split()[1] for ln in Path("/proc/net/tcp").read_text().splitlines()[1:]
                                       if ln.split()[3] == "0A" and ln.split()[1].endswith(f":{port:04X}")],
                              what="the listening socket")
        assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1 and nothing else
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    for host in ("0.0.0.0", "10.1.2.3", "::"):
        done = subprocess.run([*CLI, "monitor", "--host", host, "--port", str(free_port())], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "SMALLVILLE_MONITOR_TOKEN": ""})
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "needs --token" in done.stderr, done.stderr
    with pytest.raises(Exception, match="at least 16 characters"):
        check_listen("0.0.0.0", "short")
    assert check_listen("0.0.0.0", "a-token-long-enough-1") == "a-token-long-enough-1"


@pytest.mark.parametrize("argv", [["--port", "x"], ["--port", "70000"], ["--port", "0"], ["--saves", "/no/such/dir"],
                                  ["--token", "has spaces in it, and more"], ["--host", "bad host!"]])
def test_bad_flags_are_one_line(tmp_path: Path, argv: list[str]) -> None:
    for command in ([*CLI, "monitor"], [sys.executable, "-m", "smallville.monitor"]):
        done = subprocess.run([*command, *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and "error" in done.stderr


def test_the_token_is_checked_on_every_request(tmp_path: Path, small_settings: Settings) -> None:
    saves = tmp_path / "saves"
    _finished(saves, small_settings)
    token = "t0ken-for-the-monitor-test"
    with monitor(saves, token=token) as url:
        for path in ("/", "/api/runs", "/api/runs/done", "/static/monitor.js", "/api/stream"):
            assert get(url + path)[0] == 401
            assert get(url + path, headers={"Authorization": "Bearer " + token[:-1] + "X"})[0] == 401
            assert get(url + path + "?token=" + token[:-1])[0] == 401
            assert get(url + path, headers={"Cookie": "smallville_monitor=wrong"})[0] == 401
        assert get_json(f"{url}/api/runs", headers={"Authorization": f"Bearer {token}"})["runs"]
        status, headers, body = get(f"{url}/?token={token}")
        assert status == 200 and "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
        assert token.encode() not in body  # the page never shows it
        assert get(f"{url}/api/runs", headers={"Cookie": f"smallville_monitor={token}"})[0] == 200
        assert get(f"{url}/api/runs", headers={"Host": "example.com", "Authorization": f"Bearer {token}"})[0] == 200


def test_read_only_and_loopback_names_only(tmp_path: Path, small_settings: Settings) -> None:
    saves = tmp_path / "saves"
    _finished(saves, small_settings)
    before = sorted(p.name for p in (saves / "done").iterdir())
    with monitor(saves) as url:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert get(f"{url}/api/runs/done", method=method)[0] == 405
        # a page elsewhere that rebinds its name to 127.0.0.1 is told no
        assert get(f"{url}/api/runs", headers={"Host": "attacker.example:8765"})[0] == 421
        assert get(f"{url}/api/runs", headers={"Host": "localhost:8765"})[0] == 200
        headers = get(f"{url}/api/runs")[1]
        assert headers["x-frame-options"] == "DENY" and "access-control-allow-origin" not in headers
    assert sorted(p.name for p in (saves / "done").iterdir()) == before


def test_no_key_reaches_the_status_or_the_api(tmp_path: Path, small_town: tuple[Path, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose key is in the environment and another in its URL's query: neither in its files, nor in
    anything the monitor sends, even when the monitor does not know them (no scrubbing to hide behind)."""
    from agents_kit import agent_settings
    from inference_kit import SECRET, settings_for

    from smallville.inference.embed import LocalEmbedder
    from smallville.testing import scripted
    from smallville.testing.fake_server import FakeServer

    in_query = "QUERY-SECRET-7d1e0c55aa"
    monkeypatch.setenv("SMALLVILLE_TEST_API_KEY", SECRET)
    with FakeServer(answers=scripted.answer, api_key=SECRET) as server:
        inference = settings_for(server, names=("gpu-1",), api_key_env="SMALLVILLE_TEST_API_KEY")
        keyed = inference.endpoints[0].model_copy(update={"base_url": f"{server.base_url}?api-key={in_query}"})
        settings = agent_settings(small_town, inference.model_copy(update={"endpoints": [keyed]}))
        saves = tmp_path / "saves"
        save, sim = new_run(saves / "keyed", settings, 3)
        drive(save, sim, save.manifest["target_tick"], progress=False, embedder=LocalEmbedder(),
              inference=settings.inference)  # the real URL, as the CLI passes it (the save holds it masked)
        assert server.requests > 0 and in_query in server.stats()["recent_queries"][-1]
    status = json.loads((saves / "keyed" / "status.json").read_text())
    assert status["calls"]["calls"] > 0 and status["endpoints"][0]["url"].endswith("?api-key=***")
    for path in (saves / "keyed").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and in_query.encode() not in data, path
    monkeypatch.delenv("SMALLVILLE_TEST_API_KEY")  # the monitor knows no key: nothing to scrub
    with monitor(saves) as url:
        sent = b"".join(get(url + p)[2] for p in ("/api/runs", "/api/runs/keyed", "/", "/static/monitor.js"))
        sent += _stream_once(url, "keyed")
    assert b"gpu-1" in sent and b"api-key=***" in sent
    assert SECRET.encode() not in sent and in_query.encode() not in sent


def test_keys_in_the_environment_are_scrubbed_from_whatever_a_reader_says(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Belt and braces: an unknown kind's manifest carrying a raw key (a writer's bug) still shows masked."""
    saves = tmp_path / "saves"
    (saves / "odd").mkdir(parents=True)
    key = "sk-live-0123456789abcdef"
    (saves / "odd" / "manifest.json").write_text(json.dumps({"kind": "widget", "note": f"key is {key}",
                                                             "api_key": "whatever-it-is", "url": "http://h/v1?k=zzzzzz"}))
    monkeypatch.setenv("SOME_SERVICE_API_KEY", key)
    with monitor(saves) as url:
        sent = get(f"{url}/api/runs/odd")[2] + get(f"{url}/api/runs")[2]
    assert key.encode() not in sent and b"whatever-it-is" not in sent and b"zzzzzz" not in sent
    assert b"key is ***" in sent and b"http://h/v1?k=***" in sent


def _stream_once(url: str, run: str) -> bytes:
    """The first event of the stream for `run`."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/api/stream?run={run}", timeout=20) as response:
        out = b""
        while b"\n\n" not in out.replace(b"\r\n", b"\n"):  # an event ends with a blank line
            chunk = response.read1(65536)
            assert chunk, "the stream ended"
            out += chunk
        return out


def test_kinds_are_pluggable_and_unknown_kinds_shown_generically(tmp_path: Path, small_settings: Settings) -> None:
    saves = tmp_path / "saves"
    (saves / "g1" / "seed-0").mkdir(parents=True)
    (saves / "g1" / "study.json").write_text(json.dumps({"format": "smallville-widget-study", "game": "guess"}))
    (saves / "g1" / "seed-0" / "manifest.json").write_text(json.dumps({"format": "smallville-widget", "complete": True,
                                                                       "players": 100}))
    cache = JsonCache()
    found = readers.identify(saves / "g1", saves, cache)
    assert found is not None and found.kind == "widget-study"
    assert readers.identify(saves / "g1" / "seed-0", saves, cache).kind == "widget"  # type: ignore[union-attr]
    with monitor(saves) as url:
        generic = get_json(f"{url}/api/runs/g1")
        assert generic["kind"] == "widget-study" and generic["state"] == "stopped"
        inside = next(b for b in generic["blocks"] if b.get("key") == "children")
        assert inside["rows"][0]["link"] == "g1/seed-0" and inside["rows"][0]["state"] == "finished"

    class WidgetReader:
        kind = "widget-study"

        def row(self, found: Found, ctx: readers.Context) -> dict[str, Any]:
            return {**readers.base_row(found, "widgets"), "state": "finished", "progress": 1.0}

        def detail(self, found: Found, ctx: readers.Context) -> dict[str, Any]:
            return {**self.row(found, ctx), "blocks": [readers.bars("Answers, round 3", [("0-10", 40), ("10-20", 7)])]}

    readers.register(WidgetReader())
    try:
        with monitor(saves) as url:
            assert row(get_json(f"{url}/api/runs"), "g1")["kind_label"] == "widgets"
            assert get_json(f"{url}/api/runs/g1")["blocks"][0]["items"][0] == {"label": "0-10", "value": 40}
    finally:
        readers._READERS.pop("widget-study", None)


def test_a_study_folder_is_one_row_with_its_seeds(tmp_path: Path, small_settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    saves = tmp_path / "saves"
    _finished(saves / "diffusion-x" / "runs" / "seed-0", small_settings, "save", hours=1)
    monkeypatch.chdir(tmp_path)
    with monitor(Path("saves")) as url:  # as `smallville monitor` serves it by default: a relative folder
        study = row(get_json(f"{url}/api/runs"), "diffusion-x")
        assert study["kind"] == "diffusion" and study["state"] == "stopped" and study["seeds"] == 1
        shutil.copy(ROOT / "docs" / "eval" / "embedded-2day" / "report.json", saves / "diffusion-x" / "report.json")
        detail = get_json(f"{url}/api/runs/diffusion-x")
        assert detail["state"] == "finished" and detail["progress"] == 1.0
        blocks = {b.get("key"): b for b in detail["blocks"]}
        assert blocks["workers"]["rows"][0]["link"] == "diffusion-x/runs/seed-0/save"
        assert any(r["figure"] == "party.aware_end" for r in blocks["report"]["rows"])
        seed = get_json(f"{url}/api/runs/diffusion-x/runs/seed-0/save")
        assert seed["kind"] == "town" and seed["state"] == "finished"


def test_monitor_flag_serves_beside_the_run_and_goes_with_it(tmp_path: Path) -> None:
    import socket

    proc = subprocess.Popen([*CLI, "run", "--headless", "--mind", "routine", "--hours", "1", "--speed", "6",
                             "--no-progress", "--save", str(tmp_path / "saves" / "r"), "--monitor"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        lines = [proc.stdout.readline() for _ in range(2)] if proc.stdout else []
        shown = [ln.strip() for ln in lines if ln.startswith("monitor: ")]
        assert len(shown) == 1 and shown[0].startswith("monitor: http://127.0.0.1:") and shown[0].endswith("#run=r")
        url = shown[0].removeprefix("monitor: ").split("#")[0].rstrip("/")

        def seen() -> Any:
            try:
                return row(get_json(f"{url}/api/runs"), "r")
            except OSError:
                return None
        assert _wait_for(seen, 30, "the monitor beside the run")["kind"] == "town"
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    port = int(url.rsplit(":", 1)[1])
    time.sleep(1.0)
    with pytest.raises(OSError):  # gone with the run
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
