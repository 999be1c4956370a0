"""Applying thoughts: how a finished thought changes a resident's mind and the town, as events.

Owns the apply step of each kind of thought (day plan, block, rating, reflection, conversation, digest
of a talk, re-plan), dispatched on the type of its result (`smallville.agents.results`); the storing of
memories (held while a thought reads the stream), the conversation timers (a pair's rest after a talk, a
decider's after a decline) and the lines of a conversation still to be spoken, and `decide`: the activity a
resident starts when its current one ends, read from its applied plans (a resident never waits for a model
here).

It works on the minds' shared state (`Minds`) and changes the town only through `core.mind.SimOps` (events,
and interrupting what a resident does). It never calls the scheduler back: what a thought calls for next
is returned for the scheduler to start (a `DigestTalk` for each side of a talk held, a `Replan` after a
talk whose planning thought changes today or a yes to react, a `React` for an important sight), so the
import arrow runs one way, mind -> apply. `decide` sees which objects are in use through the simulation the
scheduler hands it each tick (`sim`), and moves an action whose object is full to its spare, or waits
(`perceive.take_turn`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smallville.agents import converse as talk
from smallville.agents import perceive
from smallville.agents.planner import summary_of
from smallville.agents.results import (
    BlockResult,
    DayResult,
    DigestResult,
    RateResult,
    ReactResult,
    ReflectResult,
    ReplanResult,
    SpanRow,
    TalkResult,
)
from smallville.agents.state import Minds, NewMemory, PlannedAction, ResidentMind, place_label, schedule_of
from smallville.agents.thoughts import Job
from smallville.core import events as ev
from smallville.core.mind import Activity, SimOps
from smallville.world.town import Arena

log = logging.getLogger(__name__)

_EMOJI = (("sleep", "😴"), ("talk", "💬"), ("chat", "💬"), ("coffee", "☕"), ("breakfast", "🍳"), ("lunch", "🍽"),
          ("dinner", "🍽"), ("eat", "🍽"), ("cook", "🍳"), ("shower", "🚿"), ("brush", "🪥"), ("read", "📖"),
          ("write", "✍"), ("paint", "🎨"), ("music", "🎵"), ("guitar", "🎸"), ("piano", "🎹"), ("study", "📚"),
          ("class", "📚"), ("work", "💼"), ("walk", "🚶"), ("shop", "🛒"), ("garden", "🌱"), ("drink", "🍺"),
          ("party", "🎉"), ("exercise", "🏃"), ("photo", "📷"), ("clean", "🧹"))


def emoji_for(action: str) -> str:
    text = action.lower()
    return next((e for word, e in _EMOJI if word in text), "🙂")


@dataclass(frozen=True)
class Replan:
    """A follow-up: re-plan the rest of `who`'s day because of `reason` (started by the scheduler)."""

    who: str
    reason: str


@dataclass(frozen=True)
class DigestTalk:
    """A follow-up: one side of a talk just held takes it in (memo, planning thought, rating), a thought
    the scheduler starts at once so that the talk is recallable minutes later (`converse.digest`)."""

    talked: talk.Talked


@dataclass(frozen=True)
class React:
    """A follow-up: decide whether to react to `seen` (an important sight), a thought the scheduler starts."""

    who: str
    seen: str
    doing: str
    minute: int  # day minute


Followup = Replan | DigestTalk | React


class Applier:
    """The apply step over the shared `Minds`, with the conversation state it keeps (in checkpoints)."""

    def __init__(self, minds: Minds):
        self.minds = minds
        self.scheduled: list[tuple[int, dict[str, Any]]] = []  # (tick, event as dict), in order
        self.cooldown: dict[str, int] = {}  # "A|B" (sorted) -> tick from which they may talk again
        self.declined: dict[str, int] = {}  # "A>B" -> tick from which A, who declined B, may start a talk again
        self.overrides: dict[str, Activity] = {}  # what a resident starts at its next decide (a talk)
        self.convos = 0
        # the simulation as of this tick (the scheduler sets it before each step): `decide` reads which
        # objects are in use through it; None in tests that call `decide` alone
        self.sim: SimOps | None = None
        # what objects show while used, by "object kind|action", as the model first put it (the town's memo:
        # a shower shows the same whoever showers; `planner.object_states`)
        self.object_states: dict[str, str] = {}

    # -- conversations' timers and lines ----------------------------------------------------------------

    @staticmethod
    def _pair(a: str, b: str) -> str:
        return "|".join(sorted((a, b)))

    def cooling(self, a: str, b: str, t: int) -> bool:
        """Whether `a` may not start a talk with `b` at `t`: the two talked lately, or `a` declined `b`
        lately (a decline holds back only the one who declined: `b` may start one at once)."""
        return self.cooldown.get(self._pair(a, b), -1) > t or self.declined.get(f"{a}>{b}", -1) > t

    def meet(self, sim: SimOps, a: ResidentMind, b: ResidentMind, due: int) -> None:
        """Two residents who may talk stop and greet each other until the talk (or the decline) is known."""
        for me, other in ((a, b), (b, a)):
            self.overrides[me.name] = Activity(f"greeting {other.name}", perceive.arena_here(sim, me.name), "👋", due)
            me.talk_until = due
            sim.interrupt(me.name)

    def emit_scheduled(self, sim: SimOps, t: int) -> None:
        due = [e for tick, e in self.scheduled if tick <= t]
        if due:
            self.scheduled = [(tick, e) for tick, e in self.scheduled if tick > t]
            sim.emit([ev.decode(json.dumps(e | {"t": t}, ensure_ascii=False).encode()) for e in due])

    # -- memories -----------------------------------------------------------------------------------------

    def store(self, sim: SimOps, m: ResidentMind, items: list[NewMemory], t: int) -> None:
        m.held.extend(items)
        self.flush(sim, m, t)

    def flush(self, sim: SimOps, m: ResidentMind, t: int) -> None:
        """Mark what thoughts retrieved as accessed, and move held memories into the stream; unless a
        thought is reading it."""
        if m.readers:
            return
        for ids, tick in m.touches:
            m.stream.touch(ids, tick)
        m.touches = []
        if not m.held:
            return
        out = []
        for item in m.held:
            assert item.vector is not None
            # a negative number counts back from this memory: -1 is the one stored just before it (memories
            # stored together cite each other so: a talk's memo its transcript, whose id was not yet known)
            evidence = tuple(e if e >= 0 else len(m.stream) + e for e in item.evidence)
            evidence = tuple(e for e in evidence if 0 <= e < len(m.stream))
            memory = m.stream.add(item.description, item.vector, kind=item.kind, tag=item.tag,
                                  created=item.created, importance=max(1, min(10, item.importance)),
                                  evidence=evidence, subject=item.subject)
            out.append(ev.Remember(t, m.name, memory.id, memory.kind, memory.tag, memory.description,
                                   memory.importance, memory.evidence, memory.subject))
        m.held = []
        sim.emit(out)

    # -- a finished thought -------------------------------------------------------------------------------

    def job(self, sim: SimOps, job: Job, t: int) -> list[Followup]:
        """Apply a due thought at tick `t`: its traces (retrievals, fallbacks) as events, then its result.
        Returns what it calls for next, for the scheduler to start."""
        minds = self.minds
        res = job.result
        assert res is not None
        out: list[ev.Event] = []
        for got in job.trace.retrievals:
            minds[got["who"]].touches.append((list(got["ids"]), job.trace.tick))
            out.append(ev.Retrieve(t, got["who"], got["purpose"], got["query"], tuple(got["ids"]),
                                   tuple(tuple(s) for s in got["scores"])))
        for _, who, step in job.trace.ordered_fallbacks():
            out.append(ev.Fallback(t, who, step))
            minds.stats[f"fallback_{step}"] += 1
        minds.stats["calls"] += job.trace.calls
        sim.emit(out)
        for r in job.readers:
            minds[r].readers -= 1
        m = minds[job.who]
        follow: list[Followup] = []
        match res:
            case DayResult():
                self._day(sim, m, res, t)
            case BlockResult():
                self._block(sim, m, res, t)
            case RateResult():
                follow = self._rate(sim, m, res, t)
            case ReflectResult():
                self._reflect(sim, m, res, t)
            case TalkResult():
                follow = self._talk(sim, m, minds[job.data["other"]], str(job.data["where"]), res, t)
            case DigestResult():
                follow = self._digest(sim, m, res, t)
            case ReplanResult():
                self._replan(sim, m, res, t)
            case ReactResult():
                follow = self._react(m, res)
            case _:
                raise TypeError(f"no apply step for {type(res).__name__}")
        # In the residents file's order, never a set's: a set of names iterates in an order that changes
        # with each process's string hashing, and the memories each flush emits would change places.
        for r in minds.in_order((job.who, *job.readers)):
            self.flush(sim, minds[r], t)
        return follow

    def _rate(self, sim: SimOps, m: ResidentMind, res: RateResult, t: int) -> list[Followup]:
        items = res.items
        m.scores.update((i.description, i.importance) for i in items if i.tag == "observation")
        self.store(sim, m, items, t)
        # (Talks are rated by their digest, `_digest`, which also decides whether one changes today.)
        return self._noticed(sim, m, items, t)

    def _noticed(self, sim: SimOps, m: ResidentMind, items: list[NewMemory], t: int) -> list[Followup]:
        """The decision to react to what was seen (Park et al.): for the most important sight of someone or
        something else rated at least `react_importance`, at most once every `react_every_minutes`, while
        awake and not talking."""
        settings = self.minds.settings
        seen = [i for i in items if i.tag == "observation" and i.subject != m.name
                and i.importance >= settings.react_importance]
        if not seen or m.asleep or m.engaged or t < m.react_after or t < m.talk_until:
            return []
        m.react_after = t + self.minds.ticks(settings.react_every_minutes)
        sight = max(seen, key=lambda i: i.importance)  # the first of the most important
        return [React(m.name, sight.description, sim.agent(m.name).action or "going about your day",
                      (t - m.day0) // self.minds.ticks(1))]

    def _react(self, m: ResidentMind, res: ReactResult) -> list[Followup]:
        """A yes re-plans the rest of the day from now around what was seen."""
        self.minds.stats[f"reactions_{res.react}"] += 1
        if res.react != "yes" or m.asleep:
            return []
        return [Replan(m.name, f"after seeing that {res.observation}: {res.what}")]

    def _digest(self, sim: SimOps, m: ResidentMind, res: DigestResult, t: int) -> list[Followup]:
        """A talk taken in: its transcript, memo and planning thought stored (recallable from now on); a
        planning thought that changes today and a talk that mattered (`replan_importance`) re-plan the rest
        of the day around it, at most once every two game hours. The planner's hook (docs/agents.md)."""
        self.store(sim, m, res.items, t)
        self.minds.stats["digests"] += 1
        settings = self.minds.settings
        if (res.when == "today" and res.importance >= settings.replan_importance
                and t - m.replanned_at >= self.minds.ticks(120)):
            # the plan in the resident's words, without its stored lead-in: the re-plan prompt has little room
            return [Replan(m.name, f"after talking with {res.other}: {res.plan}")]
        return []

    def _plan_event(self, m: ResidentMind, t: int, level: str, rows: Sequence[SpanRow | tuple[int, int, str, str]],
                    reason: str = "") -> ev.Plan:
        return ev.Plan(t, m.name, level, m.day0, tuple((int(a), int(b), str(c)) for a, b, c, *_ in rows), reason)

    def _install(self, sim: SimOps, m: ResidentMind, block: BlockResult, t: int) -> None:
        states = [*block.states, *[""] * (len(block.steps) - len(block.states))]
        spares = [*block.spares, *[""] * (len(block.steps) - len(block.spares))]
        m.steps = [PlannedAction(int(a), int(b), str(c), str(d), str(st), str(sp))
                   for (a, b, c, d), st, sp in zip(block.steps, states, spares, strict=False)]
        for key, shows in block.states_memo:  # the first answer applied stays (in apply order: deterministic)
            self.object_states.setdefault(key, shows)
        m.block_start = int(block.block[0])
        if block.memo:
            key, address = block.memo
            m.place_memo[key] = address
        if block.steps_memo:
            key, rows = block.steps_memo
            m.steps_memo[key] = [list(row) for row in rows]
        sim.emit([self._plan_event(m, t, "actions", block.steps)])

    def _day(self, sim: SimOps, m: ResidentMind, res: DayResult, t: int) -> None:
        m.day0, m.asleep, m.version, m.blocks_pending = int(res.day0), False, m.version + 1, 0
        m.day_plan, m.hourly = schedule_of(res.daily), schedule_of(res.hourly)
        m.steps_memo = {}  # a new day splits its blocks afresh
        m.revise(res.status)  # the morning's status: what occupies the resident from now on
        sim.emit([self._plan_event(m, t, "day", res.daily), self._plan_event(m, t, "hourly", res.hourly)])
        self._install(sim, m, res.first, t)
        sim.interrupt(m.name)  # up now (a plan that came late ends the lie-in)
        plan = "; ".join(f"{s.activity}" for s in m.day_plan.spans) if m.day_plan else ""
        m.inbox.append(NewMemory(f"{m.name}'s plan for {res.label}: {plan}", "thought", "plan", t))

    def _block(self, sim: SimOps, m: ResidentMind, res: BlockResult, t: int) -> None:
        if int(res.version) != m.version or m.asleep:
            # prepared for a schedule a re-plan replaced (which let the new schedule's next block start)
            self.minds.stats["blocks_dropped"] += 1
            return
        m.blocks_pending -= 1
        self._install(sim, m, res, t)

    def _replan(self, sim: SimOps, m: ResidentMind, res: ReplanResult, t: int) -> None:
        if not res.hourly or res.first is None or m.asleep:
            return
        m.version += 1
        m.blocks_pending = 0  # the old schedule's next block, if under way, no longer counts
        m.hourly = schedule_of(res.hourly)
        sim.emit([self._plan_event(m, t, "hourly", res.hourly, res.reason)])
        self._install(sim, m, res.first, t)
        if m.name not in self.overrides and sim.agent(m.name).until > t and m.talk_until <= t:
            sim.interrupt(m.name)  # drop what it was doing: the new plan starts now

    def _reflect(self, sim: SimOps, m: ResidentMind, res: ReflectResult, t: int) -> None:
        m.reflecting = False
        m.stream.mark_reflected()
        self.minds.stats["reflections"] += 1
        insights = [(str(text), tuple(int(e) for e in ids)) for text, ids in res.insights]
        sim.emit([ev.Reflect(t, m.name, tuple(res.questions), tuple(text for text, _ in insights))])
        if res.items:  # rated and embedded by the reflection itself
            m.held.extend(res.items)
        else:  # a result saved before insights came rated: rated like any new memory
            m.inbox.extend(NewMemory(text, "thought", "reflection", t, evidence=ids) for text, ids in insights)

    def _talk(self, sim: SimOps, a: ResidentMind, b: ResidentMind, where: str, res: TalkResult,
              t: int) -> list[Followup]:
        minds, settings = self.minds, self.minds.settings
        a.engaged = b.engaged = False
        self.convos += 1
        lines = res.lines
        sim.emit([ev.Converse(t, self.convos, a.name, b.name, len(lines), res.reason)])
        if not lines:  # a decline holds back the one who declined, briefly; the other may ask at once
            self.declined[f"{a.name}>{b.name}"] = t + minds.ticks(settings.decline_minutes)
            return []
        self.cooldown[self._pair(a.name, b.name)] = t + minds.ticks(settings.talk_cooldown_minutes)
        if a.asleep or b.asleep:
            return []
        minds.stats["conversations"] += 1
        per_line = max(1, round(settings.seconds_per_line / minds.clock.tick_seconds))
        end = t + per_line * len(lines)
        for i, (who, text, last) in enumerate(lines):
            to = b.name if who == a.name else a.name
            say = {"k": "say", "who": who, "to": to, "text": text, "convo": self.convos, "end": bool(last)}
            self.scheduled.append((t + i * per_line, say))
        self.emit_scheduled(sim, t)
        for me, other in ((a, b), (b, a)):
            me.talk_until, me.social_after = end, end + minds.ticks(settings.social_rest_minutes)
            here = perceive.arena_here(sim, me.name)
            self.overrides[me.name] = Activity(f"talking with {other.name}", here, "💬", end)
            sim.interrupt(me.name)
        # Each side takes the talk in at once (its memo and planning thought, rated and stored minutes from
        # now), in the residents file's order.
        when = minds.clock.time(t).strftime("%A %B %-d, %H:%M") + (f", at {place_label(where)}" if where else "")
        sides = {a.name: (a, b), b.name: (b, a)}
        return [DigestTalk(talk.Talked(me.name, other.name, tuple(lines), where, when,
                                       summary_of(me.hourly or me.day_plan), t))
                for me, other in (sides[n] for n in minds.in_order(sides))]

    def states_for(self, known: Sequence[str]) -> dict[str, str]:
        """The town's memo of object states, for the kinds of objects in the arenas `known` (what a block
        thought may use: its input holds it)."""
        town = self.minds.town
        kinds = {o.kind for address in known if isinstance(arena := town.lookup(address), Arena)
                 for o in arena.objects}
        return {k: v for k, v in sorted(self.object_states.items()) if k.split("|", 1)[0] in kinds}

    # -- decide -------------------------------------------------------------------------------------------

    def decide(self, who: str, t: int) -> Activity:
        minds = self.minds
        m = minds[who]
        if who in self.overrides:
            return self.overrides.pop(who)
        home = minds.town.arena(*m.resident.home)
        bed = next((o.address for o in home.objects if o.kind == "bed"), home.address)
        if not m.asleep and m.hourly is not None:
            minute = (t - m.day0) // minds.ticks(1)
            if minute < m.resident.bed_minute:
                step = m.step_at(minute)
                if step is not None:
                    until = m.day0 + minds.ticks(step.end)
                    act = Activity(step.action, step.address, emoji_for(step.action), max(until, t + 1), step.state)
                    if self.sim is None:
                        return act
                    # its object full (one user a tile)? its spare, or wait a little for it
                    return perceive.take_turn(self.sim, minds.town, who, act, t, minds.ticks(perceive.WAIT_MINUTES),
                                              step.spare)
                # No prepared action covers now (cannot happen while blocks are prepared on time): the
                # hourly block's own activity where the resident is, for at most 15 minutes.
                span = m.hourly.at(minute)
                minds.stats["fallback_no_step"] += 1
                log.warning("%s has no prepared action at %s", who, minds.clock.label(t))
                sim_action = span.activity if span else "taking a moment"
                return Activity(sim_action, "", emoji_for(sim_action), t + minds.ticks(15))
            m.asleep, m.yesterday = True, summary_of(m.day_plan)
            m.wake_at = m.day0 + minds.clock.ticks_per_day + minds.ticks(m.resident.wake_minute)
        # Asleep until waking; past it only while the day plan is late (then a few minutes at a time: the
        # plan's arrival wakes the resident).
        wake = m.wake_at if m.wake_at > t else t + minds.ticks(5)
        return Activity("sleeping", bed, "😴", wake)

    # -- state --------------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"scheduled": [[tick, e] for tick, e in self.scheduled],
                "cooldown": dict(sorted(self.cooldown.items())), "declined": dict(sorted(self.declined.items())),
                "convos": self.convos, "object_states": dict(sorted(self.object_states.items())),
                "overrides": {w: [a.action, a.address, a.emoji, a.until] for w, a in sorted(self.overrides.items())}}

    def load_state(self, state: dict[str, Any]) -> None:
        self.scheduled = [(int(tick), dict(e)) for tick, e in state["scheduled"]]
        self.cooldown = {k: int(v) for k, v in state["cooldown"].items()}
        self.declined = {k: int(v) for k, v in state.get("declined", {}).items()}  # absent before declines were
        self.convos = int(state["convos"])
        self.object_states = {str(k): str(v) for k, v in state.get("object_states", {}).items()}  # absent before
        self.overrides = {w: Activity(str(a), str(b), str(c), int(d)) for w, (a, b, c, d) in state["overrides"].items()}

