"""Shards: a population split into contiguous runs of agents, one per group actor, and merged back in agent order.

Owns the one rule that makes a scaled-out result identical to the in-process one: shard i holds agents
[n*i/k, n*(i+1)/k), each shard's results come back in its own agent order, and the shards are concatenated in
shard order. So the merged list is in agent order whatever order the shards finish in, and the same for every k.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def split(count: int, parts: int) -> list[range]:
    """`count` agents in at most `parts` contiguous, non-empty shards whose sizes differ by at most one."""
    if count < 0 or parts < 1:
        raise ValueError(f"cannot split {count} agents into {parts} shards")
    parts = min(parts, count) or 1
    bounds = [count * i // parts for i in range(parts + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i + 1] > bounds[i]] or [range(0)]


def merge(shards: Sequence[range], results: Sequence[Sequence[T] | None]) -> list[T]:
    """The shards' results concatenated in shard (so agent) order; each must hold one result per agent."""
    if len(results) != len(shards):
        raise ValueError(f"{len(results)} results for {len(shards)} shards")
    out: list[T] = []
    for shard, got in zip(shards, results, strict=True):
        if got is None or len(got) != len(shard):
            raise ValueError(f"shard {shard.start}..{shard.stop - 1}: {0 if got is None else len(got)} results for "
                             f"{len(shard)} agents")
        out.extend(got)
    return out
