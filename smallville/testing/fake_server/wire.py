"""The fake server's HTTP/1.1 on asyncio: the listener, its connections and the control routes.

Owns the bytes: requests read off each connection (keep-alive, one after another, no pipelining), handed
to `api.handle_request`, and its `Reply` written back (with a Content-Length, or chunked). A plain asyncio
protocol, no framework, keeps the fake dependency-free and cheap enough to serve 1,000 concurrent
connections with 1 s latency while leaving the CPU to the client under benchmark. Also owns the routes
under `/_fake/` that program a server in another process (`POST /_fake/control`, `GET /_fake/stats`), and
`kill` (close the listener, drop every open connection: a server gone away).
"""

from __future__ import annotations

import asyncio
import json

from smallville.testing.fake_server import api
from smallville.testing.fake_server.faults import FakeState

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}
_MAX_HEAD = 64 * 1024
_MAX_BODY = 32 * 1024 * 1024


class _Connection(asyncio.Protocol):
    """One client connection: HTTP/1.1 requests answered one after another (keep-alive, no pipelining).

    A protocol rather than asyncio streams: no reader/writer pair and no read coroutines per connection,
    which halves the server's CPU per request. On the 2 cores a client benchmark runs on, the server takes
    that CPU from the client it measures.
    """

    def __init__(self, listener: Listener):
        self.listener = listener
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None  # the request being answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.listener.transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.listener.transports.discard(self.transport)
        # the client is gone: stop working on its answer (e.g. a `hang`), unless this server is one that cannot
        if self.task is not None and not self.listener.state.single_slot:
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
            reply = self.listener.control(method, path, body)
        else:
            state = self.listener.state
            route, _, query = path.partition("?")
            if query:
                with state.lock:
                    state.recent_queries.append(query)
            # the five-argument call unless a single-slot server needs more (tests wrap handle_request so);
            # `api.handle_request` is looked up at each call so that such a wrapper is the one called
            extra = {"gone": self.transport.is_closing} if state.single_slot else {}
            reply = await api.handle_request(state, method, route, headers, body, **extra)
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


class Listener:
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

    def control(self, method: str, path: str, body: bytes) -> api.Reply:
        if path == "/_fake/stats":
            return api.Reply.json(200, self.state.stats())
        if path == "/_fake/control" and method == "POST":
            try:
                order = json.loads(body or b"{}")
                self.state.apply(order)
            except (ValueError, TypeError) as exc:
                return api.Reply.json(400, {"error": {"message": str(exc)}})
            if order.get("kill"):
                # answer the control call first, then stop answering everything else
                asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(self.close()))
            return api.Reply.json(200, {"ok": True})
        return api.Reply.json(404, {"error": {"message": f"no such control path {path}"}})


def _encode(reply: api.Reply, keep_alive: bool) -> bytes:
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
