"""Whole game days of the 25 residents, for `smallville bench agents`: model use and wall time.

- `fake_1s_day_minutes`: the Ville's 25 residents through a game day (midnight to midnight) against the
  fake OpenAI-compatible server in its own process, answering every call after 1 s (what remote GPU
  servers look like to the town), with no concurrency limit. Its answers come from the agents' scripted
  model (`smallville.testing.scripted`), so plans, places, talks and reflections happen as with a model.
- `calls_per_agent_day` and `tokens_per_agent_day` (prompt + completion) from that day's accounting; the
  fake server counts a token per 4 characters (the real server's counts are in the embedded day).
- `embedded_day_minutes` (with `--embedded-day`, ~25 minutes): the same day on the embedded SmolLM2-135M
  servers on this machine (one request at a time each), with their real token counts.

Each day runs into a temporary save with the whole loop (checkpoints, recording) as `smallville run` does.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from smallville.config import load_settings
from smallville.inference.settings import EndpointSettings, InferenceSettings
from smallville.run import drive, new_run


def _day(settings: Any, hours: float) -> tuple[dict[str, Any], dict[str, Any], int]:
    import json

    with tempfile.TemporaryDirectory() as tmp:
        save, sim = new_run(Path(tmp) / "day", settings, hours)
        started = time.perf_counter()
        result = drive(save, sim, save.manifest["target_tick"], progress=False)
        result["wall_s"] = time.perf_counter() - started
        sessions = json.loads((save.root / "inference.json").read_text(encoding="utf-8"))["sessions"]
        return result, sessions[-1], len(sim.agents)


def _figures(prefix: str, result: dict[str, Any], accounting: dict[str, Any], residents: int,
             hours: float) -> dict[str, Any]:
    days = residents * hours / 24
    totals = accounting["totals"]
    mind = result["mind"]
    out: dict[str, Any] = {
        f"{prefix}_day_minutes": round(result["wall_s"] / 60 * 24 / hours, 2),
        f"{prefix}_calls_per_agent_day": round(totals["calls"] / days, 1),
        f"{prefix}_tokens_per_agent_day": round((totals["prompt_tokens"] + totals["completion_tokens"]) / days),
        f"{prefix}_calls_by_step_per_agent_day": {k: round(v["calls"] / days, 1)
                                                  for k, v in accounting["by_purpose"].items()},
        f"{prefix}_conversations_per_agent_day": round(mind.get("conversations", 0) * 2 / days, 2),
        f"{prefix}_reflections_per_agent_day": round(mind.get("reflections", 0) / days, 2),
        f"{prefix}_fallbacks_per_agent_day": round(sum(result["fallbacks"].values()) / days, 2),
        f"{prefix}_waited_s": result["waited_s"],
    }
    return out


def bench_fake_day(quick: bool = False) -> dict[str, Any]:
    from smallville.testing import scripted
    from smallville.testing.fake_server import FakeServerProcess

    hours = 10.0 if quick else 24.0
    with FakeServerProcess(latency_s=1.0, answers=scripted.answer) as server:
        endpoint = EndpointSettings(name="fake", base_url=server.base_url, model="fake-model",
                                    max_concurrency=4096, timeout_s=30.0)
        settings = load_settings(None, {}).model_copy(update={"inference": InferenceSettings(endpoints=[endpoint])})
        result, accounting, residents = _day(settings, hours)
    figures = _figures("fake_1s", result, accounting, residents, hours)
    figures["calls_per_agent_day"] = figures["fake_1s_calls_per_agent_day"]
    figures["tokens_per_agent_day"] = figures["fake_1s_tokens_per_agent_day"]
    figures["fake_1s_hours_run"] = hours
    return figures


def bench_embedded_day(hours: float = 24.0) -> dict[str, Any]:
    settings = load_settings(None, {}).model_copy(update={"inference": InferenceSettings()})
    result, accounting, residents = _day(settings, hours)
    figures = _figures("embedded", result, accounting, residents, hours)
    figures["embedded_hours_run"] = hours
    return figures
