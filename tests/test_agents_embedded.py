"""The loop on the real embedded model: the small town's first morning thought through by SmolLM2-135M
on 127.0.0.1, every call recorded and accounted, the day going on whatever the weak model says."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from agents_kit import agent_settings, events, run
from mapkit import write_town

from smallville.persist.eventlog import read_log
from smallville.persist.save import Save
from smallville.run import drive, resume_run
from smallville.run import stop as run_stop


@pytest.fixture(scope="module")
def morning(tmp_path_factory) -> tuple[Path, tuple[Path, Path], dict[str, Any]]:
    """The small town's first morning on the embedded model (no endpoint configured), run once."""
    root = tmp_path_factory.mktemp("morning")
    town = write_town(root / "town")
    out = root / "morning"
    result = run(agent_settings(town), out, 8)
    return out, town, result


def test_first_morning_on_the_embedded_model(morning) -> None:
    out, _, result = morning
    names = ("Ada Lovelace", "Bob Builder")
    for who in names:
        assert {"day", "hourly", "actions"} <= {e["level"] for e in events(out, "plan", who=who)}
        awake = [e for e in events(out, "act", who=who) if e["action"] != "sleeping"]
        assert awake, f"{who} never got up"
    assert events(out, "memory", who="Ada Lovelace", tag="seed")
    assert read_log(out / "events.jsonl").valid_bytes == (out / "events.jsonl").stat().st_size
    calls = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    purposes = {c["purpose"] for c in calls}
    assert {"daily_plan", "hourly_schedule"} <= purposes
    accounting = json.loads((out / "inference.json").read_text())["sessions"][-1]
    # every call answered by the embedded servers (two side by side where there are two cores)
    servers = accounting["by_endpoint"]
    assert set(servers) <= {"embedded", "embedded-2"} and "embedded" in servers
    assert sum(s["ok"] for s in servers.values()) >= len(calls) - accounting["totals"]["failed"] > 0
    assert accounting["totals"]["prompt_tokens"] > 0 and accounting["totals"]["completion_tokens"] > 0
    # a weak model's nonsense is repaired or replaced, never a crash: every fallback of a step is in the log
    steps = {k: v for k, v in result["fallbacks"].items() if k not in ("no_path", "unknown_address", "no_step")}
    assert sum(steps.values()) == len(events(out, "fallback"))


def test_a_stop_mid_call_on_the_embedded_model_loses_nothing(tmp_path: Path, morning, monkeypatch) -> None:
    """Ctrl-C while the embedded model is generating: the stop is answered within the grace, the thought still
    thinking then is cancelled into the checkpoint at the stop tick, and the resume, on the recorded answers of
    the morning that was never stopped, starts it again and ends with that morning's bytes. (On the live model
    a resume need not give them: llama.cpp reuses the previous prompt's cached prefix, and a fresh server's
    first evaluation of the same prompt can differ in the last bits of a logit, so in the token drawn.)"""
    reference, town, _ = morning
    monkeypatch.setattr(run_stop, "STOP_GRACE_S", 1.0)  # shorter than one generation: the cancel is sure to come
    out = tmp_path / "stopped"
    calls = out / "calls.jsonl"
    pressed: list[float] = []

    def press() -> None:  # Ctrl-C once the model has answered 3 calls (it is busy with the next one by then)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not (calls.exists() and calls.read_bytes().count(b"\n") >= 3):
            time.sleep(0.02)
        pressed.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press, daemon=True).start()
    result = run(agent_settings(town), out, 8)
    assert pressed and result["stopped_early"]
    assert time.perf_counter() - pressed[0] < 1.0 + 15  # the grace, the cancel and the checkpoint
    checkpoint = Save.open(out).latest_checkpoint()
    assert checkpoint["tick"] == result["tick"]
    assert any(j["result"] is None and j["input"] for j in checkpoint["state"]["mind"]["jobs"])
    save, sim = resume_run(out)
    drive(save, sim, save.manifest["target_tick"], progress=False, replay=reference / "calls.jsonl")
    assert (out / "events.jsonl").read_bytes() == (reference / "events.jsonl").read_bytes()
