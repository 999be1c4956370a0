"""Game time: the mapping between tick numbers and the town's calendar.

Owns the only notion of time the core has. The core never reads the wall clock: tick 0 is the
scenario's start (Mon 13 Feb 2023 00:00 by default) and every tick is `tick_seconds` of game time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_START = datetime(2023, 2, 13, 0, 0, 0)


@dataclass(frozen=True)
class Clock:
    start: datetime = DEFAULT_START
    tick_seconds: int = 10

    def __post_init__(self) -> None:
        if self.tick_seconds <= 0 or 86_400 % self.tick_seconds:
            raise ValueError(f"tick_seconds must divide a day evenly, got {self.tick_seconds}")

    @property
    def ticks_per_minute(self) -> float:
        return 60 / self.tick_seconds

    @property
    def ticks_per_hour(self) -> int:
        return 3600 // self.tick_seconds

    @property
    def ticks_per_day(self) -> int:
        return 86_400 // self.tick_seconds

    def time(self, tick: int) -> datetime:
        return self.start + timedelta(seconds=tick * self.tick_seconds)

    def ticks(self, minutes: float) -> int:
        """A duration in game minutes, as a whole number of ticks (at least 1)."""
        return max(1, round(minutes * 60 / self.tick_seconds))

    def minute_of_day(self, tick: int) -> int:
        t = self.time(tick)
        return t.hour * 60 + t.minute

    def day_index(self, tick: int) -> int:
        """Days since the start's calendar date (0 on the first day)."""
        return (self.time(tick).date() - self.start.date()).days

    def day_start_tick(self, tick: int) -> int:
        """The tick of midnight of the day `tick` falls in (may be negative before the start)."""
        midnight = datetime.combine(self.time(tick).date(), datetime.min.time())
        return int((midnight - self.start).total_seconds()) // self.tick_seconds

    def label(self, tick: int) -> str:
        """'Mon 13 Feb 2023 08:30' as shown to users."""
        return self.time(tick).strftime("%a %d %b %Y %H:%M")
