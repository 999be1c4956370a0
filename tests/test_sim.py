"""The simulation core: clock, random streams, routine days, determinism and state round trips."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from smallville.core.clock import Clock
from smallville.core.events import Act, ClockMark, Spawned, Walk, encode_many
from smallville.core.rng import Streams
from smallville.core.sim import Simulation
from smallville.world.residents import load_residents
from smallville.world.town import load_town


def _sim(small_town: tuple[Path, Path], seed: int = 1) -> Simulation:
    town = load_town(small_town[0])
    return Simulation(town, load_residents(small_town[1], town), seed=seed)


def _run(sim: Simulation, ticks: int) -> bytes:
    out = []
    for _ in range(ticks):
        out.extend(sim.step())
    return encode_many(out)


def test_clock() -> None:
    clock = Clock()
    assert clock.time(0) == datetime(2023, 2, 13, 0, 0)
    assert clock.ticks_per_day == 8640 and clock.ticks_per_hour == 360
    assert clock.label(8640 + 360 * 8 + 6 * 30) == "Tue 14 Feb 2023 08:30"
    assert clock.minute_of_day(6 * 90) == 90 and clock.day_index(8640 * 2 + 5) == 2
    assert clock.day_start_tick(8640 + 100) == 8640
    assert Clock(tick_seconds=60).ticks(15) == 15
    with pytest.raises(ValueError):
        Clock(tick_seconds=7)


def test_streams_are_independent_and_restorable() -> None:
    a, b = Streams(5), Streams(5)
    a.get("other").random()  # drawing from another stream must not shift this one
    assert a.get("x").random() == b.get("x").random()
    assert Streams(6).get("x").random() != Streams(5).get("x").random()
    restored = Streams.from_state(a.state())
    assert restored.get("x").random() == a.get("x").random()


def test_same_seed_same_events_other_seed_differs(small_town: tuple[Path, Path]) -> None:
    day = 8640
    one, two = _run(_sim(small_town, 1), day), _run(_sim(small_town, 1), day)
    other = _run(_sim(small_town, 2), day)
    assert one == two
    assert one != other


def test_state_round_trip_continues_identically(small_town: tuple[Path, Path]) -> None:
    straight = _sim(small_town)
    expected = _run(straight, 5000)
    first = _sim(small_town)
    head = _run(first, 2345)
    town = first.town
    resumed = Simulation.from_state(town, first.residents, first.state())
    assert head + _run(resumed, 5000 - 2345) == expected


def test_a_day_happens(small_town: tuple[Path, Path]) -> None:
    sim = _sim(small_town)
    events = []
    for _ in range(8640):
        events.extend(sim.step())
    assert [e.who for e in events if isinstance(e, Spawned)] == ["Ada Lovelace", "Bob Builder"]
    assert sum(isinstance(e, ClockMark) for e in events) == 1440
    acts = [e for e in events if isinstance(e, Act)]
    bob = [e for e in acts if e.who == "Bob Builder"]
    assert bob[0].action == "sleeping" and bob[-1].action == "sleeping"
    work = [e for e in bob if e.action.startswith("working at")]
    assert len(work) == 1 and work[0].at.startswith("Testville:House:kitchen")
    assert 8 * 360 <= work[0].t <= 10 * 360 and work[0].until >= 16 * 360  # roughly 9 to 17
    assert any(isinstance(e, Walk) and e.to.startswith("Testville:Park") for e in events)  # Ada's haunt
    # At midnight both are back in bed.
    assert all(sim.town.arena_at(a.x, a.y).name == "bedroom" for a in sim.agents)


def test_walk_moves_one_tile_per_tick(small_town: tuple[Path, Path]) -> None:
    sim = _sim(small_town)
    walks: list[Walk] = []
    while not walks:
        walks = [e for e in sim.step() if isinstance(e, Walk)]
    walk = walks[0]
    agent = sim.agent(walk.who)
    for i in range(1, len(walk.path)):
        sim.step()
        assert (agent.x, agent.y) == walk.path[i]


def test_near_is_same_arena(small_town: tuple[Path, Path]) -> None:
    sim = _sim(small_town)
    sim.step()
    assert sim.near("Ada Lovelace", 8) == ["Bob Builder"]  # both asleep in the bedroom
    assert sim.near("Ada Lovelace", 1) == []


def test_a_shared_bed_stays_in_use_until_both_are_up(small_town: tuple[Path, Path]) -> None:
    sim = _sim(small_town)
    bed = "Testville:House:bedroom:bed"
    changes = []
    for _ in range(3 * 360 * 3):  # to 09:00
        changes += [(e.t, e.state) for e in sim.step() if getattr(e, "at", None) == bed and not isinstance(e, Act)]
    wake_bob, wake_ada = 6 * 360 + 180, 7 * 360  # 06:30 and 07:00
    # in use from the first arrival in bed (one step from the spawn tile), not from the start of the walk
    assert changes[0] == (1, "sleeping")
    assert changes[1][1] == "idle" and changes[1][0] == wake_ada  # not at Bob's 06:30
    assert wake_bob < wake_ada


def test_an_object_is_in_use_from_arrival_and_a_latecomer_is_asked_again(small_town: tuple[Path, Path]) -> None:
    """The walk to an object does not make it busy; whoever arrives second while it is used ends its
    activity there and its mind is asked again at once (the routine mind carries on, sharing it)."""
    from mapkit import TownSpec, write_town

    from smallville.core.events import ObjectState
    from smallville.core.mind import Activity, Thoughtless

    spec = TownSpec()
    spec.objects = [o if o[2] != "cooking area" else ("House", "kitchen", "stove", (5, 1, 1, 1)) for o in spec.objects]
    tmx, people = write_town(small_town[0].parent / "one-stove", spec)
    town = load_town(tmx)
    residents = load_residents(people, town)
    stove = "Testville:House:kitchen:stove"  # one tile: one cook at a time
    asked: list[tuple[str, int]] = []

    class Cooks(Thoughtless):
        """Both residents cook at the stove from tick 0; asked again, they wait in the kitchen."""

        def decide(self, who: str, tick: int) -> Activity:
            asked.append((who, tick))
            if tick == 0:
                return Activity("cooking", stove, "🍳", 500, state="simmering")
            return Activity("waiting for the stove", stove.rsplit(":", 1)[0], "⏳", 600)

        def bind(self, rng_for: object) -> None:
            pass

        def state(self) -> dict[str, object]:
            return {}

        def load_state(self, state: object) -> None:
            pass

    sim = Simulation(town, residents, seed=1, mind=Cooks())  # type: ignore[arg-type]
    events = [e for _ in range(200) for e in sim.step()]
    walks = {e.who: len(e.path) for e in events if isinstance(e, Walk) and e.to == stove}
    nearer, farther = sorted(walks, key=walks.__getitem__)
    used = [e for e in events if isinstance(e, ObjectState) and e.at == stove]
    # in use from the nearer one's arrival (its path's last tile), not from tick 0
    assert [(e.t, e.state) for e in used] == [(walks[nearer] - 1, "simmering")]
    # the other arrives to a stove in use: asked again at once, on its arrival, and waits
    assert [(who, t) for who, t in asked if t > 0] == [(farther, walks[farther] - 1)]
    assert sim.agent(farther).action == "waiting for the stove" and sim.agent(farther).using == ""
    assert sim.agent(nearer).using == stove


def test_stream_draws_are_in_range_and_roughly_uniform() -> None:
    stream = Streams(11).get("uniformity")
    counts = [0] * 6
    for _ in range(6000):
        counts[stream.randrange(6)] += 1
    assert all(850 < c < 1150 for c in counts), counts
    values = [stream.random() for _ in range(2000)]
    assert all(0.0 <= v < 1.0 for v in values) and 0.45 < sum(values) / len(values) < 0.55
    assert {stream.randint(3, 4) for _ in range(50)} == {3, 4}
    with pytest.raises(ValueError):
        stream.randrange(0)
