"""`smallville bench agents`: figures for the residents' cognition.

So far the memory stream: `retrieval_ms_10k` (target <= 2), the paper's retrieval (all three components,
min-max normalised, top 30 as reflection asks for) over one resident's stream of 10,000 memories with
random unit vectors of dim 384 (the local embedder's size), random kinds and importances, made over two
game days and recalled now and then on the way (so last accesses differ from creation times). Median and
p95 over many queries; each query also marks its hits accessed, as in a run. Beside it, relevance-only
top 10 through `MemoryStream.search` and through the project's FAISS `VectorIndex`, the figures behind
the memory module's choice of kernel. Seeded; prints nothing.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from smallville.agents.memory import KINDS, MemoryStream
from smallville.inference.vectors import VectorIndex

DIM = 384
N_MEMORIES = 10_000
TICK_SECONDS = 10
TWO_DAYS = 2 * 86_400 // TICK_SECONDS


def _unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    mat = rng.standard_normal((n, DIM)).astype(np.float32)
    return mat / np.linalg.norm(mat, axis=1, keepdims=True)


def build_stream(rng: np.random.Generator, n: int = N_MEMORIES) -> MemoryStream:
    """A stream of n random memories made over two game days, recalled now and then as a run would."""
    vecs = _unit_rows(rng, n)
    created = np.sort(rng.integers(0, TWO_DAYS, n))
    importance = rng.integers(1, 11, n)
    kinds = rng.integers(0, len(KINDS), n)
    recalls = _unit_rows(rng, n // 10)
    stream = MemoryStream(DIM, tick_seconds=TICK_SECONDS)
    for i in range(n):
        stream.add(f"memory {i}", vecs[i], kind=KINDS[int(kinds[i])], tag="observation", created=int(created[i]),
                   importance=int(importance[i]))
        if i % 10 == 9:  # so that last accesses spread beyond creation times
            stream.retrieve(recalls[i // 10], int(created[i]), 30)
    return stream


def _timed(queries: np.ndarray, fn: Callable[[int, np.ndarray], object]) -> tuple[float, float]:
    samples = []
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        fn(i, q)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def bench_retrieval(quick: bool = False) -> dict[str, Any]:
    rng = np.random.default_rng(20230213)
    stream = build_stream(rng)
    vecs = stream.vectors()
    queries = _unit_rows(rng, 200 if quick else 2000)
    for q in queries[:20]:  # warm caches and page in the matrix; not measured
        stream.search(q, 10)

    figures: dict[str, Any] = {"machine": f"{platform.machine()} {platform.python_implementation()} "
                                          f"{platform.python_version()}"}
    med, p95 = _timed(queries, lambda i, q: stream.retrieve(q, TWO_DAYS + i * 6, 30))
    figures["retrieval_ms_10k"], figures["retrieval_ms_10k_p95"] = round(med, 3), round(p95, 3)
    med, p95 = _timed(queries, lambda i, q: stream.search(q, 10))
    figures["search_ms_10k"], figures["search_ms_10k_p95"] = round(med, 3), round(p95, 3)

    index = VectorIndex(DIM)
    index.add(np.arange(len(vecs)), vecs)
    med, p95 = _timed(queries, lambda i, q: index.search(q, 10))
    figures["search_ms_10k_vector_index"], figures["search_ms_10k_vector_index_p95"] = round(med, 3), round(p95, 3)
    figures["vector_index_backend"] = index.backend
    return figures
