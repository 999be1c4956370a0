"""The populations benchmark: how long drawing and writing n people takes, and the memory it needs.

Owns `bench_population(n) -> dict`, `bench_populations(quick)` (the flat figures of `smallville bench
population [--json] [--quick]`) and their config: four
attributes as a study would give them (gender; six age bands; education given age, with a table per band so
no child holds a degree; six professions), template backgrounds, the population file written to a temporary
folder. Each measurement runs in a fresh interpreter (`python -m smallville.bench.population --child N`), so
its peak RSS is that of the work alone and not of whatever ran before in the calling process. Figures:
draw (counts, shuffles, names), write (people built, encoded and written), the whole, people per second, the
file's size, the peak RSS, and the machine's load when it ran.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_CONFIG: dict[str, Any] = {
    "total_num": 1000,
    "distributions": [
        {"distribution_name": "Gender", "categories": [
            {"category_name": "Female", "percentage": 0.5}, {"category_name": "Male", "percentage": 0.5}]},
        {"distribution_name": "Age", "categories": [
            {"category_name": c, "percentage": p} for c, p in
            [("6-11", 0.08), ("12-17", 0.08), ("18-24", 0.12), ("25-44", 0.32), ("45-64", 0.26), ("65-90", 0.14)]]},
        {"distribution_name": "Education Level",
         "categories": [{"category_name": c, "percentage": 0.2} for c in
                        ["Elementary School", "High School", "Bachelor's Degree", "Master's Degree", "Ph.D."]],
         "given": "Age",
         "conditional": {
             "6-11": [{"category_name": "Elementary School", "percentage": 1.0}],
             "12-17": [{"category_name": "Elementary School", "percentage": 0.4},
                       {"category_name": "High School", "percentage": 0.6}],
             "18-24": [{"category_name": "High School", "percentage": 0.6},
                       {"category_name": "Bachelor's Degree", "percentage": 0.35},
                       {"category_name": "Master's Degree", "percentage": 0.05}]}},
        {"distribution_name": "Profession", "categories": [
            {"category_name": c, "percentage": 1 / 6} for c in
            ["Professor of Game Theory", "Economist", "Psychologist", "Athlete", "Artist", "Writer"]]},
    ],
}


def _rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports KB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(n: int) -> dict[str, Any]:
    """Draw and write n people in this process (the child's work)."""
    from smallville.population.config import parse_config
    from smallville.population.draw import draw
    from smallville.population.people import write_population

    base_mb = _rss_mb()
    config = parse_config({**BENCH_CONFIG, "total_num": n}, "bench.json")
    with tempfile.TemporaryDirectory(prefix="smallville-bench-population-") as tmp:
        path = Path(tmp) / "population.jsonl"
        t0 = time.perf_counter()
        people = draw(config, seed=0)
        t1 = time.perf_counter()
        write_population(path, people.header(), people.people())
        t2 = time.perf_counter()
        size = path.stat().st_size
    unique = len(set(people.names)) == n
    return {"n": n, "draw_s": round(t1 - t0, 4), "write_s": round(t2 - t1, 4), "total_s": round(t2 - t0, 4),
            "people_per_s": round(n / (t2 - t0)), "file_mb": round(size / 1e6, 2), "names_unique": unique,
            "peak_rss_mb": round(_rss_mb(), 1), "rss_after_imports_mb": round(base_mb, 1)}


def bench_population(n: int) -> dict[str, Any]:
    """Figures for n people, measured in a fresh interpreter (see the module's docstring)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    done = subprocess.run([sys.executable, "-m", "smallville.bench.population", "--child", str(n)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"population benchmark for n={n} failed: {done.stderr.strip()[-500:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures.update({"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                    "python": platform.python_version(), "load_avg_1m_before": round(load[0], 2)})
    return figures


def bench_populations(quick: bool = False) -> dict[str, Any]:
    """The figures `smallville bench population` prints, flat: 1,000 and 1,000,000 people (`quick`: 100,000)."""
    figures: dict[str, Any] = {}
    for n in (1000, 100_000 if quick else 1_000_000):
        one = bench_population(n)
        for key in ("draw_s", "write_s", "total_s", "people_per_s", "file_mb", "peak_rss_mb", "names_unique"):
            figures[f"population_{n}_{key}"] = one[key]
        figures.update({k: one[k] for k in ("date", "machine", "python")})
        figures[f"population_{n}_load_avg_1m_before"] = one["load_avg_1m_before"]
    return figures


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        # python -m smallville.bench.population [N ...]: the figures for each N (default 1,000 and 1,000,000)
        sizes = [int(a.replace("_", "").replace(",", "")) for a in sys.argv[1:]] or [1000, 1_000_000]
        print(json.dumps({f"population_{n}": bench_population(n) for n in sizes}, indent=2))
