"""The memory stream: the paper's retrieval scores against hand-computed values, ties, access marking,
the reflection trigger, filters, checkpoints, growth, and agreement with a brute-force reference."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from smallville.agents.memory import KINDS, Memory, MemoryStream, RetrievalWeights

HOUR = 360  # ticks per game hour at 10 s a tick


def small_stream() -> MemoryStream:
    """Four memories in 2-d; the query is (1, 0), so a memory's cosine is its first coordinate."""
    s = MemoryStream(2, tick_seconds=10)
    s.add("Klaus reads at the library", [1.0, 0.0], kind="event", tag="observation", created=0, importance=1)
    s.add("Isabella plans a party", [0.0, 1.0], kind="event", tag="observation", created=10 * HOUR, importance=10)
    s.add("talked with Maria", [0.6, 0.8], kind="chat", tag="conversation", created=15 * HOUR, importance=4,
          subject="Maria Lopez")
    s.add("I should go to the party", [0.8, 0.6], kind="thought", tag="reflection", created=20 * HOUR,
          importance=7, evidence=(1, 2))
    return s


NOW = 20 * HOUR  # game hours since last access: m0 20, m1 10, m2 5, m3 0

# Hand computation (decimal arithmetic, 30 digits):
#   recency raw: 0.995**20 = 0.904610480274618, 0.995**10 = 0.951110130465772, 0.995**5 = 0.975248753121875, 1
#   min-max over the 4: range = 1 - 0.904610480274618 = 0.095389519725382
#     m0 -> 0; m1 -> (0.951110130465772 - 0.904610480274618) / 0.095389519725382 = 0.487471268594521
#     m2 -> (0.975248753121875 - 0.904610480274618) / 0.095389519725382 = 0.740524462756689; m3 -> 1
#   importance 1, 10, 4, 7 -> (i - 1) / 9 = 0, 1, 1/3, 2/3
#   relevance (cosine with (1, 0)) 1, 0, 0.6, 0.8 -> already spans [0, 1]: 1, 0, 0.6, 0.8
#   score (weights 1, 1, 1): m0 0 + 0 + 1 = 1
#                            m1 0.487471268594521 + 1 + 0 = 1.487471268594521
#                            m2 0.740524462756689 + 0.333333333333333 + 0.6 = 1.673857796090022
#                            m3 1 + 0.666666666666667 + 0.8 = 2.466666666666667
EXPECTED = {  # id: (recency, importance, relevance, score)
    3: (1.0, 2 / 3, 0.8, 2.466666666666667),
    2: (0.740524462756689, 1 / 3, 0.6, 1.673857796090022),
    1: (0.487471268594521, 1.0, 0.0, 1.487471268594521),
    0: (0.0, 0.0, 1.0, 1.0),
}


def test_retrieval_scores_match_hand_computed_values() -> None:
    hits = small_stream().retrieve([1.0, 0.0], NOW, k=4)
    assert [h.memory.id for h in hits] == [3, 2, 1, 0]
    for hit in hits:
        rec, imp, rel, score = EXPECTED[hit.memory.id]
        # float32 vectors: cosines carry ~1e-7 error, everything else is float64
        assert hit.recency == pytest.approx(rec, abs=1e-9)
        assert hit.importance == pytest.approx(imp, abs=1e-12)
        assert hit.relevance == pytest.approx(rel, abs=1e-6)
        assert hit.score == pytest.approx(score, abs=1e-6)
    assert hits[0].to_dict()["id"] == 3 and set(hits[0].to_dict()) == {"id", "recency", "importance",
                                                                         "relevance", "score"}


def test_query_and_memory_vectors_are_normalised_so_relevance_is_a_cosine() -> None:
    s = small_stream()
    s.add("scaled copy of m0", [5.0, 0.0], kind="event", tag="observation", created=0, importance=1)
    hits = {h.memory.id: h for h in s.retrieve([3.0, 0.0], NOW, k=5)}
    assert hits[4].relevance == pytest.approx(1.0) and hits[2].relevance == pytest.approx(0.6, abs=1e-6)


@pytest.mark.parametrize(("weights", "order"), [
    (RetrievalWeights(recency=0, importance=0, relevance=3), [0, 3, 2, 1]),  # cosines 1, .8, .6, 0
    (RetrievalWeights(recency=0, importance=1, relevance=0), [1, 3, 2, 0]),  # importance 10, 7, 4, 1
    (RetrievalWeights(recency=1, importance=0, relevance=0), [3, 2, 1, 0]),  # accessed 0, 5, 10, 20 h ago
    # the released code's 0.5/2/3: m1 .24 + 2 = 2.24; m0 3; m3 .5 + 1.33 + 2.4 = 4.23; m2 .37 + .67 + 1.8 = 2.84
    (RetrievalWeights(recency=0.5, importance=2, relevance=3), [3, 0, 2, 1]),
])
def test_weights_change_the_order(weights: RetrievalWeights, order: list[int]) -> None:
    assert [h.memory.id for h in small_stream().retrieve([1.0, 0.0], NOW, k=4, weights=weights)] == order


def test_weighted_score_is_the_weighted_sum() -> None:
    hit = small_stream().retrieve([1.0, 0.0], NOW, k=1, weights=RetrievalWeights(2, 0.5, 3))[0]
    assert hit.memory.id == 3  # 2 * 1 + 0.5 * 2/3 + 3 * 0.8 = 4.7333
    assert hit.score == pytest.approx(4.733333333333333, abs=1e-6)


def test_hours_come_from_the_clock_tick_length() -> None:
    s = MemoryStream(2, tick_seconds=60)  # 60 ticks a game hour
    for i in range(3):
        s.add(f"m{i}", [1.0, 0.0], kind="event", tag="observation", created=60 * i, importance=5)
    # hours since access 2, 1, 0 -> 0.990025, 0.995, 1 -> middle: (0.995 - 0.990025) / (1 - 0.990025) = 0.4987468...
    hits = {h.memory.id: h for h in s.retrieve([1.0, 0.0], 120, k=3)}
    assert hits[1].recency == pytest.approx(0.004975 / 0.009975, abs=1e-12)
    assert MemoryStream.from_state(s.state(), s.vectors(), 2).tick_seconds == 60


def test_weights_must_be_finite() -> None:
    with pytest.raises(ValueError):
        RetrievalWeights(relevance=math.nan)


def test_kinds_filter_normalises_over_the_candidates_only() -> None:
    s = small_stream()
    # Events only: m0 (20 h, importance 1, cos 1) and m1 (10 h, importance 10, cos 0).
    # recency -> 0, 1; importance -> 0, 1; relevance -> 1, 0; scores m0 = 1, m1 = 2.
    hits = s.retrieve([1.0, 0.0], NOW, k=5, kinds=["event"])
    assert [(h.memory.id, h.recency, h.importance, h.relevance, h.score) for h in hits] == [
        (1, 1.0, 1.0, 0.0, 2.0), (0, 0.0, 0.0, pytest.approx(1.0), pytest.approx(1.0))]
    # One candidate: every component shares its value, so every component is 0.
    [only] = s.retrieve([1.0, 0.0], NOW, k=3, kinds=["chat"])
    assert (only.memory.id, only.recency, only.importance, only.relevance, only.score) == (2, 0.0, 0.0, 0.0, 0.0)
    assert s.retrieve([1.0, 0.0], NOW, k=3, kinds=[]) == []
    with pytest.raises(ValueError):
        s.retrieve([1.0, 0.0], NOW, k=3, kinds=["dream"])
    assert [h.memory.id for h in s.retrieve([1.0, 0.0], NOW, k=5, kinds=["chat", "thought"])] == [3, 2]


def test_equal_scores_put_the_newer_memory_first_even_across_the_kth_place() -> None:
    def tied() -> MemoryStream:
        s = MemoryStream(3)
        for i in range(5):  # same vector and time; m0 is more important, the other four tie exactly
            s.add(f"m{i}", [0.0, 0.0, 1.0], kind="event", tag="observation", created=100,
                  importance=10 if i == 0 else 2)
        return s

    # recency and relevance are constant -> 0; importance -> m0 1, the rest 0: scores 1, 0, 0, 0, 0
    assert [h.memory.id for h in tied().retrieve([0.0, 1.0, 0.0], 200, k=2)] == [0, 4]
    assert [h.memory.id for h in tied().retrieve([0.0, 1.0, 0.0], 200, k=3)] == [0, 4, 3]
    assert [h.memory.id for h in tied().retrieve([0.0, 1.0, 0.0], 200, k=9)] == [0, 4, 3, 2, 1]
    # every component constant: every score is 0 and the order is newest first
    t = MemoryStream(2)
    for i in range(4):
        t.add(f"t{i}", [1.0, 0.0], kind="chat", tag="conversation", created=0, importance=5)
    hits = t.retrieve([1.0, 0.0], 0, k=3)
    assert [h.memory.id for h in hits] == [3, 2, 1] and {h.score for h in hits} == {0.0}


def test_retrieval_marks_only_the_returned_memories_accessed() -> None:
    s = small_stream()
    later = NOW + 30 * HOUR
    hits = s.retrieve([1.0, 0.0], later, k=2)
    returned = {h.memory.id for h in hits}
    assert returned == {3, 2}
    for m in s:
        assert m.last_access == (later if m.id in returned else m.created)
        assert m.created in (0, 10 * HOUR, 15 * HOUR, 20 * HOUR)  # creation never moves
    # The new access times drive the next retrieval: m2 and m3 are now the most recent (recency 1),
    # m0 (50 h) the least (0); m1 (40 h): (0.995**40 - 0.995**50) / (1 - 0.995**50) = 0.1880...
    rec = {h.memory.id: h.recency for h in s.retrieve([1.0, 0.0], later, k=4)}
    assert rec[2] == rec[3] == 1.0 and rec[0] == 0.0
    assert rec[1] == pytest.approx((0.995**40 - 0.995**50) / (1 - 0.995**50), abs=1e-12)
    assert s.state()["memories"][0]["last_access"] == later  # k=4 returned m0 this time


def test_search_is_relevance_only_and_has_no_side_effect() -> None:
    s = small_stream()
    found = s.search([1.0, 0.0], 3)
    assert [m.id for m, _ in found] == [0, 3, 2]
    assert [c for _, c in found] == pytest.approx([1.0, 0.8, 0.6], abs=1e-6)
    assert [m.last_access for m in s] == [m.created for m in s]
    assert [m.id for m, _ in s.search([1.0, 0.0], 3, kinds=["event"])] == [0, 1]


def test_reflection_trigger_at_the_threshold_and_reset() -> None:
    s = MemoryStream(2)
    for i in range(14):  # 14 * 10 = 140
        s.add(f"e{i}", [1.0, 0.0], kind="event", tag="observation", created=i, importance=10)
    s.add("e14", [1.0, 0.0], kind="event", tag="observation", created=14, importance=9)
    assert s.importance_since_reflection == 149 and not s.needs_reflection(150)
    s.add("insight", [0.0, 1.0], kind="thought", tag="reflection", created=15, importance=8, evidence=(0, 1))
    assert s.importance_since_reflection == 149  # reflections do not feed the trigger
    s.add("e15", [1.0, 0.0], kind="event", tag="observation", created=16, importance=1)
    assert s.importance_since_reflection == 150 and s.needs_reflection(150) and s.needs_reflection()
    assert not s.needs_reflection(151)
    s.mark_reflected()
    assert s.importance_since_reflection == 0 and not s.needs_reflection(150)
    s.add("plan", [1.0, 0.0], kind="thought", tag="plan", created=17, importance=3)
    s.add("quiet", [1.0, 0.0], kind="event", tag="observation", created=18, importance=9,
          counts_toward_reflection=False)
    assert s.importance_since_reflection == 3


def test_lookups_recent_about_get() -> None:
    s = small_stream()
    assert [m.id for m in s.recent(2)] == [2, 3]
    assert [m.id for m in s.recent(10)] == [0, 1, 2, 3]
    assert [m.id for m in s.recent(1, kinds=["event"])] == [1]
    assert s.recent(0) == []
    assert [m.id for m in s.about("Maria Lopez")] == [2] and s.about("nobody") == []
    assert s.get(3).evidence == (1, 2) and s.get(3).kind == "thought"
    with pytest.raises(KeyError):
        s.get(4)


@pytest.mark.parametrize("bad", [
    {"importance": 0}, {"importance": 11}, {"importance": 5.0}, {"importance": True}, {"kind": "dream"},
    {"evidence": (4,)}, {"vector": [1.0, 0.0, 0.0]}, {"vector": [math.inf, 0.0]},
])
def test_bad_memories_are_refused(bad: dict) -> None:
    s = small_stream()
    args = {"vector": [1.0, 0.0], "kind": "event", "tag": "observation", "created": 0, "importance": 5, **bad}
    with pytest.raises(ValueError):
        s.add("x", **args)
    assert len(s) == 4


def test_empty_stream_and_k_zero() -> None:
    assert MemoryStream(2).retrieve([1.0, 0.0], 0, k=5) == []
    assert small_stream().retrieve([1.0, 0.0], NOW, k=0) == []
    with pytest.raises(ValueError):
        small_stream().retrieve([1.0, 0.0, 0.0], NOW, k=1)


def test_growing_past_the_initial_capacity() -> None:
    rng = np.random.default_rng(5)
    vecs = rng.standard_normal((37, 4)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    s = MemoryStream(4, capacity=2)
    for i, v in enumerate(vecs):
        s.add(f"m{i}", v, kind="event", tag="observation", created=i, importance=1 + i % 10)
    assert len(s) == 37 and s.vectors().shape == (37, 4)
    np.testing.assert_allclose(s.vectors(), vecs, atol=1e-6)
    assert [m.id for m, _ in s.search(vecs[0], 1)] == [0] and [m.id for m, _ in s.search(vecs[36], 1)] == [36]
    assert len(s.retrieve(vecs[5], 40, k=50)) == 37


def random_stream(seed: int, n: int, dim: int) -> MemoryStream:
    rng = random.Random(seed)
    s = MemoryStream(dim, tick_seconds=10, capacity=8)
    for i in range(n):
        vec = [rng.gauss(0, 1) for _ in range(dim)]
        s.add(f"m{i}", vec, kind=KINDS[rng.randrange(3)], tag="observation", created=rng.randrange(0, 17280),
              importance=rng.randint(1, 10), subject=rng.choice([None, "Sam Moore", "Isabella Rodriguez"]))
    return s


def test_state_round_trip_is_exact() -> None:
    s = random_stream(1, 300, 16)
    q = np.random.default_rng(2).standard_normal(16)
    s.retrieve(q, 20_000, k=20)  # give some memories a later access time
    s.mark_reflected()
    s.add("after", q, kind="thought", tag="plan", created=20_001, importance=6)
    text = json.dumps(s.state())  # JSON-safe
    vecs = s.vectors()
    assert vecs.dtype == np.float32 and vecs.shape == (301, 16)
    t = MemoryStream.from_state(json.loads(text), vecs, 16)
    assert t.state() == s.state() and np.array_equal(t.vectors(), vecs)
    assert t.importance_since_reflection == 6 and [m.id for m in t.about("Sam Moore")] == [
        m.id for m in s.about("Sam Moore")]
    for i, query in enumerate(np.random.default_rng(3).standard_normal((5, 16))):
        a = [h.to_dict() for h in s.retrieve(query, 21_000 + i, k=15, kinds=["event", "chat"] if i % 2 else None)]
        b = [h.to_dict() for h in t.retrieve(query, 21_000 + i, k=15, kinds=["event", "chat"] if i % 2 else None)]
        assert a == b
    assert t.state() == s.state()
    with pytest.raises(ValueError):
        MemoryStream.from_state(s.state(), vecs[:-1], 16)


def brute_force(memories: list[Memory], vectors: list[list[float]], query: list[float], now: int, k: int,
                w: tuple[float, float, float], kinds: set[str] | None) -> list[tuple[int, float]]:
    """The paper's retrieval written out in plain Python, one memory at a time."""
    qn = math.sqrt(sum(x * x for x in query))
    rows = [m for m in memories if kinds is None or m.kind in kinds]
    rec = [0.995 ** (max(now - m.last_access, 0) * 10 / 3600) for m in rows]
    imp = [float(m.importance) for m in rows]
    rel = []
    for m in rows:
        v = vectors[m.id]
        rel.append(sum(a * b for a, b in zip(v, query, strict=True)) / (math.sqrt(sum(a * a for a in v)) * qn))

    def norm(xs: list[float]) -> list[float]:
        lo, hi = min(xs), max(xs)
        return [(x - lo) / (hi - lo) if hi > lo else 0.0 for x in xs]

    scores = [w[0] * a + w[1] * b + w[2] * c for a, b, c in zip(norm(rec), norm(imp), norm(rel), strict=True)]
    ranked = sorted(zip(rows, scores, strict=True), key=lambda p: (-p[1], -p[0].id))
    return [(m.id, sc) for m, sc in ranked[:k]]


@pytest.mark.parametrize(("k", "weights", "kinds"), [
    (30, (1.0, 1.0, 1.0), None), (10, (0.5, 2.0, 3.0), None), (25, (1.0, 1.0, 1.0), {"event", "thought"}),
    (700, (1.0, 0.0, 2.0), None),
])
def test_matches_a_brute_force_reference(k: int, weights: tuple[float, float, float], kinds: set[str] | None) -> None:
    rng = random.Random(11)
    dim, n = 12, 600
    vectors = [[rng.gauss(0, 1) for _ in range(dim)] for _ in range(n)]
    s = MemoryStream(dim, capacity=16)
    for i, v in enumerate(vectors):
        s.add(f"m{i}", v, kind=KINDS[rng.randrange(3)], tag="observation", created=rng.randrange(0, 17280),
              importance=rng.randint(1, 10))
    for m in rng.sample(range(n), 100):  # earlier retrievals moved some last accesses
        s.retrieve(vectors[m], 17_280 + m, k=1)
    for step in range(3):
        query = [rng.gauss(0, 1) for _ in range(dim)]
        now = 20_000 + step * 500
        expected = brute_force(list(s), vectors, query, now, k, weights, kinds)
        hits = s.retrieve(query, now, k, weights=RetrievalWeights(*weights), kinds=kinds)
        assert [h.memory.id for h in hits] == [i for i, _ in expected]
        assert [h.score for h in hits] == pytest.approx([sc for _, sc in expected], abs=1e-5)
        assert all(s.get(i).last_access == now for i, _ in expected)


def test_numpy_kernel_agrees_with_the_faiss_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    import smallville.agents.memory as memory_module

    query = np.random.default_rng(4).standard_normal(16)
    with_default = [h.to_dict() for h in random_stream(7, 400, 16).retrieve(query, 20_000, k=25)]
    monkeypatch.setattr(memory_module, "_faiss", None)
    with_numpy = [h.to_dict() for h in random_stream(7, 400, 16).retrieve(query, 20_000, k=25)]
    assert [d["id"] for d in with_numpy] == [d["id"] for d in with_default]
    assert [d["score"] for d in with_numpy] == pytest.approx([d["score"] for d in with_default], abs=1e-5)
