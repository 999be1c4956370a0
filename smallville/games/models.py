"""The models a game thinks with: one server pool per model group, each watched for whether it can answer.

Owns the wiring from `[inference]` and `[[game.models]]` to live language models. A mixture of models pins
each group's players to that group's endpoints by giving the group a `ServerPool` of its own over those
endpoints only (the pool routes among the endpoints it is given; no change to the pool was needed). Without
groups, one group (`default`) uses every configured endpoint, or the embedded local server when none is
configured (started here, stopped on the way out).

Each group's model is wrapped, outermost, in the town's health watch (`inference/health.py`): a group whose
first `stop_after_failures` calls all fail (or whose endpoint refuses the key or the model) makes `fatal()`
say so, and the round stops with that one line. The pools count into `TallyAccounting`, so each call's tokens
reach the call book (`calls.py`). Tests and the benchmark pass their own models (`override`), watched and
counted the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from smallville.games.calls import TallyAccounting
from smallville.games.config import GuessSettings
from smallville.games.roster import DEFAULT_GROUP
from smallville.inference.accounting import Accounting
from smallville.inference.base import InferenceError, LanguageModel
from smallville.inference.health import HealthWatch, Watched
from smallville.inference.settings import EndpointSettings, InferenceSettings

MAX_DEFAULT_CONCURRENCY = 4096
Override = LanguageModel | Mapping[str, LanguageModel] | None
"""Models a caller brings (tests, the benchmark): one for every group, or one per group name."""


@dataclass
class Group:
    name: str
    lm: LanguageModel
    watch: HealthWatch
    accounting: Accounting
    description: str  # the endpoints and models, for the banner and the report
    concurrency: int


class ModelGroups:
    """`play.Models`: the model of each group, and the verdict over all of them."""

    def __init__(self, groups: dict[str, Group]):
        self.groups = groups

    def model_for(self, group: str) -> LanguageModel:
        return self.groups[group].lm

    def fatal(self, *, at_end: bool = False) -> InferenceError | None:
        for name in sorted(self.groups):
            error = self.groups[name].watch.fatal(at_end=at_end)
            if error is not None:
                return error
        return None

    @property
    def concurrency(self) -> int:
        return min(MAX_DEFAULT_CONCURRENCY, sum(g.concurrency for g in self.groups.values()))

    def describe(self) -> dict[str, str]:
        return {name: g.description for name, g in sorted(self.groups.items())}

    def failed_requests(self) -> str:
        """'fake: http_500 x10, timeout x2': how requests failed, per endpoint (what a stop message adds when the
        calls' own errors only say that every endpoint went out of rotation)."""
        parts = []
        for group in self.groups.values():
            for endpoint, stats in group.accounting.snapshot()["by_endpoint"].items():
                kinds = ", ".join(f"{k} x{n}" for k, n in stats["error_kinds"].items())
                if kinds:
                    parts.append(f"{endpoint}: {kinds}")
        return "; ".join(parts)

    def accounting(self) -> dict[str, Any]:
        return {name: g.accounting.snapshot() for name, g in sorted(self.groups.items())}


def _group_settings(inference: InferenceSettings, endpoints: list[EndpointSettings],
                    cfg: GuessSettings) -> InferenceSettings:
    # the game's own re-ask count: the pool's structured loop is where an invalid answer is asked again
    return inference.model_copy(update={"endpoints": endpoints, "answer_retries": cfg.answer_retries})


@contextlib.asynccontextmanager
async def open_models(inference: InferenceSettings, cfg: GuessSettings, *,
                      override: Override = None) -> AsyncIterator[ModelGroups]:
    """The game's model groups, opened for the `async with` and closed after it."""
    from smallville.inference.pool import ServerPool

    names = [g.name for g in cfg.models] or [DEFAULT_GROUP]
    groups: dict[str, Group] = {}
    async with contextlib.AsyncExitStack() as stack:
        if override is not None:
            for name in names:
                lm = override if not isinstance(override, Mapping) else override[name]
                accounting = TallyAccounting()
                watch = HealthWatch(inference.stop_after_failures)
                groups[name] = Group(name, Watched(lm, watch, accounting), watch, accounting, repr(lm),
                                     cfg.concurrency or 1024)
            yield ModelGroups(groups)
            return
        plans: list[tuple[str, list[EndpointSettings]]]
        if inference.uses_embedded_server:
            from smallville.inference.local import embedded_endpoints, start_servers

            plans = [(DEFAULT_GROUP, embedded_endpoints(start_servers(stack)))]
        elif cfg.models:
            by_name = {e.name: e for e in inference.endpoints}
            plans = [(g.name, [by_name[n] for n in g.endpoints]) for g in cfg.models]
        else:
            plans = [(DEFAULT_GROUP, list(inference.endpoints))]
        for name, endpoints in plans:
            accounting = TallyAccounting()
            pool = await stack.enter_async_context(ServerPool(_group_settings(inference, endpoints, cfg), accounting))
            watch = HealthWatch(inference.stop_after_failures)
            described = ", ".join(f"{e.name} ({e.model})" for e in endpoints)
            groups[name] = Group(name, Watched(pool, watch), watch, accounting, described,
                                 sum(e.max_concurrency for e in endpoints))
        yield ModelGroups(groups)


def planned_concurrency(inference: InferenceSettings, cfg: GuessSettings, override: Override = None) -> int:
    """Turns in flight when `concurrency` is not set: what `ModelGroups.concurrency` gives once the models are
    open, known from the settings alone (a driver whose models live in group actors opens none)."""
    if override is not None:
        per = [cfg.concurrency or 1024] * max(1, len(cfg.models))
    elif inference.uses_embedded_server:
        from smallville.inference.local import default_servers

        per = [default_servers()]  # the servers `open_models` starts, one request each
    elif cfg.models:
        by_name = {e.name: e for e in inference.endpoints}
        per = [sum(by_name[n].max_concurrency for n in g.endpoints) for g in cfg.models]
    else:
        per = [sum(e.max_concurrency for e in inference.endpoints)]
    return min(MAX_DEFAULT_CONCURRENCY, sum(per))


def for_workers(inference: InferenceSettings, workers: int) -> InferenceSettings:
    """The settings one of `workers` group actors opens its pools with: each endpoint's `max_concurrency`
    shared out (rounded up), so the K pools together keep each server at about what the config allows."""
    if workers <= 1:
        return inference
    endpoints = [e.model_copy(update={"max_concurrency": max(1, -(-e.max_concurrency // workers))})
                 for e in inference.endpoints]
    return inference.model_copy(update={"endpoints": endpoints})


_MAXED = ("latency_s_p50", "latency_s_p95")


def merge_accounting(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Several workers' `accounting()` ({group: Accounting.snapshot()}) as one: counts and sums added, the mean
    latency recomputed, and p50/p95 the largest of the workers' (percentiles do not add; each is exact over its
    own worker's requests). One snapshot comes back as it is."""
    if len(snapshots) == 1:
        return snapshots[0]
    out: dict[str, Any] = {}
    for snapshot in snapshots:
        out = _merged(out, snapshot)
    return _means(out)


def _merged(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        mine = out.get(key)
        if isinstance(value, dict):
            out[key] = _merged(mine if isinstance(mine, dict) else {}, value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if key in _MAXED:
                out[key] = max(float(mine or 0.0), float(value))
            else:
                out[key] = (mine or 0) + value
        else:
            out[key] = value
    return out


def _means(node: dict[str, Any]) -> dict[str, Any]:
    for value in node.values():
        if isinstance(value, dict):
            _means(value)
    if "latency_s_mean" in node:
        count = node.get("calls", node.get("requests", 0)) or 0
        node["latency_s_mean"] = round(node.get("latency_s_sum", 0.0) / count, 6) if count else 0.0
    for key in ("latency_s_sum", *_MAXED):
        if key in node:
            node[key] = round(float(node[key]), 6)
    return node
