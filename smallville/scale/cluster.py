"""Ray, started on this machine or joined by address: the session a scaled-out study runs in, and its end.

Owns importing Ray (lazily: the package works without it, and asking for workers without it is one line naming
`pip install ray`), starting a local instance (`address="local"`, so another user's `ray start` on the same
machine is never joined by surprise), joining a cluster by address with a deadline, checking the cluster can
place the group actors, and stopping what the command started when it ends, however it ends.

Why a child process probes a cluster address first: `ray.init(address=...)` waits inside Ray's C++ client for a
GCS that does not answer (40 s and more here, out of reach of a Python timeout or of Ctrl-C). The probe
(`python -m smallville.scale.probe ADDRESS`) joins, reports the cluster's nodes and CPUs, and leaves; if it
has not answered within `connect_timeout_s` it is killed and the command stops with one line. A refused port
is found faster still, by a plain TCP connect.

No orphans: `ray.shutdown()` runs on the way out of the `with` (a normal end, an error, Ctrl-C: asyncio turns
it into a cancellation that unwinds through here; SIGTERM: Ray's driver turns it into `SystemExit`). A driver
killed outright (SIGKILL) takes the local instance with it: Ray starts it fate-sharing with its driver.
Joining a cluster starts nothing there but the group actors, which are not detached and end with the driver.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import subprocess
import sys
from types import ModuleType, TracebackType
from typing import Any

from smallville.errors import SmallvilleError
from smallville.scale.settings import ScaleSettings

log = logging.getLogger(__name__)
INSTALL_HINT = "pip install ray (or pip install -e '.[dev]')"


class ScaleError(SmallvilleError):
    """The scale-out cannot go on: Ray missing, a cluster that does not answer, a group actor that failed."""


class WorkerLost(ScaleError):
    """A group actor (or its node) was lost and did not come back: the study stops; its save is kept."""


def import_ray() -> ModuleType:
    """Ray, or a one-line error saying how to get it."""
    try:
        import ray
    except ImportError:
        raise ScaleError(f"group actors (--workers above 1, or a cluster address) need Ray, which is not installed: "
                         f"{INSTALL_HINT}; or run with --workers 1 (everything in this process)") from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of 'host:port' or 'ray://host:port'; None for 'auto' or what cannot be parsed (Ray decides)."""
    bare = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = bare.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


_PROBED: dict[str, dict[str, Any]] = {}  # a command probes a cluster once (before making anything, then to join)


def probe(address: str, timeout_s: float) -> dict[str, Any]:
    """The cluster's nodes and CPUs, asked by a child process within `timeout_s`; `ScaleError` otherwise."""
    if address in _PROBED:
        return _PROBED[address]
    where = _host_port(address)
    if where is not None:
        try:
            socket.create_connection(where, timeout=min(timeout_s, 5.0)).close()
        except OSError as exc:
            raise ScaleError(f"the Ray cluster at {address} does not answer ({exc.strerror or exc}); check the "
                             "address ([scale] address, --ray-address or RAY_ADDRESS) and that `ray start --head` "
                             "runs there") from None
    try:
        done = subprocess.run([sys.executable, "-m", "smallville.scale.probe", address], capture_output=True,
                              text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        said = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        if "InvalidAuthToken" in said or "Unauthenticated" in said:
            # Ray retries a refused token until its own timeout: what it says so far is the reason
            raise ScaleError(f"the Ray cluster at {address} refuses this client's token: it runs with Ray's token "
                             "authentication; set RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN, or "
                             "~/.ray/auth_token) where the command runs") from None
        raise ScaleError(f"the Ray cluster at {address} did not answer within {timeout_s:g} s (connect_timeout_s); "
                         "check the address and that its head node runs `ray start --head`") from None
    lines = done.stdout.strip().splitlines()
    try:
        facts: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except ValueError:
        facts = {}
    if done.returncode != 0 or "error" in facts or "cpus" not in facts:
        reason = facts.get("error") or (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise ScaleError(f"the Ray cluster at {address} cannot be joined: {reason}")
    _PROBED[address] = facts
    return facts


def check(settings: ScaleSettings) -> None:
    """Before a command makes anything: Ray is there when workers are asked for, and a cluster named answers and
    has the CPUs the group actors reserve (one line otherwise)."""
    if not settings.uses_ray:
        return
    import_ray()
    address = settings.cluster_address
    if address:
        _enough(address, probe(address, settings.connect_timeout_s), settings)


def _enough(address: str, facts: dict[str, Any], s: ScaleSettings) -> None:
    needed = s.workers * s.actor_cpus
    if needed > float(facts["cpus"]):
        raise ScaleError(f"the Ray cluster at {address} has {facts['cpus']:g} CPUs; {s.workers} group actors of "
                         f"{s.actor_cpus:g} CPU each need {needed:g} (lower [scale] actor_cpus or workers)")


class _Hush(logging.Filter):
    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


class RaySession:
    """`with RaySession(settings):` Ray is up for the block (started here, joined, or already up in this
    process) and stopped after it if this session started or joined it."""

    def __init__(self, settings: ScaleSettings, *, label: str = "study"):
        self.settings = settings
        self.label = label
        self.owned = False
        self.description = ""
        self.ray: ModuleType | None = None

    def __enter__(self) -> RaySession:
        ray = import_ray()
        self.ray = ray
        s = self.settings
        needed = s.workers * s.actor_cpus
        if ray.is_initialized():  # a test module, or a benchmark, keeps one instance for many studies
            cpus = ray.cluster_resources().get("CPU", 0.0)
            self.description = f"the Ray instance already up in this process ({cpus:g} CPUs)"
            return self
        address = s.cluster_address
        if address:
            facts = probe(address, s.connect_timeout_s)
            _enough(address, facts, s)
            self._init(address=address)  # joined: disconnected on the way out (the cluster itself stays)
            self.description = (f"the Ray cluster at {address} ({facts['nodes']} node(s), {facts['cpus']:g} CPUs, "
                                f"Ray {facts.get('ray', '?')})")
        else:
            # this machine: as many CPUs as the group actors reserve, at least the cores (on 2 cores, 4 actors
            # of 1 CPU share them; Ray only books what each reserves)
            cpus = max(os.cpu_count() or 1, math.ceil(needed))
            # Ray's notice that its instance takes tokens says nothing to a user of one on this machine alone
            notice = logging.getLogger("ray._private.authentication.authentication_token_setup")
            hush = _Hush("Token authentication is enabled for this Ray cluster")
            notice.addFilter(hush)
            try:
                self._init(address="local", num_cpus=cpus, include_dashboard=False,
                           object_store_memory=s.object_store_mb * 1024 * 1024)
            finally:
                notice.removeFilter(hush)
            self.description = f"a local Ray instance ({cpus} CPUs booked on {os.cpu_count()} cores)"
        log.debug("%s: %s", self.label, self.description)
        return self

    def _init(self, **kwargs: Any) -> None:
        assert self.ray is not None
        self.owned = True
        try:
            self.ray.init(logging_level=logging.WARNING, log_to_driver=True, **kwargs)
        except BaseException as exc:
            self.ray.shutdown()  # whatever half of it started
            self.owned = False
            if isinstance(exc, Exception):
                raise ScaleError(f"Ray did not start ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})") \
                    from None
            raise

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.owned and self.ray is not None:
            self.ray.shutdown()
            self.owned = False
