"""Running the fake server: in a background thread (`FakeServer`) or in a process of its own (`FakeServerProcess`).

Owns the two lifecycles and how a test programs either one: `script`, `set_default`, `set_latency`,
`control` (the orders `faults.FakeState.apply` takes), `kill` and `stats`. `FakeServer` runs the listener on
an event loop in a daemon thread (tests: cheap, and its state is at hand); `FakeServerProcess` runs
`python -m smallville.testing.fake_server` (benchmarks: the server does not share the client's interpreter
lock) and programs it over `POST /_fake/control`. A child process cannot be handed a function, so its
answer source must be one of `answers.SOURCES`, passed on by name (`--answers scripted`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Coroutine, Sequence
from typing import Any, Self

from smallville.testing.fake_server.answers import SOURCES, Answers, name_of, source_named
from smallville.testing.fake_server.faults import FakeState
from smallville.testing.fake_server.wire import Listener

_KEY_ENV = "SMALLVILLE_FAKE_SERVER_KEY"


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
                 embedding_dim: int = 8, host: str = "127.0.0.1", port: int = 0, answers: Answers | None = None,
                 jitter_s: float = 0.0, jitter_seed: int = 0, single_slot: bool = False):
        self.state = FakeState(latency_s=latency_s, models=list(models), api_key=api_key, embedding_dim=embedding_dim,
                               answers=answers, jitter_s=jitter_s, jitter_seed=jitter_seed, single_slot=single_slot)
        self._listener = Listener(self.state, host, port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Self:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._listener.open())
            except BaseException as exc:  # reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._listener.close())
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
        return self._listener.port

    def control(self, **order: Any) -> None:
        self.state.apply(order)

    def kill(self) -> None:
        """Stop answering: close the listener and drop every open connection."""
        self._call(self._listener.close())

    def revive(self) -> None:
        """Answer again, on the same port."""
        self._call(self._listener.open())

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    @property
    def requests(self) -> int:
        return self.state.requests

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None, "server not started"
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)


class FakeServerProcess(_Programmable):
    """The fake server in a child process (its own interpreter and core), driven over HTTP. `answers` must be
    a registered answer source (`answers.SOURCES`): the child is told its name."""

    def __init__(self, *, latency_s: float = 0.0, models: Sequence[str] = ("fake-model",), api_key: str | None = None,
                 embedding_dim: int = 8, answers: Answers | None = None, jitter_s: float = 0.0, jitter_seed: int = 0):
        self.args = ["--latency", str(latency_s), "--embedding-dim", str(embedding_dim), "--jitter", str(jitter_s),
                     "--jitter-seed", str(jitter_seed)]
        if answers is not None:
            self.args += ["--answers", name_of(answers)]
        for model in models:
            self.args += ["--model", model]
        if api_key:
            self.args += ["--api-key-env", _KEY_ENV]
        self._key = api_key
        self._port = 0
        self._proc: subprocess.Popen[str] | None = None

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> Self:
        env = dict(os.environ)
        if self._key:
            env[_KEY_ENV] = self._key  # not on the command line, where `ps` shows it
        self._proc = subprocess.Popen([sys.executable, "-m", "smallville.testing.fake_server", "--port", "0",
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
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m smallville.testing.fake_server`: serve until SIGTERM or SIGINT, after printing 'listening PORT'."""
    parser = argparse.ArgumentParser(prog="python -m smallville.testing.fake_server",
                                     description="A fake OpenAI-compatible server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port (printed as 'listening PORT')")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this many seconds more, drawn per answer")
    parser.add_argument("--jitter-seed", type=int, default=0, help="seed of the jitter's draws")
    parser.add_argument("--model", action="append", default=None, help="a model served (repeatable)")
    parser.add_argument("--api-key-env", default=None, help="environment variable holding the only key accepted")
    parser.add_argument("--default", default="ok", help="behaviour spec for every request")
    parser.add_argument("--embedding-dim", type=int, default=8)
    parser.add_argument("--answers", default=None, choices=sorted(SOURCES),
                        help="the answer source writing schema answers (default: minimal valid instances)")
    args = parser.parse_args(argv)
    key = os.environ.get(args.api_key_env) if args.api_key_env else None
    state = FakeState(latency_s=args.latency, models=args.model or ["fake-model"], api_key=key,
                      embedding_dim=args.embedding_dim, answers=source_named(args.answers) if args.answers else None,
                      jitter_s=args.jitter, jitter_seed=args.jitter_seed)
    state.apply({"default": args.default})

    async def serve() -> None:
        listener = Listener(state, "127.0.0.1", args.port)
        await listener.open()
        print(f"listening {listener.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await listener.close()

    asyncio.run(serve())
