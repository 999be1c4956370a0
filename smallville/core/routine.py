"""The routine mind: a resident's day from fixed habits, with no language model.

Owns the placeholder behaviour that makes a day visibly happen until the generative minds exist, and
later the cheap fallback they lean on: sleep at home until waking, get ready and eat, work at the
workplace during work hours (or at home), lunch, visits to haunts, dinner, a quiet evening, bed.
Start times jitter by a few minutes from the resident's own random stream, so every day differs a
little yet a seed always gives the same day. Habits do not wait their turn: asked again while an activity
still runs (the simulation ends it early when the object it walked to is in use), a resident carries on
with it and shares the object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smallville.core.clock import Clock
from smallville.core.mind import Activity, Thoughtless
from smallville.core.rng import Stream
from smallville.world.residents import Resident
from smallville.world.town import Arena, Town


@dataclass(frozen=True)
class Block:
    start: int  # minutes after the midnight of the day the block's plan began
    action: str
    address: str
    emoji: str


def _pick_object(arena: Arena, preferred: tuple[str, ...]) -> str:
    """The address of the first preferred object type found in the arena, else the arena itself."""
    for kind in preferred:
        for obj in arena.objects:
            if obj.kind == kind or (kind.endswith("*") and obj.kind.startswith(kind[:-1])):
                return obj.address
    return arena.address


class RoutineMind(Thoughtless):
    """Decides each resident's next activity from its routine; state is JSON-safe for checkpoints. It never
    thinks, so the run code's side of `ThinkingMind` is `Thoughtless`'s."""

    def __init__(self, town: Town, clock: Clock, residents: list[Resident]):
        self.town = town
        self.clock = clock
        self.residents = {r.name: r for r in residents}
        self._plans: dict[str, list[Block]] = {}
        self._plan_day: dict[str, int] = {}  # tick of the midnight the plan's minutes count from
        self._current: dict[str, Activity] = {}  # what each resident is doing, asked again before its end

    # -- places ---------------------------------------------------------------------------------

    def _home_arenas(self, r: Resident) -> list[Arena]:
        return list(self.town.sectors[r.home[0]].arenas.values())

    def _bathroom(self, r: Resident) -> str:
        rooms = [a for a in self._home_arenas(r) if "bathroom" in a.name]
        mine = [a for a in rooms if r.name in a.name]
        rooms = mine or rooms
        if not rooms:
            return self.town.arena(*r.home).address
        return _pick_object(rooms[0], ("shower", "bathroom sink"))

    def _kitchen(self, r: Resident) -> str:
        home = self.town.arena(*r.home)
        kitchens = [home] + [a for a in self._home_arenas(r) if a.name == "kitchen"]
        for arena in kitchens:
            address = _pick_object(arena, ("cooking area", "refrigerator", "toaster"))
            if address != arena.address:
                return address
        return _pick_object(home, ("common room table", "desk"))

    def _desk(self, r: Resident) -> str:
        return _pick_object(self.town.arena(*r.home), ("desk", "computer desk", "easel", "computer", "shelf"))

    def _bed(self, r: Resident) -> str:
        return _pick_object(self.town.arena(*r.home), ("bed",))

    def _at_work(self, r: Resident) -> str:
        assert r.workplace is not None
        return _pick_object(self.town.arena(*r.workplace), (
            "behind the*", "classroom student seating", "library table", "computer desk", "desk",
            "cafe customer seating"))

    def _at_haunt(self, place: tuple[str, str]) -> str:
        return _pick_object(self.town.arena(*place), (
            "cafe customer seating", "bar customer seating", "park garden", "library table",
            "library sofa", "common room sofa"))

    # -- the day --------------------------------------------------------------------------------

    def _plan(self, r: Resident, rng: Stream) -> list[Block]:
        """Blocks from waking to the next waking, in minutes after the wake day's midnight."""
        wake, bed = r.wake_minute, r.bed_minute
        blocks: list[Block] = []

        def add(start: int, action: str, address: str, emoji: str) -> None:
            start = max(start + rng.randint(-8, 8), blocks[-1].start + 15 if blocks else wake)
            if start < bed - 10:
                blocks.append(Block(start, action, address, emoji))

        add(wake, "getting ready for the day", self._bathroom(r), "🚿")
        add(wake + 30, "having breakfast", self._kitchen(r), "🍳")
        work = r.work_minutes
        gaps: list[tuple[int, int]] = [(wake + 60, bed)]
        if work is not None and r.workplace is not None:
            start, end = work
            end = end if end > start else end + 24 * 60
            gaps = [(wake + 60, start), (end, bed)]
        done: set[str] = set()
        for index, (lo, hi) in enumerate(gaps):
            self._fill(r, rng, lo, hi, add, done)
            if index == 0 and len(gaps) == 2 and r.workplace is not None:
                where = self.town.arena(*r.workplace)
                add(gaps[0][1], f"working at {where.sector}", self._at_work(r), "💼")
        # Bedtime is fixed (no jitter) so that a night is never cut short by the next wake.
        blocks.append(Block(max(bed, blocks[-1].start + 15), "sleeping", self._bed(r), "😴"))
        return blocks

    def _fill(self, r: Resident, rng: Stream, lo: int, hi: int, add: Callable[[int, str, str, str], None],
              done: set[str]) -> None:
        """Free time between lo and hi: meals at meal times, visits to haunts, work or rest at home."""
        t = lo
        while t < hi - 15:
            hour = (t // 60) % 24
            if "lunch" not in done and 12 <= hour < 14:
                done.add("lunch")
                add(t, "having lunch", self._kitchen(r), "🥪")
                t += 45
            elif "dinner" not in done and 17 <= hour < 20:
                done.add("dinner")
                if r.haunts and rng.random() < 0.35:
                    place = r.haunts[rng.randrange(len(r.haunts))]
                    add(t, f"having dinner at {place[0]}", self._at_haunt(place), "🍽️")
                else:
                    add(t, "having dinner", self._kitchen(r), "🍽️")
                t += 60
            elif r.haunts and (14 <= hour < 17 or 20 <= hour < 22) and f"visit{hour // 6}" not in done \
                    and hi - t >= 90:
                done.add(f"visit{hour // 6}")
                place = r.haunts[rng.randrange(len(r.haunts))]
                add(t, f"spending time at {place[0]}", self._at_haunt(place), "☕")
                t += rng.choice((75, 90, 120))
            elif hi - t <= 90 or hour >= 21:
                add(t, "relaxing at home", self._home_rest(r), "🛋️")
                t = hi
            else:
                job = r.occupation or "personal projects"
                add(t, f"working on {job}", self._desk(r), "✍️")
                t += min(rng.choice((90, 120, 150)), max(15, hi - t))

    def _home_rest(self, r: Resident) -> str:
        for arena in [self.town.arena(*r.home), *self._home_arenas(r)]:
            address = _pick_object(arena, ("common room sofa", "guitar", "game console", "shelf"))
            if address != arena.address:
                return address
        return self.town.arena(*r.home).address

    def decide(self, who: str, tick: int) -> Activity:
        """The activity a resident starts at `tick` (its previous one has just ended, or was cut short)."""
        current = self._current.get(who)
        if current is not None and tick < current.until:
            return current  # cut short on arrival at an object in use: carry on, sharing it
        act = self._decide(who, tick)
        self._current[who] = act
        return act

    def _decide(self, who: str, tick: int) -> Activity:
        r = self.residents[who]
        if who not in self._plans:
            # The run starts at night: asleep until the first waking.
            day0 = self.clock.day_start_tick(tick)
            wake = day0 + self.clock.ticks(r.wake_minute)
            if wake <= tick:
                wake += self.clock.ticks_per_day
            self._plans[who], self._plan_day[who] = [], self.clock.day_start_tick(wake)
            return Activity("sleeping", self._bed(r), "😴", wake)
        plan, day0 = self._plans[who], self._plan_day[who]
        if not plan:
            plan = self._plan(r, self._rng(who))
            self._plans[who] = plan
        block = plan.pop(0)
        if plan:
            until = day0 + self.clock.ticks(plan[0].start)
        else:
            # Sleep until the next day's waking; the following plan starts from there.
            until = day0 + self.clock.ticks_per_day + self.clock.ticks(r.wake_minute)
            self._plan_day[who] = day0 + self.clock.ticks_per_day
        return Activity(block.action, block.address, block.emoji, max(until, tick + 1))

    # -- randomness and state -------------------------------------------------------------------

    def bind(self, rng_for: Callable[[str], Stream]) -> None:
        """Give the mind its random streams (a `Streams.get`)."""
        self._rng_for = rng_for

    def _rng(self, who: str) -> Stream:
        return self._rng_for(f"routine:{who}")

    def state(self) -> dict[str, Any]:
        return {
            "plans": {who: [[b.start, b.action, b.address, b.emoji] for b in plan]
                      for who, plan in sorted(self._plans.items())},
            "plan_day": dict(sorted(self._plan_day.items())),
            "current": {who: [a.action, a.address, a.emoji, a.until] for who, a in sorted(self._current.items())},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._plans = {who: [Block(*b) for b in plan] for who, plan in state["plans"].items()}
        self._plan_day = {who: int(d) for who, d in state["plan_day"].items()}
        self._current = {who: Activity(str(a), str(b), str(c), int(d))
                         for who, (a, b, c, d) in state.get("current", {}).items()}
