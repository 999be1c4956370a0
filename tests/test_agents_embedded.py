"""The loop on the real embedded model: the small town's first morning thought through by SmolLM2-135M
on 127.0.0.1, every call recorded and accounted, the day going on whatever the weak model says."""

from __future__ import annotations

import json
from pathlib import Path

from agents_kit import agent_settings, events, run

from smallville.persist.eventlog import read_log


def test_first_morning_on_the_embedded_model(tmp_path: Path, small_town) -> None:
    out = tmp_path / "morning"
    result = run(agent_settings(small_town), out, 8)  # no endpoint configured: the embedded server
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
    embedded = accounting["by_endpoint"]["embedded"]
    assert embedded["ok"] >= len(calls) - accounting["totals"]["failed"] > 0
    assert accounting["totals"]["prompt_tokens"] > 0 and accounting["totals"]["completion_tokens"] > 0
    # a weak model's nonsense is repaired or replaced, never a crash: every fallback of a step is in the log
    steps = {k: v for k, v in result["fallbacks"].items() if k not in ("no_path", "unknown_address", "no_step")}
    assert sum(steps.values()) == len(events(out, "fallback"))
