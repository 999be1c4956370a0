"""The run's half of the monitor: the status a generative run writes into its save, and the judgements the
town reader draws from it (health, the bottleneck)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from agents_kit import agent_settings, run

from smallville.core.clock import Clock
from smallville.monitor.town import bottleneck, health
from smallville.run.status import RunView, StatusWriter, Tracker, status_dict
from smallville.testing.scripted import ScriptedModel


def test_a_generative_run_leaves_its_figures(tmp_path: Path, small_town: tuple[Path, Path]) -> None:
    from smallville.inference.embed import LocalEmbedder

    out = tmp_path / "run"
    result = run(agent_settings(small_town), out, 10, lm=ScriptedModel(), embedder=LocalEmbedder())
    status = json.loads((out / "status.json").read_text())
    assert status["schema"] == 1 and status["kind"] == "town" and status["state"] == "finished"
    progress = status["progress"]
    assert progress["tick"] == progress["until_tick"] == 3600 and progress["fraction"] == 1.0
    assert progress["game_time"] == "Mon 13 Feb 2023 10:00" and progress["pace"] > 0
    assert status["calls"]["calls"] == result["inference"]["calls"] > 0
    assert set(status["purposes"]) >= {"daily_plan", "importance"}
    assert status["residents"] == 2 and status["thoughts"]["in_flight"] == 0
    assert status["facts"]["kites"]["holders"] >= 1 and status["facts"]["kites"]["of"] == 2
    assert status["fallbacks"] == result["fallbacks"]
    assert status["endpoints"] == []  # a model handed in: no pool, no servers to show
    assert status["process"]["pid"] > 0 and status["process"]["rss_mb"] > 0


class _Stream:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def __len__(self) -> int:
        return len(self.texts)

    def get(self, i: int) -> Any:
        return SimpleNamespace(description=self.texts[i])


def test_fact_holders_are_counted_from_new_memories_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from smallville.world.scenario import Fact

    fact = Fact(id="kites", holder="Ada", memory="a kite festival", question="kites?", evidence=["kite", "festival"])
    streams = {"Ada": _Stream(), "Bob": _Stream()}
    mind = SimpleNamespace(thinks=True, in_flight=lambda: [], scenario=SimpleNamespace(facts=[fact]),
                           minds={n: SimpleNamespace(stream=s) for n, s in streams.items()}, stats={}, waited_s={})
    sim = SimpleNamespace(mind=mind, clock=Clock(), tick=10, agents=[1, 2], fallbacks={})
    view, tracker = RunView(sim, None, 0, 100, 0.0), Tracker()
    streams["Ada"].texts.append("Ada is organising a kite festival on Saturday")
    assert status_dict(view, tracker, now=1.0)["facts"]["kites"]["holders"] == 1
    read: list[str] = []
    original = Fact.carried_by
    monkeypatch.setattr(Fact, "carried_by", lambda self, text: read.append(text) or original(self, text))
    streams["Bob"].texts += ["Bob ate lunch", "Bob heard about the kites festival from Ada"]
    sim.tick = 20
    figures = status_dict(view, tracker, now=2.0)
    assert figures["facts"]["kites"]["holders"] == 2 and len(read) == 2  # Ada's memory was not read again
    assert figures["progress"]["pace_recent"] == pytest.approx(10 * 10 / 60, abs=1e-3)  # 10 ticks of 10 s in 1 s


def test_a_status_that_cannot_be_written_costs_only_the_figures(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    writer = StatusWriter(tmp_path / "gone")
    with caplog.at_level(logging.WARNING):
        writer.write({"a": 1})
        writer.write({"a": 2})
    assert len([r for r in caplog.records if "cannot write" in r.getMessage()]) == 1  # warned once, then quiet


def _endpoint(name: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "in_flight": 0, "max_concurrency": 32, "requests": 10, "p95_s": 1.0, **kw}


def test_the_bottleneck_is_the_saturated_server_or_the_slowest_one_a_waiting_run_waits_for() -> None:
    fast, slow = _endpoint("fast", p95_s=0.4), _endpoint("slow", p95_s=3.0)
    assert bottleneck([fast, slow], share_waiting=0.9) == "slow"
    assert bottleneck([fast, slow], share_waiting=0.1) is None  # the run is not waiting: nothing holds it back
    assert bottleneck([fast, {**slow, "in_flight": 30}], share_waiting=0.1) == "slow"
    assert bottleneck([{**fast, "in_flight": 32}, slow], share_waiting=0.9) == "fast"  # full beats slow
    assert bottleneck([_endpoint("only")], share_waiting=0.8) == "only"
    assert bottleneck([], share_waiting=1.0) is None


def test_health_says_what_is_wrong_now() -> None:
    ok = {"endpoints": [_endpoint("a", breaker="closed")], "calls": {"calls": 100, "failed": 2, "failed_recent": 0},
          "thoughts": {"oldest_s": 3}}
    assert health("running", "", ok, 0.5, None)["level"] == "ok"
    assert "2 of 100 calls failed in all" in health("running", "", ok, 0.5, None)["text"]
    assert health("running", "", ok, 30.0, None) == {"level": "warn", "text": "no status for 30 s: the process "
                                                                                "hangs or is stopped"}
    failing = {**ok, "calls": {**ok["calls"], "failed_recent": 1}}
    assert health("running", "", failing, 0.5, None)["text"] == "1 call failed in the last 10 s"
    out = {**ok, "endpoints": [_endpoint("a", breaker="open")]}
    assert health("running", "", out, 0.5, None) == {"level": "bad", "text": "out of rotation (breaker open): a"}
    assert health("crashed", "pid 7 died", None, None, None)["level"] == "bad"
    assert health("finished", "reached its end", None, None, None)["level"] == "ok"
