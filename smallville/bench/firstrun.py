"""The quick start as a new user meets it, quiet and on a busy machine (`smallville bench first-run`).

Runs the README's `smallville run --headless --hours 8` (the embedded model's first morning) as a separate
process twice: once on a quiet machine, once with another process keeping one core busy the whole time
(a plain Python loop, as a build or a browser would). Prints the wall time of each, their ratio (target:
at most 2), and from each save's accounting the calls made, failed and retried, with the plans and
conversations the morning left (`inspect`). `--quick` runs one game hour instead of eight, which still
holds the 25 day plans made in the night (most of the morning's calls): about 4 minutes a run, not 5.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_HOG = "while True:\n    pass\n"


def _morning(save: Path, hours: float) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "smallville.cli", "run", "--headless", "--no-progress",
                           "--hours", f"{hours:g}", "--save", str(save)], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"the quick start failed (exit {done.returncode}): {tail}")
    sessions = json.loads((save / "inference.json").read_text(encoding="utf-8"))["sessions"]
    totals = sessions[-1]["totals"]
    summary = json.loads(subprocess.run([sys.executable, "-m", "smallville.cli", "inspect", str(save), "--json"],
                                        capture_output=True, text=True, check=True).stdout)
    minds = summary.get("minds", {})
    return {"wall_s": round(wall, 1), "calls": totals["calls"], "failed": totals["failed"],
            "retries": totals["retries"], "day_plans": minds.get("plans", {}).get("day", 0),
            "conversations": minds.get("conversations", 0)}


def bench_first_run(quick: bool = False) -> dict[str, Any]:
    hours = 1.0 if quick else 8.0
    with tempfile.TemporaryDirectory() as tmp:
        quiet = _morning(Path(tmp) / "quiet", hours)
        hog = subprocess.Popen([sys.executable, "-c", _HOG])
        try:
            busy = _morning(Path(tmp) / "busy", hours)
        finally:
            hog.kill()
            hog.wait()
    figures: dict[str, Any] = {"first_run_hours": hours}
    figures.update({f"quiet_{k}": v for k, v in quiet.items()})
    figures.update({f"busy_{k}": v for k, v in busy.items()})
    figures["busy_over_quiet"] = round(busy["wall_s"] / max(quiet["wall_s"], 1e-9), 2)
    return figures
