"""Embeddings and vector search: the real local model, the cache, a remote endpoint (fake server), FAISS."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import numpy as np
import pytest

from smallville.errors import SaveError
from smallville.inference.base import AuthenticationFailed, EndpointUnavailable, InferenceError, ModelNotFound
from smallville.inference.embed import LOCAL_DIM, EmbeddingCache, LocalEmbedder, RemoteEmbedder
from smallville.inference.vectors import VectorIndex
from smallville.testing.fake_server import FakeServer

pytest.importorskip("sentence_transformers")
pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    emb = LocalEmbedder()
    asyncio.run(emb.warm())
    return emb


def embed(emb: LocalEmbedder | RemoteEmbedder, texts: list[str]) -> np.ndarray:
    return asyncio.run(emb.embed(texts))


# -- the real local model -----------------------------------------------------------------------------


def test_vectors_are_unit_float32_of_the_model_dimension(embedder: LocalEmbedder) -> None:
    vecs = embed(embedder, ["Isabella opens the cafe.", "Klaus writes his paper.", "Isabella opens the cafe."])
    assert vecs.shape == (3, LOCAL_DIM) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vecs[0], vecs[2])
    assert embed(embedder, []).shape == (0, LOCAL_DIM)


def test_similar_sentences_are_closer_than_unrelated_ones(embedder: LocalEmbedder) -> None:
    a, b, c = embed(embedder, ["Isabella is making coffee at Hobbs Cafe.",
                               "Isabella brews espresso for customers in her cafe.",
                               "The mayoral election debate was held at the town hall."])
    assert float(a @ b) > float(a @ c) + 0.2
    assert float(a @ b) > 0.5


def test_a_cached_text_costs_no_model_call(embedder: LocalEmbedder) -> None:
    texts = [f"Maria studies physics, page {i}." for i in range(5)]
    calls, hits = embedder.model_calls, embedder.cache.hits
    first = embed(embedder, texts)
    assert embedder.model_calls == calls + 1
    second = embed(embedder, list(reversed(texts)))
    assert embedder.model_calls == calls + 1  # no model call for cached texts
    assert embedder.cache.hits == hits + 5
    np.testing.assert_array_equal(first[::-1], second)
    second[0] += 1.0  # the caller's copy is theirs: the cache is unaffected
    np.testing.assert_array_equal(embed(embedder, texts[-1:])[0], first[-1])


def test_concurrent_callers_are_batched_and_deduplicated(embedder: LocalEmbedder) -> None:
    texts = [f"Agent {i} perceives a bird." for i in range(30)]

    async def crowd() -> list[np.ndarray]:
        return await asyncio.gather(*(embedder.embed([t, texts[0]]) for t in texts))

    calls = embedder.model_calls
    results = asyncio.run(crowd())
    # The first caller's text goes alone; the 29 queued behind it go together: 2 calls, not 30.
    assert embedder.model_calls - calls <= 2
    assert embedder.texts_embedded >= 30
    assert all(np.array_equal(r[1], results[0][0]) for r in results)


def test_the_cache_survives_a_save_and_load(embedder: LocalEmbedder, tmp_path: Path) -> None:
    texts = ["Tom complains about prices.", "Sam runs for mayor.", "ünïcode ☕ text"]
    vecs = embed(embedder, texts)
    npy, meta = embedder.cache.save(tmp_path / "emb")
    assert npy.name == "emb.npy" and meta.name == "emb.json"
    cache = EmbeddingCache.load(tmp_path / "emb.npy", model=embedder.name)
    fresh = LocalEmbedder(cache=cache)
    np.testing.assert_array_equal(embed(fresh, texts), vecs)
    assert fresh.model_calls == 0 and fresh._model is None  # answered from the file, model never loaded
    with pytest.raises(SaveError, match="made with model"):
        EmbeddingCache.load(tmp_path / "emb", model="another-model")
    body = json.loads(meta.read_text())
    body["texts"].pop()
    meta.write_text(json.dumps(body))
    with pytest.raises(SaveError, match="rows do not match"):
        EmbeddingCache.load(tmp_path / "emb")
    with pytest.raises(SaveError, match="missing"):
        EmbeddingCache.load(tmp_path / "nothing")


# -- a remote endpoint (the fake OpenAI-compatible server) -------------------------------------------


def test_remote_embedder_normalises_caches_and_names_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-very-secret-key-123"
    monkeypatch.setenv("SV_TEST_KEY", secret)
    with FakeServer(api_key=secret, embedding_dim=16, models=["emb-model"]) as server:
        emb = RemoteEmbedder(server.base_url, "emb-model", api_key_env="SV_TEST_KEY", name="fake", max_retries=0)
        vecs = embed(emb, ["a", "b", "a"])
        assert vecs.shape == (3, 16) and emb.dim == 16
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
        embed(emb, ["b"])
        assert emb.model_calls == 1

        server.script("500")
        with pytest.raises(EndpointUnavailable, match=r"\[fake\]"):
            embed(emb, ["c"])
        assert "c" not in emb.cache
        assert embed(emb, ["c"]).shape == (1, 16)  # a failure is not cached; the next call works

        lost = RemoteEmbedder(server.base_url, "no-such-model", api_key_env="SV_TEST_KEY", name="fake", max_retries=0)
        with pytest.raises(ModelNotFound):
            embed(lost, ["x"])

        monkeypatch.setenv("SV_TEST_KEY", secret + "-wrong")
        wrong = RemoteEmbedder(server.base_url, "emb-model", api_key_env="SV_TEST_KEY", name="fake", max_retries=0)
        with pytest.raises(AuthenticationFailed) as info:
            embed(wrong, ["x"])
        assert secret not in str(info.value) and "$SV_TEST_KEY" in str(info.value)


# -- the vector index -----------------------------------------------------------------------------------


def brute_force(ids: np.ndarray, vecs: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    scores = unit @ (query / np.linalg.norm(query))
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]


@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_index_matches_brute_force_and_removes(backend: str) -> None:
    rng = np.random.default_rng(5)
    ids = rng.permutation(np.arange(100, 2100))
    vecs = rng.standard_normal((2000, 32)).astype(np.float32)
    index = VectorIndex(32, backend=backend)  # type: ignore[arg-type]
    index.add(ids, vecs)
    assert len(index) == 2000 and index.backend == backend
    for query in rng.standard_normal((20, 32)).astype(np.float32):
        got_ids, got_scores = index.search(query, 10)
        want_ids, want_scores = brute_force(ids, vecs, query, 10)
        np.testing.assert_array_equal(got_ids, want_ids)
        np.testing.assert_allclose(got_scores, want_scores, atol=1e-5)
    query = vecs[7]
    assert index.search(query, 1)[0][0] == ids[7]
    assert index.remove([int(ids[7]), 999_999]) == 1
    assert len(index) == 1999 and int(ids[7]) not in index
    keep = ids != ids[7]
    np.testing.assert_array_equal(index.search(query, 5)[0], brute_force(ids[keep], vecs[keep], query, 5)[0])
    assert len(index.search(query, 5000)[0]) == 1999


@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_ties_are_broken_by_id_whatever_the_insertion_order(backend: str) -> None:
    rng = np.random.default_rng(1)
    same = rng.standard_normal(8).astype(np.float32)
    index = VectorIndex(8, backend=backend)  # type: ignore[arg-type]
    noise = rng.standard_normal((50, 8)).astype(np.float32)
    index.add(np.arange(1000, 1050), noise)
    index.add([42, 7, 300, 5, 99], np.tile(same, (5, 1)))
    index.remove([1000, 1001])  # reshuffles FAISS's storage order
    ids, scores = index.search(same, 3)
    assert list(ids) == [5, 7, 42] and np.allclose(scores, 1.0, atol=1e-5)


def test_index_rejects_bad_input() -> None:
    index = VectorIndex(4)
    index.add([1], [[1, 0, 0, 0]])
    with pytest.raises(ValueError, match="already in the index"):
        index.add([1], [[0, 1, 0, 0]])
    with pytest.raises(ValueError, match="dimension 4"):
        index.add([2], [[1, 0, 0]])
    with pytest.raises(ValueError, match="NaN"):
        index.add([3], [[np.nan, 0, 0, 0]])
    assert index.search([0, 0, 1, 0], 0)[0].size == 0
    assert VectorIndex(4).search([1, 0, 0, 0], 3)[0].size == 0


@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_index_save_and_load_round_trip(backend: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    vecs = rng.standard_normal((300, 16)).astype(np.float32)
    index = VectorIndex(16, backend=backend)  # type: ignore[arg-type]
    index.add(np.arange(300) * 3, vecs)
    index.remove([0, 3])
    path = tmp_path / "memory.index"
    index.save(path)
    assert not path.with_name("memory.index.tmp").exists()
    for target in ("faiss", "numpy"):
        loaded = VectorIndex.load(path, backend=target)  # type: ignore[arg-type]
        assert loaded.backend == target and loaded.dim == 16 and len(loaded) == 298
        np.testing.assert_array_equal(loaded.ids(), index.ids())
        for query in vecs[:5]:
            a, b = loaded.search(query, 7), index.search(query, 7)
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_allclose(a[1], b[1], atol=1e-6)
    assert os.path.getsize(path) >= 298 * 16 * 4


# -- hardening: each of these failed before its fix ---------------------------------------------------


def test_a_batch_the_cache_refuses_fails_its_callers_instead_of_hanging() -> None:
    emb = LocalEmbedder()
    emb._encode = lambda texts: np.ones((len(texts) + 1, LOCAL_DIM), dtype=np.float32)  # type: ignore[method-assign]

    async def go() -> None:
        with pytest.raises(InferenceError):
            await asyncio.wait_for(emb.embed(["one", "two"]), 5)
        with pytest.raises(TypeError):
            await emb.embed(["three", 4])  # type: ignore[list-item]
        assert not emb._inflight and not emb._queue  # nothing left behind for a later caller to wait on

    asyncio.run(go())
    assert emb._model is None  # never loaded: the fake encoder answered
