"""The OpenAI-compatible API the fake server plays: what one request gets, as a `Reply`.

Owns the routes (`GET /v1/models`, `POST /v1/chat/completions`, `POST /v1/embeddings`), the checks real
servers make (a server built with `api_key=` answers 401 to any other key; a model it does not serve gets
404), the programmed behaviour carried out (`faults.py` says what each spec means) and the completion and
embedding bodies. No sockets here: `wire.py` reads requests off the connection and writes the `Reply`.

Tests replace `handle_request` or `_chat` on this module to serve odd bodies; both are looked up here at
each call, so such a replacement takes effect.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smallville.testing.fake_server.answers import Answers, embedding, requested_schema, schema_answer
from smallville.testing.fake_server.faults import FakeState, schema_breaker


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
        # one generation at a time, like llama-cpp-python's server; a generation whose client has gone still
        # runs to its end (wire.py does not cancel it), and a request still queued then is dropped
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
    data = [{"object": "embedding", "index": i, "embedding": embedding(str(text), state.embedding_dim)}
            for i, text in enumerate(texts)]
    tokens = sum(len(str(t)) // 4 + 1 for t in texts)
    return Reply.json(200, {"object": "list", "data": data, "model": request["model"],
                            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _chat(request: dict[str, Any], name: str, answers: Answers | None = None, filler: int = 0) -> Reply:
    """A chat completion under behaviour `name`; `filler` characters replace the content (a server that
    ignores max_tokens)."""
    messages = request.get("messages") or []
    prompt_chars = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
    schema, fenced = requested_schema(request)
    if schema is not None:
        content = schema_answer(messages, schema, answers)
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
        content = json.dumps(schema_breaker(schema))
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
