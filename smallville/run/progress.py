"""What a headless run shows while it goes: the pace it keeps (`--speed`) and the progress line (game time,
game minutes per second, and what the town is thinking), refreshed every second even while a tick waits.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from smallville.core.sim import Simulation
from smallville.run.stop import StopFlag


class Pace:
    """Keeps a run at most `speed` game minutes per real second (None: as fast as it goes); a new speed
    counts from the moment it is set."""

    def __init__(self, sim: Simulation, speed: float | None):
        self.sim, self.speed = sim, speed
        self._from_tick, self._from_s = sim.tick, time.perf_counter()

    def set(self, speed: float | None, *, afresh: bool = False) -> None:
        """A new speed, or `afresh` after a pause: count from now (no burst to make up the time lost)."""
        if speed != self.speed or afresh:
            self.speed, self._from_tick, self._from_s = speed, self.sim.tick, time.perf_counter()

    async def keep(self, tick: int, stop: StopFlag) -> None:
        """Wait until the pace allows `tick`, in short naps so that a stop request is seen within 0.1 s."""
        if not self.speed:
            return
        ahead = (tick - self._from_tick) * self.sim.clock.tick_seconds / 60 / self.speed \
            - (time.perf_counter() - self._from_s)
        until = time.perf_counter() + ahead
        while ahead > 0 and not stop.requested:
            await asyncio.sleep(min(ahead, 0.1))
            ahead = until - time.perf_counter()


_THINKING = {"day": "planning their day", "block": "planning the hour", "rate": "rating memories",
             "reflect": "reflecting", "talk": "talking", "replan": "re-planning",
             "digest": "taking in a talk", "react": "deciding whether to react"}


class ProgressLine:
    """The headless progress line: game time, pace, and what the town is thinking (thoughts in flight by
    kind, model calls done, the oldest thought's age), refreshed every second even while a tick waits
    for a thought, so a slow model never looks like a hang."""

    def __init__(self, bar: Any, sim: Simulation, start_tick: int, started: float):
        self.bar, self.sim, self.start_tick, self.started = bar, sim, start_tick, started
        self.accounting: Any = None
        self._seen: dict[int, float] = {}  # job id -> wall time it was first seen in flight

    def thinking(self) -> str:
        if not self.sim.mind.thinks:
            return ""
        now = time.perf_counter()
        flying = self.sim.mind.in_flight()
        self._seen = {j.id: self._seen.get(j.id, now) for j in flying}
        parts = []
        if flying:
            kinds = Counter(j.kind for j in flying)
            top, n = kinds.most_common(1)[0]
            parts.append(f"{len(flying)} thinking ({n} {_THINKING.get(top, top)})")
            parts.append(f"oldest {now - min(self._seen.values()):.0f} s")
        if self.accounting is not None:
            totals = self.accounting.totals()
            parts.append(f"{totals.ok:,} calls")
            if totals.failed:
                parts.append(f"{totals.failed:,} failed")
        return ", ".join(parts)

    def show(self) -> None:
        sim = self.sim
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        pace = (sim.tick - self.start_tick) * sim.clock.tick_seconds / 60 / elapsed
        label = f"{sim.clock.label(sim.tick)}  " + (f"{pace:,.0f}" if pace >= 10 else f"{pace:.2g}") + " game-min/s"
        thinking = self.thinking()
        self.bar.set_description_str(f"{label}  {thinking}" if thinking else label, refresh=False)
        self.bar.update(sim.tick - self.start_tick - self.bar.n)
        self.bar.refresh()

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.show()
