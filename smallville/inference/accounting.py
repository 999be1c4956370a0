"""Accounting: what the town's thinking costs, by endpoint and by purpose, readable while a run goes on.

Owns the counters behind "how many calls, tokens and seconds did planning take, and which server served
them". Two views are kept because they answer different questions:
- by purpose (`plan`, `importance`, `conversation`, ...): one entry per *call* a caller made, with the
  retries, fallbacks and invalid answers it needed and whether it failed in the end;
- by endpoint: one entry per *HTTP request* sent there, with its outcome, so a flaky server shows up.
Latency percentiles come from a bounded reservoir per key, so a week-long run does not grow memory.
A `threading.Lock` guards everything: uncontended it costs well under a microsecond per update, and it
makes the counters safe from worker threads as well as from asyncio tasks.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_RESERVOIR = 4096


@dataclass(frozen=True)
class Totals:
    """What a run's summary reports about its thinking: the calls callers made (each counted once, however
    many retries it took), how they ended, the retries and the tokens."""

    calls: int
    ok: int
    failed: int
    retries: int
    prompt_tokens: int
    completion_tokens: int
    requests: int  # HTTP requests sent (retries and re-asks included); 0 for answers from a recording

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def line(self) -> str:
        """'77 model calls (0 ok, 77 failed, 385 retries), 0 tokens': the summary's line."""
        return (f"{self.calls:,} model calls ({self.ok:,} ok, {self.failed:,} failed, {self.retries:,} retries), "
                f"{self.tokens:,} tokens")


@dataclass
class _Latency:
    count: int = 0
    total: float = 0.0
    sample: list[float] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        if len(self.sample) < _RESERVOIR:
            self.sample.append(seconds)
        else:  # reservoir sampling keeps a uniform sample of everything seen
            slot = self.rng.randrange(self.count)
            if slot < _RESERVOIR:
                self.sample[slot] = seconds

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.sample)

        def pct(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

        return {"latency_s_sum": round(self.total, 6), "latency_s_mean": round(self.total / self.count, 6)
                if self.count else 0.0, "latency_s_p50": round(pct(0.50), 6), "latency_s_p95": round(pct(0.95), 6)}


@dataclass
class _PurposeStats:
    calls: int = 0
    ok: int = 0
    failed: int = 0
    retries: int = 0
    fallbacks: int = 0
    invalid_answers: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: _Latency = field(default_factory=_Latency)
    failures: dict[str, int] = field(default_factory=dict)


@dataclass
class _EndpointStats:
    requests: int = 0
    ok: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: _Latency = field(default_factory=_Latency)
    error_kinds: dict[str, int] = field(default_factory=dict)
    breaker_opened: int = 0


class Accounting:
    """Counters for calls (by purpose) and requests (by endpoint)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._purposes: dict[str, _PurposeStats] = {}
        self._endpoints: dict[str, _EndpointStats] = {}

    def _purpose(self, name: str) -> _PurposeStats:
        stats = self._purposes.get(name)
        if stats is None:
            stats = self._purposes[name] = _PurposeStats()
        return stats

    def _endpoint(self, name: str) -> _EndpointStats:
        stats = self._endpoints.get(name)
        if stats is None:
            stats = self._endpoints[name] = _EndpointStats()
        return stats

    # -- per HTTP request -----------------------------------------------------------------------------
    def request_ok(self, endpoint: str, purpose: str, latency_s: float, prompt_tokens: int,
                   completion_tokens: int) -> None:
        with self._lock:
            ep = self._endpoint(endpoint)
            ep.requests += 1
            ep.ok += 1
            ep.prompt_tokens += prompt_tokens
            ep.completion_tokens += completion_tokens
            ep.latency.add(latency_s)
            pu = self._purpose(purpose)
            pu.prompt_tokens += prompt_tokens
            pu.completion_tokens += completion_tokens

    def request_failed(self, endpoint: str, kind: str, latency_s: float) -> None:
        with self._lock:
            ep = self._endpoint(endpoint)
            ep.requests += 1
            ep.errors += 1
            ep.error_kinds[kind] = ep.error_kinds.get(kind, 0) + 1
            ep.latency.add(latency_s)

    def breaker_opened(self, endpoint: str) -> None:
        with self._lock:
            self._endpoint(endpoint).breaker_opened += 1

    # -- per call -------------------------------------------------------------------------------------
    def retry(self, purpose: str, fallback: bool) -> None:
        with self._lock:
            stats = self._purpose(purpose)
            stats.retries += 1
            stats.fallbacks += int(fallback)

    def invalid_answer(self, purpose: str) -> None:
        with self._lock:
            self._purpose(purpose).invalid_answers += 1

    def call_done(self, purpose: str, latency_s: float, error: str | None = None) -> None:
        """A caller's call finished; `error` is the exception class name when it raised."""
        with self._lock:
            stats = self._purpose(purpose)
            stats.calls += 1
            stats.latency.add(latency_s)
            if error is None:
                stats.ok += 1
            else:
                stats.failed += 1
                stats.failures[error] = stats.failures.get(error, 0) + 1

    # -- reading --------------------------------------------------------------------------------------
    def totals(self) -> Totals:
        """The run's totals, for its summary (cheap: no latency percentiles). Safe to call during a run."""
        with self._lock:
            purposes = list(self._purposes.values())
            requests = sum(e.requests for e in self._endpoints.values())
            return Totals(calls=sum(p.calls for p in purposes), ok=sum(p.ok for p in purposes),
                          failed=sum(p.failed for p in purposes), retries=sum(p.retries for p in purposes),
                          prompt_tokens=sum(p.prompt_tokens for p in purposes),
                          completion_tokens=sum(p.completion_tokens for p in purposes), requests=requests)

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe figures: `totals`, `by_purpose`, `by_endpoint`. Safe to call during a run."""
        with self._lock:
            purposes = {name: _purpose_dict(s) for name, s in sorted(self._purposes.items())}
            endpoints = {name: _endpoint_dict(s) for name, s in sorted(self._endpoints.items())}
        keys = ("calls", "ok", "failed", "retries", "fallbacks", "invalid_answers", "prompt_tokens",
                "completion_tokens")
        totals: dict[str, Any] = {k: sum(p[k] for p in purposes.values()) for k in keys}
        totals["latency_s_sum"] = round(sum(p["latency_s_sum"] for p in purposes.values()), 6)
        totals["requests"] = sum(e["requests"] for e in endpoints.values())
        return {"totals": totals, "by_purpose": purposes, "by_endpoint": endpoints}

    def save(self, path: Path | str) -> Path:
        """Write the snapshot as JSON (atomically: a reader never sees half a file)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(self.snapshot(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(target)
        return target


def _purpose_dict(s: _PurposeStats) -> dict[str, Any]:
    return {"calls": s.calls, "ok": s.ok, "failed": s.failed, "retries": s.retries, "fallbacks": s.fallbacks,
            "invalid_answers": s.invalid_answers, "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.completion_tokens, "failures": dict(sorted(s.failures.items())),
            **s.latency.summary()}


def _endpoint_dict(s: _EndpointStats) -> dict[str, Any]:
    return {"requests": s.requests, "ok": s.ok, "errors": s.errors, "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.completion_tokens, "error_kinds": dict(sorted(s.error_kinds.items())),
            "breaker_opened": s.breaker_opened, **s.latency.summary()}
