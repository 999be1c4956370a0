"""The group actor: one worker process holding many agents, running their calls concurrently with asyncio.

Owns what runs inside each worker: the `Group` it hosts (built there from a picklable factory, so each actor has
its own model pool and recorder, opened in its own event loop), the jobs it runs for the driver (each an async
generator whose items stream back as they come: call records, progress, the shard's result), and the facts
the driver needs to name it in a message (node, pid). The same class runs in-process for one worker
(`pool.InProcessPool`) and as a Ray actor (`pool.RayPool` wraps it with `ray.remote` at run time: this module
imports no Ray).

A group's own refusals (a `SmallvilleError`: a study folder the node cannot see, a bad setting) come back as a
`Refused` item rather than an exception, since the error classes of this package do not all survive pickling.

Why a generation counter: a driver that lost touch with an actor that did not in fact die re-opens it; the
jobs of the older generation then stop at their next item instead of running on beside the redone one.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol


class Group(Protocol):
    """Agents living in one worker: opened once per study, running jobs (a shard of a round, a seed)."""

    async def open(self) -> None: ...

    def run(self, job: Any) -> AsyncGenerator[Any, None]: ...

    async def close(self) -> Any:
        """Close what `open` opened; what it returns (a final report) reaches the driver."""


class GroupFactory(Protocol):
    """What a driver sends each worker to build its group there (picklable: settings, not live objects)."""

    def build(self) -> Group: ...


@dataclass(frozen=True)
class Refused:
    """A group's own error, as one line (its class name and message)."""

    kind: str
    message: str


def node_facts() -> dict[str, Any]:
    """Where this worker runs: node address and id (Ray's, when in Ray), host name, pid."""
    facts: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "node": "this machine",
                             "node_id": ""}
    ray = sys.modules.get("ray")  # only if this process uses it: importing Ray costs 0.3 s and 9 MB
    if ray is not None and ray.is_initialized():
        facts["node"] = ray.util.get_node_ip_address()
        facts["node_id"] = ray.get_runtime_context().get_node_id()
    return facts


def carried_env(names: set[str]) -> dict[str, str]:
    """The values of these variables where set in this process (the driver): what a group takes along, e.g.
    the API keys its endpoints name, so that a key set in the shell that runs the command works on every node.
    They travel inside the group's factory, never in Ray's own metadata (a runtime_env would show them in
    Ray's state API); keep them out of reprs."""
    return {name: os.environ[name] for name in sorted(names) if os.environ.get(name)}


def adopt_env(values: dict[str, str]) -> None:
    """Set carried variables in this worker process, where not already set (a node's own value wins)."""
    for name, value in values.items():
        os.environ.setdefault(name, value)


def describe(group: Group | None) -> Any:
    """What a group says it is (its models, for the banner), if it says."""
    say = getattr(group, "describe", None)
    return say() if callable(say) else None


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class GroupActor:
    """Hosts one `Group`; a Ray actor class once wrapped by `ray.remote`, a plain object otherwise."""

    def __init__(self) -> None:
        self.group: Group | None = None
        self.generation = 0

    def ready(self) -> dict[str, Any]:
        return {**node_facts(), "generation": self.generation, "group": describe(self.group)}

    async def open(self, factory: GroupFactory) -> dict[str, Any] | Refused:
        """Build and open the group (closing one already there: its jobs stop). Its facts, or why not."""
        from smallville.errors import SmallvilleError

        await self.close()
        self.generation += 1
        try:
            group = factory.build()
            await group.open()
        except SmallvilleError as exc:
            return Refused(type(exc).__name__, str(exc))
        self.group = group
        return self.ready()

    async def run(self, job: Any, generation: int) -> AsyncIterator[Any]:
        """The job's items as they come (the last one its result)."""
        from smallville.errors import SmallvilleError

        if self.group is None or generation != self.generation:
            yield Refused("ScaleError", "this group actor was re-opened: the job belongs to an older generation")
            return
        try:
            async for item in self.group.run(job):
                if generation != self.generation:
                    return
                yield item
        except SmallvilleError as exc:
            yield Refused(type(exc).__name__, str(exc))

    async def close(self) -> Any:
        group, self.group = self.group, None
        return await group.close() if group is not None else None

    def peak_rss_mb(self) -> float:
        return peak_rss_mb()
