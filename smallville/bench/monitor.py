"""What watching costs a run: a game day of the Ville against the fake server, with and without the monitor.

Owns the measurement behind docs/monitor.md's overhead figure. `python -m smallville.bench.monitor`
runs the Ville's 25 residents through `--hours` game hours (default a whole day) against the fake
OpenAI-compatible server in its own process (answers from the agents' scripted model, `--latency` seconds
each: 0 makes the run CPU-bound, the case where watching costs the most), alternately:
- *with*: the run writes `status.json` every second, the monitor runs in its own process, and a client
  holds the event stream open on the run, as an open browser tab does;
- *without*: no status task at all (`start_status` replaced by a task that does nothing), no monitor.
Pairs alternate (with, without; without, with; ...) so that a machine growing busier or quieter mid-way
weighs on both. It prints each day's wall and CPU seconds, the medians and the median of the pairs' ratios,
and two figures that do not drown in the noise of a shared machine: the status task's own CPU time per second
of the run (building the figures on the run's loop, writing them on a worker thread; waiting for the disk costs
no CPU), and the monitor process's CPU as a share of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def _without_status() -> Iterator[None]:
    from smallville.run import status

    real = status.start_status

    def nothing(*_: Any, **__: Any) -> asyncio.Task[None]:
        async def idle() -> None:
            await asyncio.Event().wait()
        return asyncio.get_running_loop().create_task(idle())

    status.start_status = nothing
    try:
        yield
    finally:
        status.start_status = real


@contextmanager
def _timed_status(spent: list[float], built: list[float], cpu: list[float]) -> Iterator[None]:
    """The status task as it is, each snapshot and write timed on whichever thread runs it: wall seconds
    (`spent`, of which building the figures: `built`) and that thread's CPU seconds (`cpu`: waiting for the
    disk costs the run nothing)."""
    from smallville.run import status

    real_dict, real_write = status.status_dict, status.StatusWriter.write

    def timed_dict(*args: Any, **kw: Any) -> dict[str, Any]:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return real_dict(*args, **kw)
        finally:
            spent.append(time.perf_counter() - t0)
            built.append(spent[-1])
            cpu.append(time.thread_time() - c0)

    def timed_write(self: Any, data: dict[str, Any]) -> None:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            real_write(self, data)
        finally:
            spent.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)

    status.status_dict, status.StatusWriter.write = timed_dict, timed_write  # type: ignore[method-assign]
    try:
        yield
    finally:
        status.status_dict, status.StatusWriter.write = real_dict, real_write  # type: ignore[method-assign]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux), 0 where /proc cannot say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


@contextmanager
def _watching(saves: Path, run: str, used: dict[str, float]) -> Iterator[None]:
    """The monitor in its own process and a client reading the run's event stream, as a page does; `used`
    gets the CPU seconds each spent."""
    from smallville.monitor.command import free_port

    port = free_port(first=18765)
    monitor = subprocess.Popen([sys.executable, "-m", "smallville.monitor", "--saves", str(saves), "--port",
                                str(port), "--quiet"], stdout=subprocess.DEVNULL)
    reader = (f"import time, urllib.request\n"
              f"for _ in range(600):\n"
              f"    try:\n"
              f"        r = urllib.request.urlopen('http://127.0.0.1:{port}/api/stream?run={run}')\n"
              f"        break\n"
              f"    except OSError:\n"
              f"        time.sleep(0.1)\n"
              f"while r.read1(65536):\n"
              f"    pass\n")
    client = subprocess.Popen([sys.executable, "-c", reader], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        used["monitor_cpu_s"], used["client_cpu_s"] = _cpu_s(monitor.pid), _cpu_s(client.pid)
        for proc in (client, monitor):
            proc.terminate()
            proc.wait(timeout=10)


def one_day(base_url: str, hours: float, watched: bool) -> dict[str, Any]:
    from smallville.config import load_settings
    from smallville.inference.settings import EndpointSettings, InferenceSettings
    from smallville.run import drive, new_run

    endpoint = EndpointSettings(name="fake", base_url=base_url, model="fake-model", max_concurrency=4096,
                                timeout_s=60.0)
    settings = load_settings(None, {}).model_copy(update={"inference": InferenceSettings(endpoints=[endpoint])})
    spent: list[float] = []
    used: dict[str, float] = {}
    built: list[float] = []  # of which building the figures (the rest: writing the file)
    status_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        saves = Path(tmp)
        save, sim = new_run(saves / "day", settings, hours)
        with _timed_status(spent, built, status_cpu) if watched else _without_status(), \
                _watching(saves, "day", used) if watched else _nothing():
            started, cpu = time.perf_counter(), _cpu_s(os.getpid())
            result = drive(save, sim, save.manifest["target_tick"], progress=False)
            wall, cpu = time.perf_counter() - started, _cpu_s(os.getpid()) - cpu
    return {"watched": watched, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "monitor_cpu_pct": round(100 * used["monitor_cpu_s"] / wall, 2) if used else None,
            "calls": (result["inference"] or {}).get("calls"),
            "ticks": result["ticks"], "status_s": round(sum(spent), 3), "status_samples": len(built),
            "build_ms_median": round(1000 * statistics.median(built), 3) if built else None,
            "write_ms_median": round(1000 * statistics.median(set(spent) - set(built) or {0.0}), 3) if built else None,
            "status_ms_per_s": round(1000 * sum(spent) / wall, 3) if watched else None,
            "status_cpu_ms_per_s": round(1000 * sum(status_cpu) / wall, 3) if watched else None}


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def measure(hours: float, pairs: int, latency: float) -> dict[str, Any]:
    from smallville.testing import scripted
    from smallville.testing.fake_server import FakeServerProcess

    days = []
    load_before = os.getloadavg()
    with FakeServerProcess(latency_s=latency, answers=scripted.answer) as server:
        one_day(server.base_url, 1.0, False)  # warm: the embedding model's first load, files in the page cache
        for i in range(pairs):
            for watched in (True, False) if i % 2 == 0 else (False, True):
                day = one_day(server.base_url, hours, watched)
                days.append(day)
                print(json.dumps(day), flush=True)
    # each pair's ratio: a machine that grows busier or quieter over the pairs moves both days of a pair
    ratios = sorted(w["wall_s"] / o["wall_s"] for w, o in zip(days[0::2], days[1::2], strict=True)
                    for w, o in [(w, o) if w["watched"] else (o, w)])
    walls_with = [d["wall_s"] for d in days if d["watched"]]
    walls_without = [d["wall_s"] for d in days if not d["watched"]]
    with_s, without_s = statistics.median(walls_with), statistics.median(walls_without)
    cpu_with = statistics.median(d["cpu_s"] for d in days if d["watched"])
    cpu_without = statistics.median(d["cpu_s"] for d in days if not d["watched"])
    return {
        "hours": hours, "pairs": pairs, "latency_s": latency, "machine": f"{platform.node()}, {os.cpu_count()} cores",
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "wall_s_with": walls_with, "wall_s_without": walls_without,
        "median_with_s": with_s, "median_without_s": without_s,
        "slowdown_pct": round(100 * (with_s / without_s - 1), 2),
        "pair_ratios": [round(r, 4) for r in ratios],
        "slowdown_pct_median_pair": round(100 * (statistics.median(ratios) - 1), 2),
        # the run's own CPU seconds (its threads included) moved less by other processes than its wall time
        "cpu_s_with": cpu_with, "cpu_s_without": cpu_without,
        "cpu_more_pct": round(100 * (cpu_with / cpu_without - 1), 2),
        "monitor_cpu_pct_of_a_core": statistics.median(d["monitor_cpu_pct"] for d in days if d["watched"]),
        "status_ms_per_s": statistics.median(d["status_ms_per_s"] for d in days if d["watched"]),
        # the status task's own CPU, in ms per second of the run: a tenth of it is its share of one core in %
        "status_cpu_ms_per_s": statistics.median(d["status_cpu_ms_per_s"] for d in days if d["watched"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smallville.bench.monitor", description=__doc__)
    parser.add_argument("--hours", type=float, default=24.0, help="game hours per run (default 24)")
    parser.add_argument("--pairs", type=int, default=2, help="runs with and without (default 2 of each)")
    parser.add_argument("--latency", type=float, default=0.0, help="the fake server's seconds per answer (default 0)")
    args = parser.parse_args(argv)
    figures = measure(args.hours, args.pairs, args.latency)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
