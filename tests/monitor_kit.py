"""Helpers for the monitor's tests: the monitor served for real on loopback, and plain HTTP to it."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def monitor(saves: Path, *, token: str | None = None) -> Iterator[str]:
    """The monitor app under uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    from smallville.monitor.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(saves, token=token), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the monitor did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body), for any status."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str, **kw: Any) -> Any:
    status, _, body = get(url, **kw)
    assert status == 200, (status, body[:500])
    return json.loads(body)


def row(runs: dict[str, Any], rid: str) -> dict[str, Any]:
    found = [r for r in runs["runs"] if r["id"] == rid]
    assert found, f"no row {rid!r} in {[r['id'] for r in runs['runs']]}"
    return found[0]
