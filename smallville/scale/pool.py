"""The worker pool a study plays on: one group in this process, or K group actors on Ray, behind one interface.

Owns handing out jobs to workers and bringing their items back: `run(jobs, on_item)` gives each job (a shard of
a round, a seed) to a worker, and passes every item the job yields to `on_item(job index, item)` in the driver
as it arrives (call records to write, progress, the job's result). A job is given as a function of its
attempt number, so that a job redone after its worker was lost can carry what was recorded before the loss.

- `InProcessPool` (`workers = 1`, no address): the group lives in this process and its jobs run in the
  driver's own event loop; Ray is never imported.
- `RayPool`: K `GroupActor`s (`actor.py`), placed by Ray (`SPREAD` over a cluster's nodes, each reserving
  `actor_cpus`), each building its own group from the factory. A worker lost mid-job (its process killed, its
  node gone) is restarted by Ray (`actor_restarts`); the pool waits up to `restart_timeout_s` for it, opens its
  group again and redoes the job from attempt + 1; one that does not come back stops the study with
  `WorkerLost`, one line naming the actor and its node. Every loss and restart is logged.

`open_pool` starts the one or the other (and Ray with it, `cluster.RaySession`) and closes it on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from smallville.scale.actor import Group, GroupActor, GroupFactory, Refused, describe, node_facts, peak_rss_mb
from smallville.scale.cluster import RaySession, ScaleError, WorkerLost
from smallville.scale.settings import ScaleSettings

log = logging.getLogger(__name__)
JobMaker = Callable[[int], Any]
"""A job as a function of its attempt (0 the first time, then once more after each loss of its worker)."""
OnItem = Callable[[int, Any], None]
"""Called in the driver with the job's index and each item it yields, in the order yielded."""


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:400]


def _reason(exc: BaseException) -> str:
    """Ray's long errors cut to their first sentence: 'ActorDiedError: The actor died unexpectedly ...'."""
    first = " ".join(str(exc).split()).split(". ")[0].rstrip(".")
    return f"{type(exc).__name__}: {first[:160]}"


@dataclass
class Worker:
    """A worker as the driver knows it: where it runs and how often it came back."""

    index: int
    size: int
    facts: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0

    @property
    def name(self) -> str:
        node_id = str(self.facts.get("node_id") or "")
        where = f"node {self.facts.get('node', '?')}" + (f" {node_id[:12]}" if node_id else "")
        return f"group actor {self.index + 1} of {self.size} ({where}, pid {self.facts.get('pid', '?')})"

    def status(self) -> dict[str, Any]:
        return {"worker": self.index, "node": self.facts.get("node"), "node_id": self.facts.get("node_id"),
                "host": self.facts.get("host"), "pid": self.facts.get("pid"), "restarts": self.restarts}


class Pool:
    """Workers that run jobs; see the module docstring."""

    size: int = 1
    description: str = ""
    workers: list[Worker]
    finals: list[Any]  # what each worker's group returned when it was closed (its last report)

    async def run(self, jobs: Sequence[JobMaker], on_item: OnItem) -> None:
        raise NotImplementedError

    async def peak_rss_mb(self) -> list[float]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def status(self) -> list[dict[str, Any]]:
        return [w.status() for w in self.workers]

    @property
    def restarts(self) -> int:
        return sum(w.restarts for w in self.workers)


class InProcessPool(Pool):
    """One group, in this process: the jobs run one after another in the caller's event loop."""

    def __init__(self, factory: GroupFactory):
        self.factory = factory
        self.group: Group | None = None
        self.size = 1
        self.description = "in this process"
        self.workers = [Worker(0, 1, node_facts())]
        self.finals = []

    async def start(self) -> None:
        group = self.factory.build()
        await group.open()
        self.group = group
        self.workers[0].facts["group"] = describe(group)

    async def run(self, jobs: Sequence[JobMaker], on_item: OnItem) -> None:
        assert self.group is not None, "start() first"
        for j, make in enumerate(jobs):
            # closed at once when the driver stops listening (a stop): the job's calls stop with it
            async with contextlib.aclosing(self.group.run(make(0))) as items:
                async for item in items:
                    on_item(j, item)

    async def peak_rss_mb(self) -> list[float]:
        return [peak_rss_mb()]

    async def close(self) -> None:
        group, self.group = self.group, None
        if group is not None:
            self.finals.append(await group.close())


class RayPool(Pool):
    """K group actors on Ray."""

    def __init__(self, ray: ModuleType, settings: ScaleSettings, factory: GroupFactory, where: str):
        self.ray, self.settings, self.factory = ray, settings, factory
        self.size = settings.workers
        self.description = f"{self.size} group actor(s) on {where}"
        self.workers = [Worker(i, self.size) for i in range(self.size)]
        self.handles: list[Any] = []
        self.finals = []

    async def start(self) -> None:
        s = self.settings
        remote = self.ray.remote(GroupActor)
        options = {"num_cpus": s.actor_cpus, "max_restarts": s.actor_restarts, "max_task_retries": 0,
                   "scheduling_strategy": "SPREAD"}
        self.handles = [remote.options(**options).remote() for _ in range(self.size)]
        try:
            async with asyncio.timeout(s.start_timeout_s):
                opened = await self._open_all()
        except TimeoutError:
            free = self.ray.available_resources().get("CPU", 0.0)
            total = self.ray.cluster_resources().get("CPU", 0.0)
            raise ScaleError(f"Ray did not start {self.size} group actors of {s.actor_cpus:g} CPU each within "
                             f"{s.start_timeout_s:g} s (start_timeout_s; {free:g} of {total:g} CPUs free)") from None
        for worker, facts in zip(self.workers, opened, strict=True):
            worker.facts = facts

    async def _open_all(self) -> list[dict[str, Any]]:
        """Every actor's group opened. A task group, not gather: on Ctrl-C (the run cancelled) every open is
        cancelled and awaited, so no future is left holding an error nobody reads (asyncio would print it as a
        traceback); the first actor that fails says why."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._open(i)) for i in range(self.size)]
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None
        return [t.result() for t in tasks]

    async def _open(self, i: int) -> dict[str, Any]:
        try:
            got = await self.handles[i].open.remote(self.factory)
        except self.ray.exceptions.RayTaskError as exc:
            log.debug("%s could not open its group", self.workers[i].name, exc_info=exc)
            raise ScaleError(f"{self.workers[i].name} could not open its group: "
                             f"{_one_line(getattr(exc, 'cause', None) or exc)} (-v shows where)") from None
        if isinstance(got, Refused):
            raise ScaleError(f"{got.message} ({self.workers[i].name})")
        return dict(got)

    async def run(self, jobs: Sequence[JobMaker], on_item: OnItem) -> None:
        queue = deque(enumerate(jobs))

        async def work(i: int) -> None:
            while queue:
                j, make = queue.popleft()  # each job taken by one worker, in order
                await self._run_job(i, j, make, on_item)

        try:
            async with asyncio.TaskGroup() as group:
                for i in range(min(self.size, len(jobs))):
                    group.create_task(work(i))
        except BaseExceptionGroup as eg:
            # the first error says what stopped the study; the others are its consequences (cancellations)
            first = next((e for e in eg.exceptions if not isinstance(e, asyncio.CancelledError)), eg.exceptions[0])
            raise first from None

    async def _run_job(self, i: int, j: int, make: JobMaker, on_item: OnItem) -> None:
        exceptions = self.ray.exceptions
        attempt = 0
        while True:
            worker = self.workers[i]
            stream = self.handles[i].run.remote(make(attempt), worker.facts.get("generation", 0))
            try:
                async for ref in stream:
                    item = await ref
                    if isinstance(item, Refused):
                        raise ScaleError(f"{item.message} ({worker.name})")
                    on_item(j, item)
                return
            except (exceptions.RayActorError, exceptions.ObjectLostError) as exc:
                await self._revive(i, exc)
                attempt += 1
            except exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None) or exc
                log.debug("%s failed", worker.name, exc_info=exc)
                raise ScaleError(f"{worker.name} failed: {_one_line(cause)} (-v shows where)") from None
            except BaseException:
                with contextlib.suppress(Exception):
                    self.ray.cancel(stream)  # the actor's job stops too (its calls would only be wasted)
                raise

    async def _revive(self, i: int, cause: BaseException) -> None:
        """Wait for Ray to restart worker i and open its group again; `WorkerLost` if it does not come back."""
        worker, s = self.workers[i], self.settings
        lost = f"{worker.name} was lost ({_reason(cause)})"
        log.warning("%s; waiting up to %g s for Ray to restart it", lost, s.restart_timeout_s)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.restart_timeout_s
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WorkerLost(f"{lost} and did not come back within {s.restart_timeout_s:g} s "
                                 "(restart_timeout_s: Ray had no node to place it on)")
            try:
                got = await asyncio.wait_for(self.handles[i].open.remote(self.factory), remaining)
            except TimeoutError:
                continue
            except self.ray.exceptions.ActorDiedError:
                raise WorkerLost(f"{lost} and cannot come back: Ray will not restart it (its {s.actor_restarts} "
                                 "restart(s), actor_restarts, are used up, or its node is gone)") from None
            except self.ray.exceptions.RayActorError:
                await asyncio.sleep(0.5)  # unavailable for now: restarting, or its node is being replaced
                continue
            if isinstance(got, Refused):
                raise ScaleError(f"{got.message} ({worker.name}, after a restart)")
            break
        worker.facts = dict(got)
        worker.restarts += 1
        log.warning("%s is back (restart %d): its job starts again from what was recorded", worker.name,
                    worker.restarts)

    async def peak_rss_mb(self) -> list[float]:
        return [float(x) for x in await asyncio.gather(*(h.peak_rss_mb.remote() for h in self.handles))]

    async def close(self) -> None:
        handles, self.handles = self.handles, []
        if not handles:
            return
        with contextlib.suppress(Exception, asyncio.CancelledError):
            # the groups close their model pools and servers; a worker already gone is not waited for
            finals = await asyncio.wait_for(asyncio.gather(*(h.close.remote() for h in handles),
                                                           return_exceptions=True), 10)
            self.finals = [f for f in finals if f is not None and not isinstance(f, BaseException)]
        for handle in handles:
            with contextlib.suppress(Exception):
                self.ray.kill(handle)


@contextlib.asynccontextmanager
async def open_pool(settings: ScaleSettings, factory: GroupFactory, *, label: str = "study") -> AsyncIterator[Pool]:
    """The pool the settings ask for, started, then closed (and Ray with it, if this started Ray)."""
    if not settings.uses_ray:
        local = InProcessPool(factory)
        try:
            await local.start()
            yield local
        finally:
            await local.close()
        return
    with RaySession(settings, label=label) as session:
        assert session.ray is not None
        pool = RayPool(session.ray, settings, factory, session.description)
        try:
            await pool.start()
            yield pool
        finally:
            await pool.close()
