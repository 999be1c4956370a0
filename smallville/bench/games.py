"""`smallville bench games`: one round of 10,000 players through the model pool, in one process.

(Here in `bench/`, not in `games/`: it measures against the stand-ins of `smallville/testing`, which product
code never imports.)

Figures, against the fake OpenAI-compatible server in a child process (so that it does not share the client's
interpreter lock), answering every call after 1 s as the stand-ins do (`games/standin.py`):
- `round_wall_s`, `calls_per_s`: the round itself (every player's structured call through `ServerPool`, each
  recorded in `calls.jsonl`, the answers committed to the log), as the save's timing records it;
- `study_wall_s`: the whole `start_study` (seating, save, round, report with its plots); `report_s` the report;
- `peak_rss_mb`: the process's peak resident memory (the server's child not included);
- `answers_mb`, `calls_mb`: what the round left on disk.
The pool's `max_concurrency` is the turns in flight (default 2048). Prints nothing; returns the figures.
"""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any


def bench_games(agents: int = 10_000, latency_s: float = 1.0, concurrency: int = 2048,
                quick: bool = False) -> dict[str, Any]:
    from smallville.games import config, game, standin
    from smallville.inference.settings import EndpointSettings, InferenceSettings
    from smallville.testing.fake_server import FakeServerProcess

    if quick:
        agents, concurrency = min(agents, 1000), min(concurrency, 500)
    server = FakeServerProcess(latency_s=latency_s, answers=standin.answer).start()
    try:
        inference = InferenceSettings(endpoints=[EndpointSettings(
            name="fake", base_url=f"http://127.0.0.1:{server.port}/v1", model="fake-model",
            max_concurrency=concurrency, timeout_s=60.0)], retries=3, backoff_s=0.05, backoff_max_s=0.5)
        settings = config.GameFile(game=config.GuessSettings(variant="P1", agents=agents).resolved(),
                                   inference=inference)
        with tempfile.TemporaryDirectory(prefix="smallville-bench-games-") as tmp:
            out = Path(tmp) / "study"
            started = time.perf_counter()
            report = game.start_study(out, settings, progress=False, say=lambda _: None)
            study_wall = time.perf_counter() - started
            timing = report["performance"][0]["rounds"][0]
            report_started = time.perf_counter()
            from smallville.games.report import write_report

            write_report(out)
            report_s = time.perf_counter() - report_started
            answers_mb = (out / "seed-0" / "answers.jsonl").stat().st_size / 1e6
            calls_mb = (out / "seed-0" / "calls.jsonl").stat().st_size / 1e6
        round1 = report["runs"][0]["rounds"][0]
    finally:
        server.stop()
    return {"games_agents": agents, "games_latency_s": latency_s, "games_concurrency": concurrency,
            "games_round_wall_s": timing["wall_s"], "games_calls_per_s": timing["calls_per_s"],
            "games_valid": round1["n"], "games_failed": round1["failed"], "games_invalid": round1["invalid"],
            "games_study_wall_s": round(study_wall, 2), "games_report_s": round(report_s, 2),
            "games_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "games_answers_mb": round(answers_mb, 2), "games_calls_mb": round(calls_mb, 2),
            "games_load_avg_1m": round(os.getloadavg()[0], 2), "games_cpus": os.cpu_count(),
            "games_python": platform.python_version()}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_games(quick="--quick" in sys.argv), indent=2))
