"""Vector search for memory retrieval: a cosine index over (id, vector) pairs.

Owns "which stored memories are nearest to this query vector". `VectorIndex(dim)` keeps L2-normalised
float32 vectors under caller-chosen int64 ids (the agents' memory node ids) in a FAISS `IndexFlatIP`
wrapped in `IndexIDMap2`, so the inner product is the cosine and search is exact (no training, no
approximation: a town's memory streams hold thousands of nodes, not millions).

Results are deterministic: equal scores are ordered by ascending id, and a tie that straddles the k-th
place is resolved by asking FAISS for more candidates rather than keeping whichever it met first.
Saving uses `faiss.write_index` (never pickle). Without FAISS installed the same API runs on plain
numpy (exact as well); that fallback is logged once and counted in `FALLBACKS`.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

log = logging.getLogger(__name__)

#: How often a degraded path was taken, by reason (read by `smallville doctor` / the bench).
FALLBACKS: Counter[str] = Counter()

Backend = Literal["auto", "faiss", "numpy"]
_NPZ_MAGIC = b"PK"  # numpy .npz files are zip archives; FAISS files start with a fourcc like b"IxM2"


def _faiss() -> Any | None:
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def _as_matrix(vectors: np.ndarray | Iterable[float] | Iterable[Iterable[float]], dim: int) -> np.ndarray:
    """float32 C-contiguous (n, dim), each row L2-normalised (zero rows stay zero); one vector is one row."""
    mat = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if mat.ndim == 1:
        mat = mat.reshape(1, -1)
    if mat.ndim != 2 or mat.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got shape {mat.shape}")
    if not np.isfinite(mat).all():
        raise ValueError("vectors contain NaN or infinity")
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    # Callers normally hand in normalised embeddings; normalising again is cheap and makes scores cosines
    # even for vectors from an endpoint that does not normalise.
    return np.ascontiguousarray(mat / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64))
    if arr.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {arr.shape}")
    return arr


def _rank(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best by descending score, then ascending id."""
    order = np.lexsort((ids, -scores))[:k]
    return ids[order].astype(np.int64), scores[order].astype(np.float32)


class VectorIndex:
    """Exact cosine search over vectors stored under unique int64 ids."""

    def __init__(self, dim: int, backend: Backend = "auto"):
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        faiss = _faiss() if backend in ("auto", "faiss") else None
        if faiss is None and backend == "faiss":
            raise ImportError("faiss is not installed (pip install faiss-cpu)")
        if faiss is None and backend == "auto":
            if not FALLBACKS["vectors:numpy"]:
                log.warning("faiss is not installed: vector search runs on plain numpy (exact, slower at scale)")
            FALLBACKS["vectors:numpy"] += 1
        self.backend: Literal["faiss", "numpy"] = "faiss" if faiss is not None else "numpy"
        self._faiss = faiss
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dim)) if faiss is not None else None
        self._ids: set[int] = set()
        # numpy backend storage (rows in insertion order, compacted on remove).
        self._np_ids = np.empty(0, dtype=np.int64)
        self._np_vecs = np.empty((0, dim), dtype=np.float32)

    @property
    def _faiss_module(self) -> Any:
        """The faiss module, asked for only where `self._index` is set (only faiss builds one)."""
        assert self._faiss is not None, "the numpy backend has no faiss"
        return self._faiss

    # -- contents -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, int | np.integer) and int(item) in self._ids

    def ids(self) -> np.ndarray:
        """All stored ids, ascending."""
        return np.array(sorted(self._ids), dtype=np.int64)

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray | Iterable[Iterable[float]]) -> None:
        """Store `vectors` (n, dim) under `ids` (n,). An id already present is an error, not a silent overwrite."""
        id_arr = _as_ids(ids)
        mat = _as_matrix(vectors, self.dim)
        if len(id_arr) != len(mat):
            raise ValueError(f"{len(id_arr)} ids for {len(mat)} vectors")
        if len(id_arr) == 0:
            return
        fresh = {int(i) for i in id_arr}
        if len(fresh) != len(id_arr):
            raise ValueError("duplicate ids in one add()")
        clash = fresh & self._ids
        if clash:
            raise ValueError(f"ids already in the index: {sorted(clash)[:10]}")
        if self._index is not None:
            self._index.add_with_ids(mat, id_arr)
        else:
            self._np_ids = np.concatenate([self._np_ids, id_arr])
            self._np_vecs = np.concatenate([self._np_vecs, mat])
        self._ids |= fresh

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Drop these ids (unknown ones are ignored); returns how many were removed."""
        gone = {int(i) for i in _as_ids(ids)} & self._ids
        if not gone:
            return 0
        arr = np.array(sorted(gone), dtype=np.int64)
        if self._index is not None:
            removed = int(self._index.remove_ids(self._faiss_module.IDSelectorBatch(arr)))
            if removed != len(gone):  # would mean our id set and FAISS disagree: a bug, not a user error
                raise RuntimeError(f"FAISS removed {removed} vectors, expected {len(gone)}")
        else:
            keep = ~np.isin(self._np_ids, arr)
            self._np_ids, self._np_vecs = self._np_ids[keep], self._np_vecs[keep]
        self._ids -= gone
        return len(gone)

    def vectors(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """The stored (normalised) vectors for these ids, in the given order."""
        id_arr = _as_ids(ids)
        missing = [int(i) for i in id_arr if int(i) not in self._ids]
        if missing:
            raise KeyError(f"ids not in the index: {missing[:10]}")
        if self._index is not None:
            return np.stack([self._index.reconstruct(int(i)) for i in id_arr]) if len(id_arr) else self._empty()
        pos = {int(i): n for n, i in enumerate(self._np_ids)}
        return self._np_vecs[[pos[int(i)] for i in id_arr]] if len(id_arr) else self._empty()

    def _empty(self) -> np.ndarray:
        return np.empty((0, self.dim), dtype=np.float32)

    # -- search ---------------------------------------------------------------------------------------

    def search(self, vector: np.ndarray | Iterable[float], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest ids (int64) and their cosine scores (float32), best first, ties by ascending id."""
        query = _as_matrix(vector, self.dim)
        if len(query) != 1:
            raise ValueError(f"search takes one vector, got {len(query)} (use search_many)")
        return self._search_one(query, k)

    def search_many(self, vectors: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search` for each row of `vectors`."""
        mat = _as_matrix(vectors, self.dim)
        return [self._search_one(mat[i : i + 1], k) for i in range(len(mat))]

    def _search_one(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self._ids)
        k = min(int(k), n)
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if self._index is None:
            scores = self._np_vecs @ query[0]
            return _rank(self._np_ids, scores, k)
        want = min(n, k + 1)  # one extra: a tie across the k-th place shows as an equal (k+1)-th score
        self._faiss_module.omp_set_num_threads(1)  # per thread; one query is faster on one thread than two spinning
        while True:
            # FAISS orders equal scores by storage position, which changes with removals; fetch until the
            # last candidate scores strictly below the k-th so every tied id is seen, then rank by id.
            scores, found = self._index.search(query, want)
            scores, found = scores[0], found[0]
            if want >= n or scores[want - 1] < scores[k - 1]:
                break
            want = min(n, want * 2)
        valid = found >= 0
        return _rank(found[valid], scores[valid], k)

    # -- files ----------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the index to `path` atomically (FAISS binary format, or .npz for the numpy backend)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        if self._index is not None:
            self._faiss_module.write_index(self._index, str(tmp))
        else:
            with open(tmp, "wb") as fh:
                np.savez(fh, dim=np.int64(self.dim), ids=self._np_ids, vectors=self._np_vecs)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path, backend: Backend = "auto") -> VectorIndex:
        """Read an index written by `save` (either format), into the requested backend."""
        path = Path(path)
        with open(path, "rb") as fh:
            head = fh.read(2)
        if head == _NPZ_MAGIC:
            with np.load(path, allow_pickle=False) as data:
                dim, ids, vecs = int(data["dim"]), data["ids"], data["vectors"]
        else:
            faiss = _faiss()
            if faiss is None:
                raise ImportError(f"{path} is a FAISS index but faiss is not installed (pip install faiss-cpu)")
            raw = faiss.read_index(str(path))
            if not isinstance(raw, faiss.IndexIDMap2):
                raise ValueError(f"{path}: not a smallville vector index ({type(raw).__name__})")
            dim = raw.d
            ids = faiss.vector_to_array(raw.id_map).astype(np.int64)
            if backend != "numpy" and _faiss() is not None:
                out = cls(dim, backend=backend)
                out._index = raw
                out._ids = {int(i) for i in ids}
                return out
            vecs = np.stack([raw.reconstruct(int(i)) for i in ids]) if len(ids) else np.empty((0, dim), np.float32)
        out = cls(dim, backend=backend)
        out.add(ids, vecs)
        return out
