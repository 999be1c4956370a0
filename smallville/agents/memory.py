"""The memory stream: one resident's memories and the paper's retrieval over them.

Owns what a resident remembers (observations, conversations, thoughts: plans and reflections are thoughts),
when each memory was made and last used, how important it is, what it cites, and *which memories come to
mind* for a query. It never calls a model: callers hand in the importance rating and the embedding.

Retrieval is exactly Park et al. 2023 (the paper, not the released code's 0.5/2/3 weights or its
rank-based recency). Over all candidate memories (all of them, or those of the `kinds` asked for):

- recency    = 0.995 ** (game hours since last access); hours = ticks * tick_seconds / 3600 (never negative);
- importance = the 1-10 rating;
- relevance  = cosine similarity of the memory's and the query's embeddings (both L2-normalised on entry);
- each of the three is min-max normalised to [0, 1] over the candidates. When every candidate shares one
  value (one candidate, or all rated 5, ...) that component cannot tell them apart and is 0 for all;
- score = w_rec * recency + w_imp * importance + w_rel * relevance (weights 1, 1, 1 by default);
- the top k by score, ties broken by the newer memory (higher id) first, so the result is total and
  deterministic; the returned memories' last access becomes `now_tick`. That is the only side effect.

Design. Min-max normalisation needs every candidate's cosine, so retrieval is not a nearest-neighbour
search: it scores all memories. The stream therefore keeps the vectors in one preallocated float32 matrix
(rows = memory ids, capacity doubling as it grows) and the scalar fields in numpy arrays beside it, and a
retrieval is a handful of vectorised passes: one matrix-vector product, an exp, three min-max, a weighted
sum and `np.argpartition` for the top k.

FAISS or numpy. Measured on the 2-core dev machine with 10,000 memories of dim 384, while other work kept
its load average at 2-3: FAISS's `IndexFlatIP.search` for all 10,000 scores took ~2.3 ms (it also sorts
them), for the top 10 ~0.7-1.4 ms; a numpy matrix-vector product ~0.3-0.5 ms on two BLAS threads but up to
~5 ms median and a p95 of ~12 ms whenever the other core is busy (OpenBLAS threads wait on each other),
~0.7-1.3 ms on one thread (p95 ~1.6-5 ms). FAISS's single-threaded SIMD kernel `fvec_inner_products_ny`,
run straight on the numpy matrix (no copy, no index), matches the one-thread figure without touching the
process's BLAS thread pool (which the embedder and others share), so the relevance pass uses it when FAISS
is installed and numpy's product otherwise. A `VectorIndex` would duplicate the vectors and cannot give
every score cheaply, so the stream does not keep one; `search` (top k by cosine alone, for callers that
only want relevance) runs on the same kernel at the index's speed (0.8-1.1 ms against 0.6-1.4 ms).
Whole retrieval (k = 30): ~1.3-1.4 ms median, p95 ~5.6 ms under that load (`smallville bench agents`).
Cosines agree to ~3e-8 between the two kernels; on one machine either is deterministic, across CPUs the
last bits may differ, which is why runs log retrieval results rather than recompute them on replay.
Calls are not thread-safe for one stream (one resident thinks on one task at a time).

Checkpoints: `state()` is JSON-safe (memories as dicts, the reflection accumulator), `vectors()` the
float32 matrix (written by the caller as .npy, never pickle); `from_state` restores them bit-exactly, so
retrieval before and after a round trip returns identical results.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np


def _load_faiss() -> ModuleType | None:
    """faiss when it has the fast path for the relevance pass (see the module docstring), else None."""
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is a dependency, this is for stripped installs
        return None
    return faiss if hasattr(faiss, "fvec_inner_products_ny") else None  # pragma: no branch - old builds lack it


_faiss = _load_faiss()

Kind = Literal["event", "chat", "thought"]
KINDS: tuple[Kind, ...] = ("event", "chat", "thought")
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}

#: Recency decay per game hour since last access (paper).
DECAY_PER_HOUR = 0.995
_LOG_DECAY = math.log(DECAY_PER_HOUR)
#: Summed importance since the last reflection that triggers the next one (paper; their 25-agent run used 250).
REFLECTION_THRESHOLD = 150
STATE_FORMAT = 1
#: Tags of the two thoughts a resident keeps of each talk it held (Park et al.'s "memo" and "planning"
#: thoughts, `smallville.agents.converse.digest`), each citing the talk's transcript as its evidence.
TALK_MEMO = "memo"
TALK_PLAN = "planning"
#: Tags whose importance does not add to the reflection trigger (see `MemoryStream.add`).
_NOT_COUNTED = frozenset(("reflection", TALK_MEMO, TALK_PLAN))


@dataclass(slots=True)
class Memory:
    """One node of the stream. Read-only for callers: the stream keeps `last_access` in step with its arrays."""

    id: int
    kind: Kind
    tag: str  # what made it: "observation", "plan", "reflection", "conversation", "seed", "inner_voice", ...
    description: str
    created: int  # tick
    last_access: int  # tick
    importance: int  # 1-10
    evidence: tuple[int, ...] = ()  # ids of the memories a thought cites
    subject: str | None = None  # the resident or object it is about

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "tag": self.tag, "description": self.description,
                "created": self.created, "last_access": self.last_access, "importance": self.importance,
                "evidence": list(self.evidence), "subject": self.subject}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Memory:
        return cls(id=int(d["id"]), kind=d["kind"], tag=str(d["tag"]), description=str(d["description"]),
                   created=int(d["created"]), last_access=int(d["last_access"]), importance=int(d["importance"]),
                   evidence=tuple(int(e) for e in d.get("evidence", ())), subject=d.get("subject"))


@dataclass(frozen=True, slots=True)
class RetrievalWeights:
    """Weights of the three normalised components (paper: all 1)."""

    recency: float = 1.0
    importance: float = 1.0
    relevance: float = 1.0

    def __post_init__(self) -> None:
        for name in ("recency", "importance", "relevance"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"retrieval weight {name} must be finite, got {getattr(self, name)}")


#: The paper's weights.
PAPER_WEIGHTS = RetrievalWeights()


@dataclass(frozen=True, slots=True)
class RetrievalHit:
    """A retrieved memory with its normalised components (each in [0, 1]) and their weighted sum."""

    memory: Memory
    recency: float
    importance: float
    relevance: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        """For the event log: which memory, which scores."""
        return {"id": self.memory.id, "recency": self.recency, "importance": self.importance,
                "relevance": self.relevance, "score": self.score}


def _minmax(x: np.ndarray) -> np.ndarray:
    """x scaled to [0, 1]; all zeros when every value is the same (the component cannot rank them)."""
    lo, hi = x.min(), x.max()
    if hi > lo:
        return (x - lo) / (hi - lo)
    return np.zeros_like(x)


def _top(score: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k best scores, best first; equal scores put the later position (newer id) first."""
    m = score.size
    if k < m:
        part = np.argpartition(score, m - k)[m - k:]
        # Every candidate tied with the k-th score joins the pool, so the tie-break is not argpartition's whim.
        pool = np.flatnonzero(score >= score[part].min())
    else:
        pool = np.arange(m)
    return pool[np.lexsort((-pool, -score[pool]))][:k]


class MemoryStream:
    """The memories of one resident, in creation order; ids are 0, 1, 2, ... and index the arrays."""

    def __init__(self, dim: int, tick_seconds: int = 10, capacity: int = 64):
        if dim <= 0 or tick_seconds <= 0:
            raise ValueError(f"dim and tick_seconds must be positive, got {dim}, {tick_seconds}")
        self.dim = dim
        self.tick_seconds = tick_seconds
        self._memories: list[Memory] = []
        self._by_subject: dict[str, list[int]] = {}
        self._memo_of: dict[int, int] = {}  # a talk's transcript id -> the id of the memo that sums it up
        self._since_reflection = 0
        capacity = max(1, capacity)
        self._vecs = np.zeros((capacity, dim), dtype=np.float32)
        self._last = np.zeros(capacity, dtype=np.int64)
        self._imp = np.zeros(capacity, dtype=np.float64)
        self._kind = np.zeros(capacity, dtype=np.int8)

    # -- contents -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._memories)

    def __iter__(self) -> Iterator[Memory]:
        return iter(self._memories)

    def get(self, memory_id: int) -> Memory:
        if not 0 <= memory_id < len(self._memories):
            raise KeyError(f"no memory {memory_id} (the stream holds {len(self._memories)})")
        return self._memories[memory_id]

    def recent(self, n: int, kinds: Iterable[Kind] | None = None) -> list[Memory]:
        """The n most recently added memories (of these kinds), oldest first, as a prompt lists them."""
        if n <= 0:
            return []
        if kinds is None:
            return self._memories[-n:]
        wanted, out = set(kinds), []
        for memory in reversed(self._memories):
            if memory.kind in wanted:
                out.append(memory)
                if len(out) == n:
                    break
        return out[::-1]

    def about(self, subject: str) -> list[Memory]:
        """The memories whose subject is `subject`, oldest first (the "memories about the other" of a talk)."""
        return [self._memories[i] for i in self._by_subject.get(subject, ())]

    def add(self, description: str, vector: np.ndarray | Sequence[float], *, kind: Kind, tag: str, created: int,
            importance: int, evidence: Iterable[int] = (), subject: str | None = None,
            counts_toward_reflection: bool | None = None) -> Memory:
        """Append a memory with its embedding; it is last accessed when created.

        `counts_toward_reflection` defaults to "everything but reflections, and a talk's memo and planning
        thought": the paper sums the importance of what the resident perceives and thinks, and letting
        insights feed the trigger would chain reflections off reflections; a talk's two thoughts restate the
        talk, which counts already (rated with it, they would weigh each talk three times). Bad input
        (unknown kind, importance outside 1-10, evidence that is not an earlier memory, a vector of the
        wrong size) is a caller bug and raises ValueError.
        """
        if kind not in _KIND_CODE:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if isinstance(importance, bool) or not isinstance(importance, int | np.integer) or not 1 <= importance <= 10:
            raise ValueError(f"importance must be an int from 1 to 10, got {importance!r}")
        new_id = len(self._memories)
        cited = tuple(int(e) for e in evidence)
        if any(not 0 <= e < new_id for e in cited):
            raise ValueError(f"evidence must cite earlier memories (0..{new_id - 1}), got {cited}")
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vec.shape != (self.dim,) or not np.isfinite(vec).all():
            raise ValueError(f"expected a finite vector of dimension {self.dim}, got shape {vec.shape}")
        norm = float(np.linalg.norm(vec))
        if norm > 0:  # a zero vector stays zero: cosine 0 with everything
            vec = vec / np.float32(norm)
        self._grow(new_id + 1)
        memory = Memory(new_id, kind, tag, description, int(created), int(created), int(importance), cited, subject)
        self._store(memory, vec)
        if counts_toward_reflection if counts_toward_reflection is not None else tag not in _NOT_COUNTED:
            self._since_reflection += memory.importance
        return memory

    def _grow(self, need: int) -> None:
        cap = len(self._last)
        if need <= cap:
            return
        while cap < need:
            cap *= 2  # amortised doubling: n adds copy O(n) rows in all
        n = len(self._memories)
        for name in ("_vecs", "_last", "_imp", "_kind"):
            old = getattr(self, name)
            new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
            new[:n] = old[:n]
            setattr(self, name, new)

    def _store(self, memory: Memory, vec: np.ndarray) -> None:
        i = memory.id
        self._memories.append(memory)
        self._vecs[i] = vec
        self._last[i] = memory.last_access
        self._imp[i] = memory.importance
        self._kind[i] = _KIND_CODE[memory.kind]
        if memory.subject is not None:
            self._by_subject.setdefault(memory.subject, []).append(i)
        if memory.tag == TALK_MEMO:
            for cited in memory.evidence:
                self._memo_of.setdefault(cited, i)

    def tagged(self, tag: str) -> list[Memory]:
        """The memories made with `tag`, oldest first: e.g. `TALK_PLAN`, what the resident meant to do after
        each talk (the planner's hook, docs/agents.md)."""
        return [m for m in self._memories if m.tag == tag]

    # -- what a prompt shows --------------------------------------------------------------------------

    def memo_of(self, memory_id: int) -> Memory | None:
        """The memo the resident wrote of the talk whose transcript is `memory_id`, if it wrote one."""
        found = self._memo_of.get(memory_id)
        return None if found is None else self._memories[found]

    def shown(self, memories: Iterable[Memory]) -> list[str]:
        """What a prompt shows of memories that came to mind, in their order, each once: a talk as the memo
        its resident wrote of it (who, what, when, where, in its own words) rather than its transcript,
        which a prompt would have to cut (and a memo retrieved beside its own talk is not repeated). Other
        memories as they are: `prompts.common.fit_memories` then fits them to the prompt's budget."""
        out: list[str] = []
        seen: set[int] = set()
        for memory in memories:
            shown = self._memo_of.get(memory.id, memory.id)
            if shown not in seen:
                seen.add(shown)
                out.append(self._memories[shown].description)
        return out

    # -- reflection trigger ---------------------------------------------------------------------------

    @property
    def importance_since_reflection(self) -> int:
        return self._since_reflection

    def needs_reflection(self, threshold: int = REFLECTION_THRESHOLD) -> bool:
        """True once the summed importance since the last reflection reaches `threshold` (the released code's
        `importance_trigger_curr <= 0`; the paper says "exceeds", one point apart)."""
        return self._since_reflection >= threshold

    def mark_reflected(self) -> None:
        self._since_reflection = 0

    # -- retrieval ------------------------------------------------------------------------------------

    def _query(self, query_vector: np.ndarray | Sequence[float]) -> np.ndarray:
        q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if q.shape != (self.dim,) or not np.isfinite(q).all():
            raise ValueError(f"expected a finite query vector of dimension {self.dim}, got shape {q.shape}")
        norm = float(np.linalg.norm(q))
        return np.ascontiguousarray(q / np.float32(norm) if norm > 0 else q)

    def _cosines(self, q: np.ndarray) -> np.ndarray:
        """Cosine of every stored memory with q (float32, length n)."""
        n = len(self._memories)
        out = np.empty(n, dtype=np.float32)  # fresh per call (µs): no scratch shared between callers
        if _faiss is not None:
            # One thread of SIMD dot products on the matrix in place; see the module docstring for why.
            _faiss.fvec_inner_products_ny(_faiss.swig_ptr(out), _faiss.swig_ptr(q), _faiss.swig_ptr(self._vecs),
                                          self.dim, n)
        else:
            np.matmul(self._vecs[:n], q, out=out)
        return out

    def _candidates(self, kinds: Iterable[Kind] | None) -> np.ndarray | None:
        """Row numbers of the candidates, or None for all of them (saves a gather on the common path)."""
        if kinds is None:
            return None
        wanted = list(kinds)
        unknown = [k for k in wanted if k not in _KIND_CODE]
        if unknown:
            raise ValueError(f"kinds must be among {KINDS}, got {unknown}")
        codes = [_KIND_CODE[k] for k in wanted]
        return np.flatnonzero(np.isin(self._kind[: len(self._memories)], codes))

    def _cosines_of_candidates(self, query_vector: np.ndarray | Sequence[float], k: int,
                               kinds: Iterable[Kind] | None) -> tuple[np.ndarray | None, np.ndarray] | None:
        """(candidate rows or None for all, cosines of every memory), or None when nothing can be returned.
        The query is checked before anything else, so a bad vector fails even on an empty stream."""
        q = self._query(query_vector)
        rows = self._candidates(kinds)
        if k <= 0 or not self._memories or (rows is not None and rows.size == 0):
            return None
        return rows, self._cosines(q)

    def retrieve(self, query_vector: np.ndarray | Sequence[float], now_tick: int, k: int,
                 weights: RetrievalWeights = PAPER_WEIGHTS, kinds: Iterable[Kind] | None = None,
                 touch: bool = True) -> list[RetrievalHit]:
        """The paper's retrieval (see the module docstring); marks the returned memories accessed at now_tick.

        `touch=False` leaves the stream unchanged (a pure read): the town's minds retrieve while thinking
        concurrently and mark the memories accessed later, with `touch`, at a fixed point of the tick."""
        found = self._cosines_of_candidates(query_vector, k, kinds)
        if found is None:
            return []
        rows, cos = found
        n = len(self._memories)
        if rows is None:
            rel, last, imp = cos.astype(np.float64), self._last[:n], self._imp[:n]
        else:
            rel, last, imp = cos[rows].astype(np.float64), self._last[rows], self._imp[rows]
        hours = np.maximum(now_tick - last, 0) * (self.tick_seconds / 3600.0)
        rec_n, imp_n, rel_n = _minmax(np.exp(hours * _LOG_DECAY)), _minmax(imp), _minmax(rel)
        score = weights.recency * rec_n + weights.importance * imp_n + weights.relevance * rel_n
        top = _top(score, k)
        chosen = top if rows is None else rows[top]
        if touch:
            self.touch(chosen.tolist(), now_tick)
        hits = []
        for pos, row in zip(top.tolist(), chosen.tolist(), strict=True):
            memory = self._memories[row]
            hits.append(RetrievalHit(memory, float(rec_n[pos]), float(imp_n[pos]), float(rel_n[pos]),
                                     float(score[pos])))
        return hits

    def touch(self, ids: Iterable[int], tick: int) -> None:
        """Mark memories accessed at `tick` (what `retrieve` does to what it returns). Never back in time: a
        memory touched later keeps its later access."""
        for i in ids:
            if tick > self._last[i]:
                self._last[i] = tick
                self._memories[i].last_access = int(tick)

    def search(self, query_vector: np.ndarray | Sequence[float], k: int,
               kinds: Iterable[Kind] | None = None) -> list[tuple[Memory, float]]:
        """The k memories nearest by cosine alone, best first (ties: newer first), with their cosines.

        Not the paper's retrieval: for callers that only want relevance (deduplicating a new observation,
        "have I heard this before?"). It does not mark anything accessed.
        """
        found = self._cosines_of_candidates(query_vector, k, kinds)
        if found is None:
            return []
        rows, cos = found
        rel = cos if rows is None else cos[rows]
        top = _top(rel, k)
        chosen = top if rows is None else rows[top]
        return [(self._memories[r], float(rel[p])) for p, r in zip(top.tolist(), chosen.tolist(), strict=True)]

    # -- checkpoints ----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-safe state; the embeddings travel separately as `vectors()`."""
        return {"format": STATE_FORMAT, "dim": self.dim, "tick_seconds": self.tick_seconds,
                "importance_since_reflection": self._since_reflection,
                "memories": [m.to_dict() for m in self._memories]}

    def vectors(self) -> np.ndarray:
        """The stored (normalised) embeddings, float32 (n, dim), row i = memory i. A copy."""
        return self._vecs[: len(self._memories)].copy()

    @classmethod
    def from_state(cls, state: dict[str, Any], vectors: np.ndarray, dim: int) -> MemoryStream:
        """Rebuild a stream from `state()` and `vectors()`; the vectors are taken as they are (no renormalising),
        so the round trip is bit-exact."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown memory stream state format {state.get('format')!r}")
        if int(state.get("dim", dim)) != dim:
            raise ValueError(f"state has dim {state.get('dim')}, expected {dim}")
        memories = [Memory.from_dict(d) for d in state["memories"]]
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.shape != (len(memories), dim):
            raise ValueError(f"expected vectors of shape {(len(memories), dim)}, got {vecs.shape}")
        stream = cls(dim, tick_seconds=int(state.get("tick_seconds", 10)), capacity=max(64, len(memories)))
        for i, memory in enumerate(memories):
            if memory.id != i or memory.kind not in _KIND_CODE:
                raise ValueError(f"memory {i} in the state is malformed: {memory}")
            stream._store(memory, vecs[i])
        stream._since_reflection = int(state["importance_since_reflection"])
        return stream

