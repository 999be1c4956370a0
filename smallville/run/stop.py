"""How a run stops: Ctrl-C and SIGTERM turned into requests (a second one hurries, a third quits), the grace
the thoughts under way get, and the checkpoint at the tick reached, announced at once on stderr.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from tqdm import tqdm

from smallville.core.sim import Simulation
from smallville.persist.eventlog import LogWriter
from smallville.persist.save import Save
from smallville.run.lifecycle import checkpoint

log = logging.getLogger(__name__)


class StopFlag:
    """Turns SIGINT/SIGTERM into a request to stop at the next tick boundary. The first signal is answered
    at once on stderr (`announce`); a second one means the user will not wait for the thoughts in flight
    (`hurry`: they are cancelled now, and start again on resume); a third, KeyboardInterrupt, now."""

    def __init__(self, announce: Callable[[], None] | None = None,
                 announce_hurry: Callable[[], None] | None = None) -> None:
        self.requested = False
        self.hurry = False
        self.announce, self.announce_hurry = announce, announce_hurry
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.hurry:  # a third Ctrl-C: even the checkpoint is not waited for
            raise KeyboardInterrupt
        if self.requested:
            self.hurry = True
            if self.announce_hurry is not None:
                self.announce_hurry()
            return
        self.requested = True
        if self.announce is not None:
            self.announce()

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread signal() raises ValueError: then there is no handling to install.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


#: Wall seconds a stop (Ctrl-C, SIGTERM, the window closed, a run whose models cannot answer) waits for the
#: thoughts in flight; those still running then are cancelled, kept in the checkpoint as their inputs and
#: started again on resume, so a stop always checkpoints the tick it reached and loses no thought.
STOP_GRACE_S = 20.0


async def stop_checkpoint(save: Save, sim: Simulation, writer: LogWriter,
                          hurry: Callable[[], bool] | None = None) -> None:
    """The checkpoint of a stop, at the tick reached: thoughts get `STOP_GRACE_S` (less if the user hurries)."""
    cancelled = await sim.mind.settle(STOP_GRACE_S, hurry=hurry)
    if cancelled:
        log.info("%d thought%s still under way cancelled; %s again on resume", len(cancelled),
                 "s" if len(cancelled) != 1 else "", "they start" if len(cancelled) != 1 else "it starts")
    checkpoint(save, sim, sim.tick, writer.sync())


def _thoughts(n: int) -> str:
    return f"{n} thought{'s' if n != 1 else ''}"


def announce_stop(sim: Simulation) -> None:
    """Say at once what a stop waits for (the first Ctrl-C must never look ignored)."""
    thinking = len(sim.mind.in_flight())
    if not thinking:
        tqdm.write(f"stopping at {sim.clock.label(sim.tick)}: writing a checkpoint", file=sys.stderr)
        return
    tqdm.write(f"stopping at {sim.clock.label(sim.tick)}: {_thoughts(thinking)} under way get up to "
               f"{STOP_GRACE_S:.0f} s to finish, then a checkpoint (Ctrl-C again to cancel them now: they start "
               "again on resume)", file=sys.stderr)


def announce_hurry(sim: Simulation) -> None:
    thinking = len(sim.mind.in_flight())
    what = f"cancelling {_thoughts(thinking)} under way" if thinking else "no thought under way"
    tqdm.write(f"{what}; writing the checkpoint (Ctrl-C again to quit without it and resume from the one "
               "before)", file=sys.stderr)
