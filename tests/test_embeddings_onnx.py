"""The ONNX Runtime path of the local embedder: the same vectors as torch, exported once, and a counted
fallback to torch when it cannot be used."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
import pytest

from smallville.inference import embed, onnx_embed
from smallville.inference.embed import LocalEmbedder

TEXTS = [f"{who} is {what} at the {where}" for who in ("Isabella", "Sam", "Klaus") for what in
         ("reading", "talking about the election", "making coffee") for where in ("cafe", "park", "library")]


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture
def isolated_cache(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    return cache_home / "smallville"


def test_onnx_vectors_equal_torch_vectors_and_the_export_is_reused(isolated_cache: Path) -> None:
    fast, slow = LocalEmbedder(backend="onnx"), LocalEmbedder(backend="torch")
    a, b = asyncio.run(fast.embed(TEXTS)), asyncio.run(slow.embed(TEXTS))
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert float((a * b).sum(axis=1).min()) > 0.99999
    exported = list(isolated_cache.glob("minilm-*.onnx"))
    assert len(exported) == 1
    stamp = exported[0].stat().st_mtime_ns
    again = LocalEmbedder(backend="auto")
    asyncio.run(again.warm())
    assert again._onnx is not None and exported[0].stat().st_mtime_ns == stamp  # loaded, not exported again


def test_auto_falls_back_to_torch_logged_and_counted(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no ONNX today")

    monkeypatch.setattr(onnx_embed, "OnnxEncoder", broken)
    before = embed.FALLBACKS["embed:torch"]
    with caplog.at_level(logging.WARNING):
        vectors = asyncio.run(LocalEmbedder(backend="auto").embed(TEXTS[:3]))
    assert embed.FALLBACKS["embed:torch"] == before + 1
    assert "no ONNX today" in caplog.text and "using torch" in caplog.text
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    with pytest.raises(embed.InferenceError, match="ONNX Runtime backend unavailable"):
        asyncio.run(LocalEmbedder(backend="onnx").warm())
