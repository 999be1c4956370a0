"""A fake OpenAI-compatible server on loopback, for tests and benchmarks.

Owns a programmable stand-in for vLLM / llama.cpp / OpenAI: `/v1/models`, `/v1/chat/completions` and
`/v1/embeddings` over real HTTP/1.1 (keep-alive), so the client is tested through its real network path
rather than through mocks. A plain asyncio server (no framework) keeps it dependency-free and cheap
enough to serve 1,000 concurrent connections with 1 s latency, and to leave CPU for the client under
benchmark.

Behaviour is programmed with short specs, for the whole server (`default`)
or for the next requests in order (`script`): `ok`, `429[:retry_after]`, `500`, `503`, `401`, `404`,
`non_json`, `empty`, `garbage`, `bad_schema`, `length`, `drop`, `hang`, `slow:SECONDS`, or any
HTTP error status (`400`, `422`, ...); `models_route=False` takes `GET /v1/models` away. Schema answers
are minimal valid instances, unless `answers="module:function"` names a function (messages, schema) ->
JSON text that writes them (the agents' scripted model, for benchmarks of whole days). A server built
with `api_key=` answers 401 to any other key; a model it does not serve gets 404, as real servers do.
`kill()` stops answering (listener closed, open connections dropped) and `revive()` starts again on
the same port. `jitter_s` adds up to that many seconds to each answer's latency, drawn from `jitter_seed`,
so that concurrent requests come back in a shuffled order (the determinism tests of the agents).
Faults of servers gone wrong: `huge[:MB]` answers 200 with a completion of MB megabytes (default 10; a server
ignoring max_tokens), `huge_chunked[:MB]` the same without a Content-Length (chunked); `single_slot=True`
serves like llama-cpp-python's server: one generation at a time, `GET /v1/models` waits for it, and a
generation whose client has gone runs to its end (a request still queued then is dropped). The query
strings of the latest requests are kept (`recent_queries` in the stats).

Two ways to run it: `FakeServer` in a background thread (a context manager; tests), or a subprocess
(`FakeServerProcess`, or `python -m smallville.inference.fake_server --port P`; benchmarks, so that the
server does not share the client's interpreter lock) driven over `POST /_fake/control`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import signal
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

_SPECS = {"ok", "429", "non_json", "empty", "garbage", "bad_schema", "length", "drop", "hang", "slow", "huge",
          "huge_chunked"}


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    chunked: bool = False  # sent with Transfer-Encoding: chunked, so that the client cannot know its size

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(payload).encode(), headers=headers or {})


def _check_spec(spec: str) -> str:
    name, _, arg = spec.partition(":")
    if name not in _SPECS and not (name.isdigit() and 400 <= int(name) < 600):
        raise ValueError(f"unknown behaviour {spec!r}; an HTTP error status (400-599) or one of {sorted(_SPECS)}")
    if arg:
        float(arg)
    return spec


class FakeState:
    """What the server does next, and what it has seen. Shared by the event loop and the controlling thread."""

    def __init__(self, *, latency_s: float, models: list[str], api_key: str | None, embedding_dim: int,
                 answers: str | None = None, jitter_s: float = 0.0, jitter_seed: int = 0, single_slot: bool = False):
        self.single_slot = single_slot
        self.slot = asyncio.Lock()  # the one generation of a single-slot server (bound to the loop on first use)
        self.recent_queries: deque[str] = deque(maxlen=50)
        self.latency_s = latency_s
        self.jitter_s = jitter_s
        self._jitter = random.Random(jitter_seed)  # requests arrive in any order: the draws are seeded anyway
        self.answers = _load_answers(answers) if answers else None
        self.models = models
        self.api_key = api_key
        self.embedding_dim = embedding_dim
        self.models_route = True  # False: GET /v1/models answers 404, as on servers that have no such route
        self.default = "ok"
        self.queue: deque[str] = deque()
        self.requests = 0
        self.outcomes: dict[str, int] = {}
        self.paths: dict[str, int] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=50)  # last request bodies, for assertions
        self.auth_seen: set[str] = set()
        self.lock = threading.Lock()

    def apply(self, order: dict[str, Any]) -> None:
        with self.lock:
            if "latency_s" in order:
                self.latency_s = float(order["latency_s"])
            if "jitter_s" in order:
                self.jitter_s = float(order["jitter_s"])
            if "models_route" in order:
                self.models_route = bool(order["models_route"])
            if "default" in order:
                self.default = _check_spec(str(order["default"]))
            if "script" in order:
                self.queue.extend(_check_spec(str(s)) for s in order["script"])
            if order.get("reset"):
                self.queue.clear()
                self.default = "ok"

    def next_behaviour(self) -> str:
        with self.lock:
            return self.queue.popleft() if self.queue else self.default

    def latency(self) -> float:
        """Seconds before the next answer: the latency plus up to `jitter_s` more."""
        with self.lock:
            return self.latency_s + (self._jitter.random() * self.jitter_s if self.jitter_s > 0 else 0.0)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": self.requests, "paths": dict(self.paths), "outcomes": dict(self.outcomes),
                    "recent": list(self.recent), "queued": list(self.queue), "default": self.default,
                    "recent_queries": list(self.recent_queries),
                    "authorization_headers_seen": len(self.auth_seen)}


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json(status, {"error": {"message": message, "type": "invalid_request_error", "code": code}}, headers)


async def handle_request(state: FakeState, method: str, path: str, headers: dict[str, str], body: bytes,
                         gone: Callable[[], bool] | None = None) -> Reply:
    """The reply to one request; `gone()` says whether its client has left (single-slot servers ask)."""
    with state.lock:
        state.requests += 1
        state.paths[path] = state.paths.get(path, 0) + 1
    if path == "/v1/models" and method == "GET" and state.models_route:
        if state.single_slot:  # llama-cpp-python's server takes the model's lock for this route too
            async with state.slot:
                pass
        return Reply.json(200, {"object": "list", "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in state.models]})
    if path not in ("/v1/chat/completions", "/v1/embeddings") or method != "POST":
        return _error(404, f"no route {method} {path}", "not_found")
    if state.api_key is not None:
        given = headers.get("authorization", "")
        if given != f"Bearer {state.api_key}":
            state.count("401")
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
    try:
        request = json.loads(body)
        assert isinstance(request, dict)
    except (ValueError, AssertionError):
        return _error(400, "the body is not a JSON object", "bad_request")
    with state.lock:
        state.recent.append(request)
    if request.get("model") not in state.models:
        state.count("404")
        return _error(404, f"The model `{request.get('model')}` does not exist.", "model_not_found")
    if state.single_slot and path == "/v1/chat/completions":
        async with state.slot:
            if gone is not None and gone():  # queued while its client left: dropped, never generated
                state.count("gone")
                return Reply(0, b"", drop=True)
            return await _behave(state, path, request)
    return await _behave(state, path, request)


async def _behave(state: FakeState, path: str, request: dict[str, Any]) -> Reply:
    """Answer a checked chat or embeddings request as the next behaviour says."""
    behaviour = state.next_behaviour()
    name, _, arg = behaviour.partition(":")
    state.count(name)
    delay = float(arg) if name == "slow" and arg else state.latency()
    if delay > 0:
        await asyncio.sleep(delay)
    if name == "hang":
        await asyncio.sleep(3600)
    if name == "drop":
        return Reply(0, b"", drop=True)
    if name == "429":
        return _error(429, "Rate limit reached.", "rate_limit_exceeded", {"retry-after": arg or "1"})
    if name.isdigit():
        return _error(int(name), f"fake error {name}", f"fake_{name}")
    if name == "non_json":
        return Reply(200, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
    if path == "/v1/embeddings":
        return _embeddings(state, request)
    if name in ("huge", "huge_chunked"):
        reply = _chat(request, "ok", None, filler=int(float(arg or 10) * 1024 * 1024))
        reply.chunked = name == "huge_chunked"
        return reply
    return _chat(request, name, state.answers)


def _embeddings(state: FakeState, request: dict[str, Any]) -> Reply:
    texts = request.get("input", [])
    texts = [texts] if isinstance(texts, str) else texts
    data = []
    for i, text in enumerate(texts):
        digest = hashlib.sha256(str(text).encode()).digest()
        raw = [(digest[j % 32] + j) % 251 / 125.0 - 1.0 for j in range(state.embedding_dim)]
        norm = math.sqrt(sum(v * v for v in raw)) or 1.0
        data.append({"object": "embedding", "index": i, "embedding": [v / norm for v in raw]})
    tokens = sum(len(str(t)) // 4 + 1 for t in texts)
    return Reply.json(200, {"object": "list", "data": data, "model": request["model"],
                            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _load_answers(spec: str) -> Any:
    import importlib

    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def _chat(request: dict[str, Any], name: str, answers: Any = None, filler: int = 0) -> Reply:
    """A chat completion; `filler` characters replace the content (a server that ignores max_tokens)."""
    messages = request.get("messages") or []
    prompt_chars = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
    schema, fenced = requested_schema(request)
    if schema is not None:
        defs = schema.get("$defs", {})
        content = answers(messages, schema) if answers else json.dumps(minimal_instance(schema, defs))
        if fenced:  # prompt mode: answer like a chat model does, inside a code fence
            content = f"Here you go:\n```json\n{content}\n```"
    else:
        content = f"A fake answer to {len(messages)} message(s)."
    finish = "stop"
    if filler:
        content = "la " * (filler // 3)
    if name == "garbage":
        content = "Sure! {this is not JSON at all"
    elif name == "bad_schema":
        content = json.dumps(_schema_breaker(schema))
    elif name == "length":
        content, finish = content[: max(1, len(content) // 2)], "length"
    choices = [] if name == "empty" else [
        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish, "logprobs": None}]
    completion = len(content) // 4 + 1
    return Reply.json(200, {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": request["model"],
        "choices": choices,
        "usage": {"prompt_tokens": prompt_chars // 4 + 1, "completion_tokens": completion,
                  "total_tokens": prompt_chars // 4 + 1 + completion}})


def requested_schema(request: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """The JSON schema the answer must fit, from `response_format` (either form) or from the prompt."""
    fmt = request.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            return (fmt.get("json_schema") or {}).get("schema") or {}, False
        if fmt.get("type") == "json_object":
            return fmt.get("schema") or {}, False
    decoder = json.JSONDecoder()
    for message in request.get("messages") or []:
        text = str(message.get("content", "")) if isinstance(message, dict) else ""
        start = text.find('{"')
        while start != -1:
            try:
                obj, _ = decoder.raw_decode(text, start)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and "properties" in obj:
                return obj, True
            start = text.find('{"', start + 1)
    return None, False


def minimal_instance(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A small value that fits `schema` (the subset pydantic emits: refs, unions, enums, bounds, arrays)."""
    if "$ref" in schema:
        return minimal_instance(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and "type" not in schema and "anyOf" not in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return minimal_instance(options[0], defs)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return minimal_instance(merged, defs)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal_instance(props[k], defs) for k in schema.get("required", []) if k in props}
    if kind == "array":
        if "prefixItems" in schema:
            return [minimal_instance(s, defs) for s in schema["prefixItems"]]
        return [minimal_instance(schema.get("items", {}), defs) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        value = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else 0)
        value = min(value, schema.get("maximum", value))
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            value = schema["exclusiveMaximum"] - 1
        return math.ceil(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    text = {"date-time": "2023-02-13T08:00:00", "date": "2023-02-13", "time": "08:00:00"}.get(schema.get("format", ""))
    return text or "x" * max(1, schema.get("minLength", 1))


def _schema_breaker(schema: dict[str, Any] | None) -> Any:
    """Well-formed JSON that fits no object schema with required fields: every required value is wrong."""
    if schema and schema.get("required"):
        return {key: {"wrong": [1, 2]} for key in schema["required"]}
    return [1, 2, 3]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}
_MAX_HEAD = 64 * 1024
_MAX_BODY = 32 * 1024 * 1024


class _Dropped(Exception):
    """The programmed answer is to drop the connection."""


class _Connection(asyncio.Protocol):
    """One client connection: HTTP/1.1 requests answered one after another (keep-alive, no pipelining).

    A protocol rather than asyncio streams: no reader/writer pair and no read coroutines per connection,
    which halves the server's CPU per request. On the 2 cores a client benchmark runs on, the server takes
    that CPU from the client it measures.
    """

    def __init__(self, core: _Core):
        self.core = core
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None  # the request being answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.core.transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.core.transports.discard(self.transport)
        # the client is gone: stop working on its answer (e.g. a `hang`), unless this server is one that cannot
        if self.task is not None and not self.core.state.single_slot:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.task is None:
            self._next()

    def _next(self) -> None:
        """Start answering the next complete request in the buffer, if there is one."""
        assert self.transport is not None
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_HEAD:
                self.transport.abort()
            return
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        method, path, _ = [*lines[0].split(" ", 2), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.transport.abort()
            return
        if len(self.buffer) < end + 4 + length:
            return  # the body is still on its way
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.task = asyncio.get_running_loop().create_task(self._answer(method, path, headers, body))

    async def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        assert self.transport is not None
        if path.startswith("/_fake/"):
            reply = self.core.control(method, path, body)
        else:
            state = self.core.state
            route, _, query = path.partition("?")
            if query:
                with state.lock:
                    state.recent_queries.append(query)
            # the five-argument call unless a single-slot server needs more (tests wrap handle_request so)
            extra = {"gone": self.transport.is_closing} if state.single_slot else {}
            reply = await handle_request(state, method, route, headers, body, **extra)
        if self.transport.is_closing():  # a single-slot server finished an answer nobody waits for any more
            return
        if reply.drop:
            self.transport.abort()
            return
        keep_alive = headers.get("connection", "").lower() != "close"
        self.transport.write(_encode(reply, keep_alive))
        if not keep_alive:
            self.transport.close()
            return
        self.task = None
        self._next()


class _Core:
    """The asyncio side: listener and connections. Runs inside one event loop."""

    def __init__(self, state: FakeState, host: str, port: int):
        self.state = state
        self.host = host
        self.port = port
        self.server: asyncio.Server | None = None
        self.transports: set[asyncio.Transport] = set()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Connection(self), self.host, self.port, backlog=4096,
                                               reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for transport in list(self.transports):
            transport.abort()
        self.transports.clear()

    def control(self, method: str, path: str, body: bytes) -> Reply:
        if path == "/_fake/stats":
            return Reply.json(200, self.state.stats())
        if path == "/_fake/control" and method == "POST":
            try:
                order = json.loads(body or b"{}")
                self.state.apply(order)
            except (ValueError, TypeError) as exc:
                return Reply.json(400, {"error": {"message": str(exc)}})
            if order.get("kill"):
                # answer the control call first, then stop answering everything else
                asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(self.close()))
            return Reply.json(200, {"ok": True})
        return Reply.json(404, {"error": {"message": f"no such control path {path}"}})


def _encode(reply: Reply, keep_alive: bool) -> bytes:
    size = "transfer-encoding: chunked" if reply.chunked else f"content-length: {len(reply.body)}"
    head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}",
            f"content-type: {reply.content_type}", size,
            "connection: keep-alive" if keep_alive else "connection: close"]
    head += [f"{k}: {v}" for k, v in reply.headers.items()]
    body = reply.body
    if reply.chunked:
        step = 64 * 1024
        parts = [b"%x\r\n%s\r\n" % (len(body[i:i + step]), body[i:i + step]) for i in range(0, len(body), step)]
        body = b"".join(parts) + b"0\r\n\r\n"
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class _Programmable:
    """What both ways of running the fake server share: their address and how they are programmed."""

    @property
    def port(self) -> int:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def control(self, **order: Any) -> None:
        """Apply an order: `latency_s`, `jitter_s`, `default`, `script`, `reset`, `models_route` (see
        `FakeState.apply`)."""
        raise NotImplementedError

    def script(self, *specs: str) -> None:
        """The next requests (chat and embeddings) get these behaviours, in order; then the default."""
        self.control(script=list(specs))

    def set_default(self, spec: str) -> None:
        self.control(default=spec)

    def set_latency(self, seconds: float) -> None:
        self.control(latency_s=seconds)

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FakeServer(_Programmable):
    """The fake server in a background thread with its own event loop. Use as a context manager."""

    def __init__(self, *, latency_s: float = 0.0, models: Sequence[str] = ("fake-model",), api_key: str | None = None,
                 embedding_dim: int = 8, host: str = "127.0.0.1", port: int = 0, answers: str | None = None,
                 jitter_s: float = 0.0, jitter_seed: int = 0, single_slot: bool = False):
        self.state = FakeState(latency_s=latency_s, models=list(models), api_key=api_key, embedding_dim=embedding_dim,
                               answers=answers, jitter_s=jitter_s, jitter_seed=jitter_seed)
        self.state.single_slot = single_slot
        self._core = _Core(self.state, host, port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeServer:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._core.open())
            except BaseException as exc:  # reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._core.close())
            pending = asyncio.all_tasks(loop)
            for task in pending:  # e.g. requests held by `hang`
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None
            self._thread = None

    # -- programming -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._core.port

    def control(self, **order: Any) -> None:
        self.state.apply(order)

    def kill(self) -> None:
        """Stop answering: close the listener and drop every open connection."""
        self._call(self._core.close())

    def revive(self) -> None:
        self._call(self._core.open())

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    @property
    def requests(self) -> int:
        return self.state.requests

    def _call(self, coro: Any) -> None:
        assert self._loop is not None, "server not started"
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)


class FakeServerProcess(_Programmable):
    """The fake server in a child process (its own interpreter and core), driven over HTTP."""

    def __init__(self, *, latency_s: float = 0.0, models: Sequence[str] = ("fake-model",), api_key: str | None = None,
                 embedding_dim: int = 8, answers: str | None = None, jitter_s: float = 0.0, jitter_seed: int = 0):
        self.args = ["--latency", str(latency_s), "--embedding-dim", str(embedding_dim), "--jitter", str(jitter_s),
                     "--jitter-seed", str(jitter_seed)]
        if answers:
            self.args += ["--answers", answers]
        for model in models:
            self.args += ["--model", model]
        if api_key:
            self.args += ["--api-key-env", "SMALLVILLE_FAKE_SERVER_KEY"]
        self._key = api_key
        self._port = 0
        self._proc: Any = None

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> FakeServerProcess:
        import os
        import subprocess
        import sys

        env = dict(os.environ)
        if self._key:
            env["SMALLVILLE_FAKE_SERVER_KEY"] = self._key  # not on the command line, where `ps` shows it
        self._proc = subprocess.Popen([sys.executable, "-m", "smallville.inference.fake_server", "--port", "0",
                                       *self.args], stdout=subprocess.PIPE, env=env, text=True)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"fake server did not start: {line!r}")
        self._port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(5)
                except Exception:
                    self._proc.kill()
                    self._proc.wait(5)
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None

    def control(self, **order: Any) -> None:
        self._http("POST", "/_fake/control", order)

    def kill(self) -> None:
        self.control(kill=True)

    def stats(self) -> dict[str, Any]:
        return self._http("GET", "/_fake/stats", None)

    def _http(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def main(argv: Sequence[str] | None = None) -> None:
    import os

    parser = argparse.ArgumentParser(prog="python -m smallville.inference.fake_server",
                                     description="A fake OpenAI-compatible server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port (printed as 'listening PORT')")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this many seconds more, drawn per answer")
    parser.add_argument("--jitter-seed", type=int, default=0, help="seed of the jitter's draws")
    parser.add_argument("--model", action="append", default=None, help="a model served (repeatable)")
    parser.add_argument("--api-key-env", default=None, help="environment variable holding the only key accepted")
    parser.add_argument("--default", default="ok", help="behaviour spec for every request")
    parser.add_argument("--embedding-dim", type=int, default=8)
    parser.add_argument("--answers", default=None, help="module:function writing schema answers (default: minimal)")
    args = parser.parse_args(argv)
    key = os.environ.get(args.api_key_env) if args.api_key_env else None
    state = FakeState(latency_s=args.latency, models=args.model or ["fake-model"], api_key=key,
                      embedding_dim=args.embedding_dim, answers=args.answers, jitter_s=args.jitter,
                      jitter_seed=args.jitter_seed)
    state.apply({"default": args.default})

    async def serve() -> None:
        core = _Core(state, "127.0.0.1", args.port)
        await core.open()
        print(f"listening {core.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await core.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
