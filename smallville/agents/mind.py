"""The generative mind of the town: when residents think, how their thoughts run together, and how what
they thought enters the world.

Owns the thought scheduler. Before each tick (`before_step`) it emits the lines of conversations under
way, looks around for the residents who look this minute, starts the thoughts the tick calls for (a day
plan before waking, the next block's preparation while the current one runs, the rating of new memories,
a reflection, a conversation when one resident notices another, each side's digest of a talk just held, the
decision to react to an important sight, a re-plan after a planted thought, a talk that changes today or a
yes to react) and applies the thoughts that are due. A day plan and a re-plan start with the resident's
agenda for the day (`smallville.agents.agenda`), read from its stream when they start.
Each thought is an asyncio task with a due tick fixed when it starts: the tick waits only for thoughts due
now, so many residents think at once and a thought started early (a block prepared an hour ahead) costs no
waiting at all. Results are applied in (due tick, start order), which
makes the event log the same however the calls interleave. `decide` (called by `Simulation.step`) then
only reads what was applied: it never waits.

Streams change only while applying (`smallville.agents.state` explains the `readers` rule), and every
change is an event: memories, retrievals with their scores, plans, utterances, reflections, fallbacks.

The scheduler and the apply step (`smallville.agents.apply`) share the minds' state (`Minds`); the apply
step returns what a thought calls for next (a re-plan) and the scheduler starts it, so apply never imports
this module. `GenerativeMind` is the `core.mind.ThinkingMind` the run code drives, and it sees the
simulation only as `core.mind.SimOps`.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from smallville.agents import agenda, perceive, planner, thoughts
from smallville.agents import converse as talk
from smallville.agents.apply import Applier, DigestTalk, React
from smallville.agents.memory import MemoryStream
from smallville.agents.settings import AgentSettings
from smallville.agents.state import Minds, NewMemory, ResidentMind, starting_places
from smallville.agents.think import Context, Trace
from smallville.agents.thoughts import Job
from smallville.core.clock import Clock
from smallville.core.mind import Activity, SimOps
from smallville.core.rng import Stream
from smallville.inference.base import Embedder, LanguageModel
from smallville.inference.record import THOUGHT
from smallville.world.residents import Resident
from smallville.world.scenario import Scenario
from smallville.world.town import Town

log = logging.getLogger(__name__)

#: Game minutes between a thought's start and when it is needed, by kind: the longer, the more thoughts
#: overlap (a run waits only for thoughts that are late). A talk's lines come this long after the two met
#: (they stand talking from the moment they meet); a replan changes course this long after the thought.
LEAD_MINUTES = {"rate": 10, "reflect": 15, "digest": 5, "replan": 2, "react": 2}  # a talk's: the settings
#: Those due ticks are rounded up to a whole number of these game minutes, so that thoughts started at
#: different moments fall due together and the run waits for them once (one wait per slot, not per thought).
DUE_SLOT_MINUTES = 5
# New memories wait to be rated together: 12 not rated before (one call), or until the resident sleeps; what
# was said or thought waits at most `rate_every_minutes` of the settings.
STATE_FORMAT = 1


class GenerativeMind:
    """The `ThinkingMind` of `Simulation` for generative agents; `attach` gives it a model and an embedder."""

    thinks = True

    def __init__(self, town: Town, clock: Clock, residents: list[Resident], settings: AgentSettings, *,
                 seed: int, dim: int, scenario: Scenario | None = None,
                 vectors: dict[str, np.ndarray] | None = None):
        self.town, self.clock, self.settings, self.seed, self.dim = town, clock, settings, seed, dim
        self.scenario = scenario
        self.shared = Minds(town, clock, settings, {
            r.name: ResidentMind(r, MemoryStream(dim, clock.tick_seconds), starting_places(r, town))
            for r in residents})
        for m in self.minds.values():
            m.wake_at = self._next_wake(m, 0)
        self._vectors = vectors or {}
        self.jobs: list[Job] = []
        self.next_job = 0
        self.seeded = False
        self.prepared = -1  # the tick whose one-off work before_step has done (see there)
        self.planted: list[tuple[str, str]] = []
        self.waited_s: defaultdict[str, float] = defaultdict(float)  # wall seconds ticks waited, by kind (not state)
        self.ctx: Context | None = None
        self.apply = Applier(self.shared)

    @property
    def minds(self) -> dict[str, ResidentMind]:
        """Each resident's mind, by name, in the residents file's order."""
        return self.shared.residents

    @property
    def order(self) -> list[str]:
        return self.shared.order

    @property
    def stats(self) -> Counter[str]:
        """Counters the run reports: thoughts by kind, calls, fallbacks by step, conversations..."""
        return self.shared.stats

    # -- wiring -----------------------------------------------------------------------------------------

    def attach(self, lm: LanguageModel, embedder: Embedder) -> None:
        self.ctx = Context(lm, embedder, self.settings, self.clock, self.town, self.seed, self.dim)

    def bind(self, rng_for: Callable[[str], Stream]) -> None:
        """Randomness is not used: every choice comes from the model or a fixed rule."""

    def ticks(self, minutes: float) -> int:
        return self.clock.ticks(minutes)

    def _next_wake(self, m: ResidentMind, tick: int) -> int:
        day0 = self.clock.day_start_tick(tick)
        wake = day0 + self.ticks(m.resident.wake_minute)
        return wake if wake > tick else wake + self.clock.ticks_per_day

    # -- the tick -----------------------------------------------------------------------------------------

    async def before_step(self, sim: SimOps, stop: Callable[[], bool] | None = None) -> bool:
        """Run the minds up to the start of `sim.tick` (see the module docstring). True when the tick may be
        stepped; False when `stop()` asked to stop while the tick waited for a late thought.

        The tick's one-off work (what was said now, the seeded facts, planted thoughts, looking around) is
        done once per tick (`prepared`), so that a stop in the wait can checkpoint this tick as it stands and
        a resume goes on with the wait alone: starting thoughts and applying those due is the same whether
        it is done once or begun again (what started a thought is gone from the state once it started)."""
        if self.ctx is None:
            raise RuntimeError("the generative mind has no model attached (GenerativeMind.attach)")
        t = sim.tick
        self.apply.sim = sim  # `decide` (during this tick's step) reads which objects are in use
        for job in self.jobs:  # thoughts a stop cancelled (this process, or the one a resume continues)
            if job.cancelled:
                self._run(job)
        if self.prepared != t:
            self.prepared = t
            self.apply.emit_scheduled(sim, t)
            if not self.seeded:
                self._seed(t)
            # Swap, not iterate-then-clear: the window's thread may plant meanwhile (list swaps are atomic).
            planted, self.planted = self.planted, []
            for who, text in planted:
                self._plant(sim, who, text, t)
            if t % self.ticks(self.settings.perceive_minutes) == 0:
                awake = [name for name in self.order if not self.minds[name].asleep]
                for name in awake:
                    self._look(sim, name, t)
                for name in self.noticing(awake, t):
                    self._notice(sim, name, t)
        while True:
            self._launch(sim, t)
            due = sorted((j for j in self.jobs if j.due <= t), key=lambda j: (j.due, j.id))
            if not due:
                return True
            pending = [j.task for j in due if j.task is not None and not j.task.done()]
            if pending:
                started = time.perf_counter()
                # short waits, so that a stop asked for while a late thought holds the tick is seen at once
                while pending:
                    if stop is not None and stop():
                        return False
                    await asyncio.wait(pending, timeout=0.1)
                    pending = [task for task in pending if not task.done()]
                self.waited_s[min(due, key=lambda j: j.id).kind] += time.perf_counter() - started
            for job in due:
                self._finish(job)
                self.jobs.remove(job)
                for follow in self.apply.job(sim, job, t):
                    if isinstance(follow, DigestTalk):
                        talked = follow.talked
                        self._start("digest", talked.me, t, self._due(t, "digest"),
                                    {"talked": thoughts.talked_input(talked)}, data={"other": talked.other})
                    elif isinstance(follow, React):
                        self._start("react", follow.who, t, self._due(t, "react"),
                                    {"seen": follow.seen, "doing": follow.doing, "minute": follow.minute},
                                    readers=(follow.who,))
                    else:
                        self.replan(sim, follow.who, follow.reason, t)

    def plant(self, who: str, text: str) -> None:
        """The inner voice: a thought for `who`, taken in before the next tick (it may change their plans)."""
        if who not in self.minds:
            raise KeyError(f"no resident named {who!r}")
        self.planted.append((who, text))

    async def settle(self, grace_s: float | None = None, hurry: Callable[[], bool] | None = None) -> list[Job]:
        """Wait for every thought in flight (before a checkpoint: then the state holds their results).

        With `grace_s` (a stop), wait at most that long, or until `hurry()` says to stop waiting: the thoughts
        still running then are cancelled and kept as their inputs, to start again at the next `before_step`
        (after a resume, from the checkpoint). Returns the cancelled ones."""
        if grace_s is None:
            await asyncio.gather(*(j.task for j in self.jobs if j.task is not None))
        else:
            until = time.perf_counter() + grace_s
            # short waits, so that `hurry` (a second Ctrl-C, set by a signal handler) is seen within 0.1 s
            while (pending := [j.task for j in self.jobs if j.task is not None and not j.task.done()]) \
                    and not (hurry is not None and hurry()) and (left := until - time.perf_counter()) > 0:
                await asyncio.wait(pending, timeout=min(left, 0.1))
        cancelled = [j for j in self.jobs if j.task is not None and not j.task.done()]
        for job in cancelled:
            assert job.task is not None
            job.task.cancel()
        await asyncio.gather(*(j.task for j in cancelled if j.task is not None), return_exceptions=True)
        for job in cancelled:
            # what it did before the cancel is forgotten: it starts again from its input, as the first time
            job.task, job.trace = None, Trace(job.launched)
        for job in self.jobs:
            self._finish(job)
        return cancelled

    async def cancel(self) -> None:
        """Cancel the thoughts still in flight and wait for them to end, so that a run stopping on an error
        ends quietly (no task left to be destroyed pending, no error nobody retrieved). Unlike `settle`, the
        jobs are not made ready to start again: the run ends here (a checkpoint keeps them as their inputs)."""
        # every task, finished ones too: gathering them retrieves whatever they raised
        tasks = [task for j in list(self.jobs) if (task := j.task) is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def in_flight(self) -> list[Job]:
        """The thoughts whose model calls are still under way. Safe from another thread (the window's):
        the job list is copied and each task read once, while the run's loop finishes jobs."""
        return [j for j in list(self.jobs) if (task := j.task) is not None and not task.done()]

    def _finish(self, job: Job) -> None:
        if job.task is not None:
            job.result, job.task = job.task.result(), None

    # -- starting thoughts ------------------------------------------------------------------------------

    def _due(self, t: int, kind: str) -> int:
        slot = self.ticks(DUE_SLOT_MINUTES)
        lead = self.settings.talk_lead_minutes if kind == "talk" else LEAD_MINUTES[kind]
        return -(-(t + self.ticks(lead)) // slot) * slot

    def _start(self, kind: str, who: str, t: int, due: int, inp: thoughts.Input, *,
               readers: tuple[str, ...] = (), data: dict[str, Any] | None = None) -> Job:
        job = Job(self.next_job, kind, who, readers, t, max(due, t), data or {}, Trace(t), inp)
        self.next_job += 1
        for r in readers:
            self.minds[r].readers += 1
        self._run(job)
        self.jobs.append(job)
        self.stats[f"thoughts_{kind}"] += 1
        return job

    def _run(self, job: Job) -> None:
        """Start `job`'s thought from its input: the one way a thought starts, the first time or again."""
        assert self.ctx is not None
        coro = thoughts.start(self.ctx, job.trace, job.kind, job.who, job.inp, self.minds)
        context = contextvars.copy_context()
        context.run(THOUGHT.set, job.id)  # the recorder notes each call's thought (see record.THOUGHT)
        job.task = asyncio.get_running_loop().create_task(coro, name=f"{job.kind}:{job.who}:{job.id}",
                                                          context=context)

    def _busy(self, who: str, kind: str) -> bool:
        return any(j.who == who and j.kind == kind for j in self.jobs)

    def _launch(self, sim: SimOps, t: int) -> None:
        for name in self.order:
            m = self.minds[name]
            rating = self._busy(name, "rate")
            urgent = any(i.tag in ("inner_voice", "seed") for i in m.inbox)  # told, not seen: remember now
            # Every two hours what was said and thought gets rated even if few sights came with it.
            due = t % self.ticks(self.settings.rate_every_minutes) == 0 and any(i.tag != "observation" for i in m.inbox)
            # 12 to rate in one call: the sights already rated (the same text again) cost no call and do not
            # count, but at most 48 wait (a rating that calls nothing stores them)
            fresh = sum(1 for i in m.inbox if i.description not in m.scores)
            if m.inbox and not rating and (fresh >= 12 or len(m.inbox) >= 48 or m.asleep or urgent or due):
                items, m.inbox = m.inbox, []
                known = {i.description: m.scores[i.description] for i in items if i.description in m.scores}
                self._start("rate", name, t, self._due(t, "rate"), thoughts.rate_input(items, known))
                rating = True
            day0 = self.clock.day_start_tick(m.wake_at)
            if m.asleep and m.planned_day0 != day0 and not rating and not m.inbox and m.readers == 0:
                m.planned_day0 = day0
                # what its intentions put on the day: read now, while nothing changes its stream
                agreed = agenda.for_day(m.stream, self.clock, day0)
                plan = thoughts.plan_input(planner.snapshot(m, perceive.arena_here(sim, name), agreed,
                                                            self.apply.states_for(m.known)))
                self._start("day", name, t, m.wake_at, {"plan": plan, "day0": day0}, readers=(name,))
            if not m.asleep and m.hourly is not None and m.blocks_pending == 0:
                index = next((i for i, s in enumerate(m.hourly.spans) if s.start > m.block_start), None)
                if index is not None:
                    m.blocks_pending += 1
                    now = planner.snapshot(m, perceive.arena_here(sim, name), states=self.apply.states_for(m.known))
                    block = planner.block_input(now, m.hourly, index)
                    starts = m.day0 + self.ticks(m.hourly.spans[index].start)
                    self._start("block", name, t, starts, {"block": thoughts.block_input(block)})
            if (not m.asleep and not m.reflecting and m.readers == 0 and not m.held
                    and m.stream.needs_reflection(self.settings.reflection_threshold)):
                m.reflecting = True
                self._start("reflect", name, t, self._due(t, "reflect"), {}, readers=(name,))

    def _seed(self, t: int) -> None:
        self.seeded = True
        for fact in self.scenario.facts if self.scenario else []:
            if fact.holder in self.minds:
                self.minds[fact.holder].inbox.append(NewMemory(fact.memory, "thought", "seed", t))

    def _plant(self, sim: SimOps, who: str, text: str, t: int) -> None:
        self.minds[who].inbox.append(NewMemory(text, "thought", "inner_voice", t))
        self.replan(sim, who, text, t)

    def replan(self, sim: SimOps, who: str, reason: str, t: int) -> None:
        """Re-plan the rest of `who`'s day because of `reason` (not while asleep, or already re-planning)."""
        m = self.minds[who]
        if m.asleep or m.day_plan is None or self._busy(who, "replan"):
            return
        m.replanned_at = t
        start = (t - m.day0) // self.ticks(1) + 1
        agreed = agenda.for_day(m.stream, self.clock, m.day0)  # kept at their times
        plan = thoughts.plan_input(planner.snapshot(m, perceive.arena_here(sim, who), agreed,
                                                    self.apply.states_for(m.known)))
        self._start("replan", who, t, self._due(t, "replan"), {"plan": plan, "start": start, "reason": reason},
                    data={"start": start})

    def _look(self, sim: SimOps, name: str, t: int) -> None:
        """Perceive."""
        m = self.minds[name]
        m.inbox.extend(perceive.look(sim, m, self.settings, t))

    def noticing(self, names: list[str], t: int) -> list[str]:
        """The order in which the residents looking at tick `t` may notice someone to talk to, drawn afresh
        at each look from the run's seed and the tick (blake2b: the same in every process), never the
        residents file's order: whoever notices the other decides, and the one listed first would
        otherwise always be the one (Sam Moore, 22nd of 25, seldom spoke first)."""
        def draw(name: str) -> bytes:
            return hashlib.blake2b(f"{self.seed}|{t}|{name}".encode(), digest_size=8).digest()
        return sorted(names, key=draw)

    def _notice(self, sim: SimOps, name: str, t: int) -> None:
        """Maybe start a conversation with someone close by (the one who notices decides: `converse`)."""
        m = self.minds[name]
        if m.engaged or t < m.social_after or self._busy(name, "replan"):
            return
        for other in perceive.talk_partners(sim, name, self.settings.talk_radius):
            o = self.minds[other]
            if o.asleep or o.engaged or t < o.social_after or self.apply.cooling(name, other, t):
                continue
            meeting = talk.Meeting(m, o, sim.agent(name).action, sim.agent(other).action,
                                   perceive.arena_here(sim, name), (t - m.day0) // self.ticks(1))
            m.engaged = o.engaged = True
            job = self._start("talk", name, t, self._due(t, "talk"), {"meeting": thoughts.meeting_input(meeting)},
                              readers=(name, other),
                              data={"other": other, "where": meeting.where})
            self.apply.meet(sim, m, o, job.due)
            return

    # -- Simulation's side --------------------------------------------------------------------------------

    def decide(self, who: str, tick: int) -> Activity:
        return self.apply.decide(who, tick)

    # -- checkpoints ------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The minds as JSON-safe data. Thoughts need not be settled: a thought not yet applied is kept as its
        input (see `Job.to_dict`) even when its answer has come (whether it has is a matter of timing: a
        checkpoint holds the same bytes however fast the model was), so a checkpoint never waits for the
        model; only a stop's `settle` keeps the answers that came within its grace."""
        return {"format": STATE_FORMAT, "next_job": self.next_job, "seeded": self.seeded,
                "prepared": self.prepared,
                "planted": [list(p) for p in self.planted], "stats": dict(sorted(self.stats.items())),
                "jobs": [j.to_dict() for j in self.jobs], "apply": self.apply.state(),
                "minds": {n: self.minds[n].state() for n in self.order}}

    def vectors(self) -> dict[str, np.ndarray]:
        return {n: self.minds[n].stream.vectors() for n in self.order}

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown generative mind state format {state.get('format')!r}")
        self.next_job, self.seeded = int(state["next_job"]), bool(state["seeded"])
        self.prepared = int(state.get("prepared", -1))
        self.planted = [(str(a), str(b)) for a, b in state["planted"]]
        self.shared.stats = Counter({str(k): int(v) for k, v in state["stats"].items()})
        try:
            self.jobs = [Job.from_dict(d) for d in state["jobs"]]
        except ValueError as exc:
            raise ValueError(f"generative mind state format {STATE_FORMAT}: {exc}") from None
        self.apply.load_state(state["apply"])
        for name in self.order:
            vectors = self._vectors.get(name, np.zeros((0, self.dim), dtype=np.float32))
            self.minds[name] = ResidentMind.from_state(self.minds[name].resident, state["minds"][name], vectors,
                                                       self.dim)
        for job in self.jobs:  # thoughts that were in flight at the checkpoint still hold their streams
            for r in job.readers:
                self.minds[r].readers += 1
