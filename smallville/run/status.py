"""A running run's live figures: `saves/<run>/status.json`, written about once a second.

Owns the run's half of the monitor. The monitor is another process and sees a run only through its save,
and a save holds what happened, not how the run is doing now (which server is slow, what is in flight, how
fast the game clock moves). So the run writes those figures here, atomically (readers see the old file or
the new one; `smallville.files.atomic_write_json`), and the monitor reads them (`readers.py`).

`status_dict` is a plain function of the run's objects (simulation, models, the drive's bounds) and a
`Tracker` that remembers what a rate or an age needs from the sample before; it never changes the run.
`start_status` starts the task the drive loop (`run/drive.py`) keeps beside its progress line: a
snapshot each second, the file written on a worker thread (an fsync must not stall the tick loop), a last
one when the drive ends.

Layering: it belongs to the run machinery (the monitor only reads the file); it reads the mind through
the `ThinkingMind` protocol (a routine mind has nothing in flight) and the models by what they hold (a
model without a pool: those parts stay empty).
Nothing secret is written: endpoint URLs come from the pool already masked (`display_url`), the rest are
counts, names and class names of errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallville.files import atomic_write_json
from smallville.inference.settings import display_url

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"
SCHEMA = 1
INTERVAL_S = 1.0
#: wall seconds over which pace, calls/s and tokens/s are measured: long enough to smooth a burst of
#: answers, short enough that a server slowing down shows within seconds
RATE_WINDOW_S = 10.0


@dataclass
class _Sample:
    wall: float
    tick: int
    calls: int
    failed: int
    tokens: int
    endpoints: dict[str, tuple[int, int, int]]  # name -> (requests, tokens, errors)
    cpu_s: float


@dataclass
class Tracker:
    """What one sample needs from the ones before it: rates over a window, thought ages, fact holders.

    Fact holders are counted incrementally: memories are only ever appended, so each second only the new
    ones are read (`carried_by` on a few strings), never the whole stream again."""

    samples: deque[_Sample] = field(default_factory=lambda: deque(maxlen=64))
    first_seen: dict[int, float] = field(default_factory=dict)  # thought id -> wall time first seen in flight
    scanned: dict[str, int] = field(default_factory=dict)  # resident -> memories already read for facts
    holders: dict[str, set[str]] = field(default_factory=dict)  # fact id -> residents holding it


@dataclass
class RunView:
    """The drive's objects and bounds, as the status needs them."""

    sim: Any
    models: Any  # smallville.inference.session.Models, or None (a routine run)
    start_tick: int
    until_tick: int
    started: float  # time.time() when this drive began
    kind: str = "town"


def _pool(models: Any) -> Any:
    """The server pool behind the run's model wrappers (health watch, recorder), or None (a replay, a test's
    model handed in directly)."""
    lm = getattr(models, "lm", None)
    for _ in range(8):
        if lm is None:
            return None
        if callable(getattr(lm, "status", None)) and hasattr(lm, "settings"):
            return lm
        lm = getattr(lm, "inner", None)
    return None


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: the peak is the best there is
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rate(new: float, old: float, seconds: float) -> float:
    return round(max(0.0, new - old) / seconds, 3) if seconds > 0 else 0.0


def _endpoints(models: Any, snapshot: dict[str, Any], tracker: Tracker, now: float) -> list[dict[str, Any]]:
    """One row per endpoint: the pool's live state joined with the accounting's counters and rates."""
    by_endpoint: dict[str, Any] = snapshot.get("by_endpoint", {})
    pool = _pool(models)
    live = {row["name"]: row for row in pool.status()} if pool is not None else {}
    limits = {e.name: e.max_concurrency for e in getattr(getattr(pool, "settings", None), "endpoints", [])}
    before = _window_start(tracker, now)
    rows = []
    for name in sorted(set(live) | set(by_endpoint)):
        counts, state = by_endpoint.get(name, {}), live.get(name, {})
        tokens = int(counts.get("prompt_tokens", 0)) + int(counts.get("completion_tokens", 0))
        requests, errors = int(counts.get("requests", 0)), int(counts.get("errors", 0))
        outstanding, limit = int(state.get("outstanding", 0)), limits.get(name)
        old = before.endpoints.get(name, (requests, tokens, errors)) if before else (requests, tokens, errors)
        span = now - before.wall if before else 0.0
        rows.append({
            "name": name,
            "url": display_url(str(state["base_url"])) if state.get("base_url") else None,
            "model": state.get("model"),
            "breaker": "closed" if state.get("in_rotation", True) else "open",
            # the pool's outstanding requests are those sent and those waiting for one of its slots
            "in_flight": min(outstanding, limit) if limit else outstanding,
            "queued": max(0, outstanding - limit) if limit else 0,
            "max_concurrency": limit,
            "consecutive_failures": int(state.get("consecutive_failures", 0)),
            "requests": requests, "ok": int(counts.get("ok", 0)), "errors": errors,
            "errors_recent": max(0, errors - old[2]),  # within the rate window: a server failing now
            "error_kinds": dict(counts.get("error_kinds", {})),
            "breaker_opened": int(counts.get("breaker_opened", 0)),
            "tokens": tokens,
            "p50_s": counts.get("latency_s_p50"), "p95_s": counts.get("latency_s_p95"),
            "calls_per_s": _rate(requests, old[0], span), "tokens_per_s": _rate(tokens, old[1], span),
        })
    return rows


def _window_start(tracker: Tracker, now: float) -> _Sample | None:
    """The oldest sample within the rate window (the window's start), or None before a first sample."""
    for sample in tracker.samples:
        if now - sample.wall <= RATE_WINDOW_S + 0.5:
            return sample
    return tracker.samples[-1] if tracker.samples else None


def _thoughts(sim: Any, tracker: Tracker, now: float) -> dict[str, Any]:
    if not sim.mind.thinks:
        return {"in_flight": 0, "by_kind": {}, "oldest_s": None}
    flying = sim.mind.in_flight()
    tracker.first_seen = {j.id: tracker.first_seen.get(j.id, now) for j in flying}
    oldest = now - min(tracker.first_seen.values()) if tracker.first_seen else None
    return {"in_flight": len(flying), "by_kind": dict(sorted(Counter(j.kind for j in flying).items())),
            "oldest_s": round(oldest, 1) if oldest is not None else None}


def _facts(sim: Any, tracker: Tracker) -> dict[str, Any]:
    """For each seeded fact: how many residents hold a memory that carries it (the log's own test,
    `Fact.carried_by`), read from the memories added since the last sample."""
    scenario, minds = sim.mind.scenario, sim.mind.minds
    if scenario is None or not minds:
        return {}
    facts = list(scenario.facts)
    for fact in facts:
        tracker.holders.setdefault(fact.id, set())
    for name, mind in minds.items():
        stream = mind.stream
        start = tracker.scanned.get(name, 0)
        for i in range(start, len(stream)):
            text = stream.get(i).description
            for fact in facts:
                if name not in tracker.holders[fact.id] and fact.carried_by(text):
                    tracker.holders[fact.id].add(name)
        tracker.scanned[name] = len(stream)
    return {f.id: {"holders": len(tracker.holders[f.id]), "of": len(minds), "holder": f.holder} for f in facts}


def status_dict(view: RunView, tracker: Tracker, *, now: float | None = None, state: str = "running") -> dict[str, Any]:
    """The run's figures now, JSON-safe. Reads the run, changes nothing of it; `tracker` keeps the samples
    that rates and ages are measured against."""
    now = time.time() if now is None else now
    sim, models = view.sim, view.models
    tick_seconds = sim.clock.tick_seconds
    accounting = getattr(models, "accounting", None)
    snapshot: dict[str, Any] = accounting.snapshot() if accounting is not None else {}
    totals = dict(snapshot.get("totals", {}))
    tokens = int(totals.get("prompt_tokens", 0)) + int(totals.get("completion_tokens", 0))
    cpu = _cpu_s()
    before = _window_start(tracker, now)
    span = now - before.wall if before else 0.0
    elapsed = max(now - view.started, 1e-9)
    done = sim.tick - view.start_tick
    pace_recent = (sim.tick - before.tick) * tick_seconds / 60 / span if before and span > 0 else None
    ticks_per_s = (sim.tick - before.tick) / span if before and span > 0 and sim.tick > before.tick \
        else done / elapsed if done > 0 else 0.0
    left = max(0, view.until_tick - sim.tick)
    endpoints = _endpoints(models, snapshot, tracker, now)
    stats = dict(sim.mind.stats)
    fallbacks = dict(getattr(sim, "fallbacks", {}))
    fallbacks.update({k.removeprefix("fallback_"): int(v) for k, v in stats.items() if k.startswith("fallback_")})
    waited = {k: round(float(v), 1) for k, v in sorted(sim.mind.waited_s.items())}
    thoughts = _thoughts(sim, tracker, now)
    calls_per_s = _rate(int(totals.get("calls", 0)), before.calls, span) if before else 0.0
    tokens_per_s = _rate(tokens, before.tokens, span) if before else 0.0
    out = {
        "schema": SCHEMA, "kind": view.kind, "state": state, "written": round(now, 3), "interval_s": INTERVAL_S,
        "process": {"pid": os.getpid(), "host": socket.gethostname(),
                    "cpu_pct": round(100 * (cpu - before.cpu_s) / span, 1) if before and span > 0 else None,
                    "rss_mb": round(_rss_bytes() / 2**20, 1), "threads": threading.active_count()},
        "progress": {
            "tick": sim.tick, "start_tick": view.start_tick, "until_tick": view.until_tick,
            "fraction": round(min(1.0, sim.tick / view.until_tick), 5) if view.until_tick > 0 else 1.0,
            "game_time": sim.clock.label(sim.tick), "end_time": sim.clock.label(view.until_tick),
            "started": round(view.started, 3), "elapsed_s": round(elapsed, 1),
            "pace": round(done * tick_seconds / 60 / elapsed, 3),  # game minutes per real second, this drive
            "pace_recent": round(pace_recent, 3) if pace_recent is not None else None,
            "eta_s": round(left / ticks_per_s, 1) if ticks_per_s > 0 else None,
        },
        "hud": {"pace": round(pace_recent, 3) if pace_recent is not None else None,
                "calls": int(totals.get("calls", 0)), "tokens_per_s": tokens_per_s,
                "thinking": thoughts["in_flight"]},
        "thoughts": thoughts,
        "calls": {**{k: int(totals.get(k, 0)) for k in ("calls", "ok", "failed", "retries", "invalid_answers",
                                                          "fallbacks", "prompt_tokens", "completion_tokens",
                                                          "requests")},
                  "calls_per_s": calls_per_s, "tokens_per_s": tokens_per_s,
                  "failed_recent": max(0, int(totals.get("failed", 0)) - before.failed) if before else 0},
        "purposes": {name: {k: p.get(k) for k in ("calls", "failed", "retries", "invalid_answers",
                                                  "latency_s_p50", "latency_s_p95")}
                     for name, p in snapshot.get("by_purpose", {}).items()},
        "endpoints": endpoints,
        # wall seconds the ticks waited for thoughts, by kind: a run that waits most of its time is model-bound
        "waited_s": waited,
        "fallbacks": dict(sorted(fallbacks.items())),
        "conversations": int(stats.get("conversations", 0)),
        "reflections": int(stats.get("reflections", 0)),
        "residents": len(getattr(sim, "agents", [])),
        "facts": _facts(sim, tracker),
    }
    tracker.samples.append(_Sample(now, sim.tick, int(totals.get("calls", 0)), int(totals.get("failed", 0)), tokens,
                                   {e["name"]: (e["requests"], e["tokens"], e["errors"]) for e in endpoints}, cpu))
    return out


class StatusWriter:
    """Writes `status.json` into a save. A write never fails the run: a full disk or a read-only folder
    costs the monitor its live figures, nothing else (one warning, then quiet)."""

    def __init__(self, root: Path):
        self.path = root / STATUS_FILE
        self._lock = threading.Lock()  # the last write (on the loop's thread) waits for one on the worker's
        self._warned = False

    def write(self, data: dict[str, Any]) -> None:
        with self._lock:
            try:
                atomic_write_json(self.path, data)
            except OSError as exc:
                if not self._warned:
                    self._warned = True
                    log.warning("cannot write %s (%s): the monitor will not see this run's live figures",
                                self.path, exc.strerror or exc)


def start_status(save: Any, sim: Any, models: Any, start_tick: int, until_tick: int,
                 interval_s: float = INTERVAL_S) -> asyncio.Task[None]:
    """Write the run's status now and every `interval_s` until the returned task is cancelled, then once
    more with its end state. The first and last writes happen whatever the loop does meanwhile (a routine run
    may never yield to another task: it still gets both)."""
    view = RunView(sim, models, start_tick, until_tick, time.time())
    tracker, writer = Tracker(), StatusWriter(Path(save.root))
    writer.write(status_dict(view, tracker))

    async def keep() -> None:
        while True:
            await asyncio.sleep(interval_s)
            data = status_dict(view, tracker)
            await asyncio.to_thread(writer.write, data)  # an fsync must not stall the tick loop

    def last(_: asyncio.Task[None]) -> None:
        # the drive is over (done, stopped or failed): the last word, on the loop's thread (it waits for a
        # write still under way on the worker's)
        with contextlib.suppress(Exception):
            writer.write(status_dict(view, tracker, state="finished" if sim.tick >= until_tick else "stopped"))

    task = asyncio.get_running_loop().create_task(keep(), name="status.json")
    task.add_done_callback(last)
    return task
