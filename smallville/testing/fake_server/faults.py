"""The fake server's fault modes: how it is told to misbehave, and the state that remembers it.

Behaviour is programmed with short specs, for the whole server (`default`) or for the next requests in
order (`script`):
- `ok`: a normal answer; `slow:SECONDS`: a normal answer that late; `hang`: no answer for an hour;
- `drop`: the connection is closed without an answer;
- `429[:retry_after]`, `500`, `503`, `401`, `404` or any HTTP error status (`400`, `422`, ...);
- `non_json`: an HTML error page with status 200; `empty`: a completion with no choices;
- `garbage`: content that is not JSON; `bad_schema`: JSON that fits no schema asked (`schema_breaker`);
  `length`: half the content, cut with finish_reason `length`;
- `huge[:MB]`: a completion of MB megabytes (default 10; a server ignoring max_tokens), `huge_chunked[:MB]`
  the same without a Content-Length (chunked).
`models_route=False` takes `GET /v1/models` away; `latency_s` delays every answer and `jitter_s` adds up to
that many seconds more, drawn from `jitter_seed`, so that concurrent requests come back in a shuffled order
(the determinism tests of the agents). A `single_slot` server serves like llama-cpp-python's: one
generation at a time (see `api.handle_request`).

`FakeState` holds all of it, with what the server has seen (counts by path and outcome, the latest request
bodies and query strings) for the tests' assertions. It is shared by the server's event loop and the
thread that programs it, hence its lock.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import deque
from typing import Any

from smallville.testing.fake_server.answers import Answers

SPECS = {"ok", "429", "non_json", "empty", "garbage", "bad_schema", "length", "drop", "hang", "slow", "huge",
         "huge_chunked"}


def check_spec(spec: str) -> str:
    """`spec` if it is a behaviour (see the module docstring); ValueError otherwise."""
    name, _, arg = spec.partition(":")
    if name not in SPECS and not (name.isdigit() and 400 <= int(name) < 600):
        raise ValueError(f"unknown behaviour {spec!r}; an HTTP error status (400-599) or one of {sorted(SPECS)}")
    if arg:
        float(arg)
    return spec


def schema_breaker(schema: dict[str, Any] | None) -> Any:
    """Well-formed JSON that fits no object schema with required fields: every required value is wrong."""
    if schema and schema.get("required"):
        return {key: {"wrong": [1, 2]} for key in schema["required"]}
    return [1, 2, 3]


class FakeState:
    """What the server does next, and what it has seen. Shared by the event loop and the controlling thread."""

    def __init__(self, *, latency_s: float, models: list[str], api_key: str | None, embedding_dim: int,
                 answers: Answers | None = None, jitter_s: float = 0.0, jitter_seed: int = 0,
                 single_slot: bool = False):
        self.single_slot = single_slot
        self.slot = asyncio.Lock()  # the one generation of a single-slot server (bound to the loop on first use)
        self.recent_queries: deque[str] = deque(maxlen=50)
        self.latency_s = latency_s
        self.jitter_s = jitter_s
        self._jitter = random.Random(jitter_seed)  # requests arrive in any order: the draws are seeded anyway
        self.answers = answers
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
        """Apply an order: `latency_s`, `jitter_s`, `models_route`, `default`, `script`, `reset`."""
        with self.lock:
            if "latency_s" in order:
                self.latency_s = float(order["latency_s"])
            if "jitter_s" in order:
                self.jitter_s = float(order["jitter_s"])
            if "models_route" in order:
                self.models_route = bool(order["models_route"])
            if "default" in order:
                self.default = check_spec(str(order["default"]))
            if "script" in order:
                self.queue.extend(check_spec(str(s)) for s in order["script"])
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
