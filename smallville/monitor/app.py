"""The monitor's web app: one JSON API, one server-sent-events stream, and the page, all read-only.

Owns the HTTP side: routes, the stream, and the guards.
- `GET /api/runs`: every run under the saves folder (a row each); `GET /api/runs/{id}`: one run in detail;
  `GET /api/stream?run=ID`: both, pushed every second (server-sent events); `GET /`: the page, whose
  script, style and favicon come from this package (no build step, nothing from another site).
- Read-only: only GET and HEAD are answered; nothing here writes a file or reaches a run.
- Guards (`Guard`, an ASGI middleware around everything): with a token, every request must carry it (the
  `Authorization: Bearer` header, the cookie the page gets, or `?token=` once), compared in constant time;
  without one (only allowed on loopback) the Host header must be a loopback name, so that a web page
  elsewhere cannot read the API through DNS rebinding. Responses forbid framing, sniffing and any script
  or connection to another origin.
- Secrets: what reaches the page is built from saves whose URLs are stored masked; on top of that every
  response is scrubbed of the values of this process's environment variables named like keys and tokens
  (the monitor started beside a run inherits its environment, keys included) and of the monitor's token.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from smallville import __version__
from smallville.monitor import readers as rd
from smallville.monitor.files import JsonCache

log = logging.getLogger(__name__)

#: modules with a `register()` adding readers; a missing one (a kind not built yet) is skipped
READER_MODULES = ("smallville.monitor.town", "smallville.monitor.study", "smallville.games.monitor")
COOKIE = "smallville_monitor"
STREAM_INTERVAL_S = 1.0
_STATIC = {"monitor.js": "text/javascript; charset=utf-8", "monitor.css": "text/css; charset=utf-8",
           "favicon.svg": "image/svg+xml"}
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL", re.IGNORECASE)
_HEADERS = [
    (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def load_readers() -> None:
    for name in READER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that kind is not built yet
            raise
        module.register()


def secrets_from_env(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Values of variables named like keys or tokens (`OPENAI_API_KEY`, ...): never sent, even by accident."""
    env = os.environ if environ is None else environ
    return sorted({v for k, v in env.items() if _SECRET_NAME.search(k) and len(v.strip()) >= 8}, key=len, reverse=True)


class Monitor:
    """The runs under one saves folder, read on demand and shared by every client (a look is reused for
    half a second, so ten open tabs cost what one does)."""

    def __init__(self, root: Path):
        load_readers()
        self.root = root.resolve()  # absolute: ids are paths under it, whatever the working directory
        self.cache = JsonCache()
        self._lock = threading.Lock()
        self._looks: dict[str | None, tuple[float, dict[str, Any]]] = {}

    def _context(self) -> rd.Context:
        return rd.Context(self.root, self.cache)

    def find(self, rid: str) -> Any:
        """The run with this id (a folder under the saves folder: nothing outside it is ever read)."""
        if not rid or "\\" in rid or any(part in ("", ".", "..") for part in rid.split("/")):
            return None
        root = self.root
        folder = (root / rid).resolve()
        if not folder.is_relative_to(root) or folder == root or not folder.is_dir():
            return None
        return rd.identify(folder, root, self.cache)

    def runs(self, ctx: rd.Context | None = None) -> dict[str, Any]:
        ctx = ctx or self._context()
        rows = []
        for found in rd.scan(self.root, self.cache):
            try:
                rows.append(rd.reader_for(found.kind).row(found, ctx))
            except Exception as exc:  # a reader's bug on one folder must not take the page down
                log.exception("reading %s", found.path)
                found.problem = f"the monitor could not read it ({type(exc).__name__}: {exc})"
                rows.append(rd.base_row(found))
        # the runs going on first, then the newest; a folder that cannot be read last, but shown
        rows.sort(key=lambda r: (r["state"] != "running", r["state"] == "corrupt", -(r.get("started") or 0)))
        return {"saves": str(self.root), "now": ctx.now, "version": __version__, "kinds": rd.kinds(), "runs": rows,
                "note": None if self.root.is_dir() else f"{self.root} does not exist yet: no run has been saved there"}

    def detail(self, rid: str, ctx: rd.Context | None = None) -> dict[str, Any] | None:
        ctx = ctx or self._context()
        found = self.find(rid)
        if found is None:
            return None
        try:
            return rd.reader_for(found.kind).detail(found, ctx)
        except Exception as exc:
            log.exception("reading %s", found.path)
            found.problem = f"the monitor could not read it ({type(exc).__name__}: {exc})"
            return rd.corrupt_detail(found)

    def look(self, rid: str | None) -> dict[str, Any]:
        """The list and one run's detail, as the stream sends them."""
        now = time.monotonic()
        with self._lock:
            hit = self._looks.get(rid)
            if hit is not None and now - hit[0] < 0.5:
                return hit[1]
        ctx = self._context()
        out = self.runs(ctx)
        out["detail"] = self.detail(rid, ctx) if rid else None
        with self._lock:
            self._looks = {k: v for k, v in self._looks.items() if now - v[0] < 5} | {rid: (now, out)}
        return out


def _json_bytes(data: Any, scrub: Callable[[str], str]) -> bytes:
    return scrub(json.dumps(data, ensure_ascii=False, default=str, allow_nan=False)).encode("utf-8")


def _scrubber(secrets: list[str]) -> Callable[[str], str]:
    def scrub(text: str) -> str:
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text
    return scrub


def create_app(root: Path, *, token: str | None = None, loopback: bool = True) -> Any:
    """The ASGI app serving the runs under `root`. `token`: required of every request when given (it must
    be given when `loopback` is False: the caller checks, `serve.py`)."""
    from fastapi import FastAPI
    from fastapi.responses import Response
    from sse_starlette import EventSourceResponse

    monitor = Monitor(root)
    scrub = _scrubber(secrets_from_env() + ([token] if token else []))
    app = FastAPI(title="smallville monitor", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.monitor = monitor
    static = resources.files("smallville.monitor") / "static"

    def as_json(data: Any, status: int = 200) -> Response:
        return Response(_json_bytes(data, scrub), status_code=status, media_type="application/json")

    @app.get("/")
    def page() -> Response:
        return Response((static / "index.html").read_bytes(), media_type="text/html; charset=utf-8")

    @app.get("/static/{name}")
    def asset(name: str) -> Response:
        if name not in _STATIC:
            return as_json({"error": "no such file"}, 404)
        return Response((static / name).read_bytes(), media_type=_STATIC[name])

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response((static / "favicon.svg").read_bytes(), media_type=_STATIC["favicon.svg"])

    @app.get("/api/health")
    def health() -> Response:
        return as_json({"ok": True, "version": __version__})

    @app.get("/api/runs")
    async def runs() -> Response:
        return as_json(await asyncio.to_thread(monitor.runs))

    @app.get("/api/runs/{rid:path}")
    async def run(rid: str) -> Response:
        detail = await asyncio.to_thread(monitor.detail, rid)
        return as_json(detail, 200) if detail is not None else as_json({"error": f"no run {rid!r}"}, 404)

    @app.get("/api/stream")
    async def stream(run: str | None = None) -> Any:
        async def updates() -> AsyncIterator[dict[str, str]]:
            while True:
                started = time.monotonic()
                data = await asyncio.to_thread(monitor.look, run)
                yield {"event": "update", "data": _json_bytes(data, scrub).decode("utf-8")}
                # at least once a second, whatever a look costs
                await asyncio.sleep(max(0.05, STREAM_INTERVAL_S - (time.monotonic() - started)))
        return EventSourceResponse(updates(), ping=15, headers={"Cache-Control": "no-store"})

    return Guard(app, token=token, loopback=loopback)


class Guard:
    """Read-only, token and Host checks, and the safety headers, around the whole app (pure ASGI, so that
    the event stream passes through untouched)."""

    def __init__(self, app: Any, *, token: str | None, loopback: bool):
        self.app, self.loopback = app, loopback
        self._token = token.encode("utf-8") if token else None

    @property
    def monitor(self) -> Monitor:
        monitor: Monitor = self.app.state.monitor
        return monitor

    def _given(self, scope: Scope) -> tuple[bytes | None, bool]:
        """The token a request carries, and whether it came in the query (then the page gets the cookie)."""
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            return auth[7:].strip(), False
        query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0].encode("utf-8"), True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:  # a malformed cookie header is no token
            return None, False
        morsel = cookie.get(COOKIE)
        return (morsel.value.encode("utf-8"), False) if morsel else (None, False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _refuse(send, 405, "read-only: the monitor changes nothing")
            return
        headers = dict(scope.get("headers") or [])
        set_cookie = False
        if self._token is not None:
            given, from_query = self._given(scope)
            # constant time: the comparison says nothing about how much of a guess was right
            if given is None or not hmac.compare_digest(given, self._token):
                await _refuse(send, 401, "this monitor needs its token: open it with ?token=... "
                                         "(smallville monitor printed the address)")
                return
            set_cookie = from_query
        elif self.loopback and not _loopback_host(headers.get(b"host", b"")):
            await _refuse(send, 421, "this monitor answers to 127.0.0.1 and localhost only")
            return

        async def guarded(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = list(_HEADERS)
                if set_cookie and self._token is not None:
                    extra.append((b"set-cookie", COOKIE.encode() + b"=" + self._token +
                                  b"; HttpOnly; SameSite=Strict; Path=/"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, guarded)


def _loopback_host(host: bytes) -> bool:
    name = host.decode("latin-1").strip().lower()
    if name.startswith("["):
        name = name[1:name.find("]")] if "]" in name else name
    else:
        name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    return name in ("127.0.0.1", "localhost", "::1") or name.startswith("127.")


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *_HEADERS]})
    await send({"type": "http.response.body", "body": body})
