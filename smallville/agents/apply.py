"""Applying thoughts: how a finished thought changes a resident's mind and the town, as events.

Owns the apply step of each kind of thought (day plan, block, rating, reflection, conversation,
re-plan), dispatched on the type of its result (`smallville.agents.results`); the storing of memories
(held while a thought reads the stream), the conversation timers and the lines of a conversation still to
be spoken, and `decide`: the activity a resident starts when its current one ends, read from its applied
plans (a resident never waits for a model here).

It works on the minds' shared state (`Minds`) and changes the town only through `core.mind.SimOps` (events,
and interrupting what a resident does). It never calls the scheduler back: what a thought calls for next
(a re-plan after a talk that mattered) is returned as a `Replan` for the scheduler to start, so the import
arrow runs one way, mind -> apply.
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
    RateResult,
    ReflectResult,
    ReplanResult,
    SpanRow,
    TalkResult,
)
from smallville.agents.state import Minds, NewMemory, PlannedAction, ResidentMind, schedule_of
from smallville.agents.thoughts import Job
from smallville.core import events as ev
from smallville.core.mind import Activity, SimOps

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


class Applier:
    """The apply step over the shared `Minds`, with the conversation state it keeps (in checkpoints)."""

    def __init__(self, minds: Minds):
        self.minds = minds
        self.scheduled: list[tuple[int, dict[str, Any]]] = []  # (tick, event as dict), in order
        self.cooldown: dict[str, int] = {}  # "A|B" (sorted) -> tick from which they may talk again
        self.overrides: dict[str, Activity] = {}  # what a resident starts at its next decide (a talk)
        self.convos = 0

    # -- conversations' timers and lines ----------------------------------------------------------------

    @staticmethod
    def _pair(a: str, b: str) -> str:
        return "|".join(sorted((a, b)))

    def cooling(self, a: str, b: str, t: int) -> bool:
        return self.cooldown.get(self._pair(a, b), -1) > t

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
            evidence = tuple(e for e in item.evidence if e < len(m.stream))
            memory = m.stream.add(item.description, item.vector, kind=item.kind, tag=item.tag,
                                  created=item.created, importance=max(1, min(10, item.importance)),
                                  evidence=evidence, subject=item.subject)
            out.append(ev.Remember(t, m.name, memory.id, memory.kind, memory.tag, memory.description,
                                   memory.importance, memory.evidence, memory.subject))
        m.held = []
        sim.emit(out)

    # -- a finished thought -------------------------------------------------------------------------------

    def job(self, sim: SimOps, job: Job, t: int) -> list[Replan]:
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
        follow: list[Replan] = []
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
                self._talk(sim, m, minds[job.data["other"]], str(job.data["where"]), res, t)
            case ReplanResult():
                self._replan(sim, m, res, t)
            case _:
                raise TypeError(f"no apply step for {type(res).__name__}")
        # In the residents file's order, never a set's: a set of names iterates in an order that changes
        # with each process's string hashing, and the memories each flush emits would change places.
        for r in minds.in_order((job.who, *job.readers)):
            self.flush(sim, minds[r], t)
        return follow

    def _rate(self, sim: SimOps, m: ResidentMind, res: RateResult, t: int) -> list[Replan]:
        items = res.items
        m.scores.update((i.description, i.importance) for i in items if i.tag == "observation")
        self.store(sim, m, items, t)
        # A talk that mattered a lot (an invitation, big news) calls for a reaction: the rest of the day is
        # re-planned around it, at most once every two game hours.
        settings = self.minds.settings
        moving = [i for i in items if i.tag == "conversation" and i.importance >= settings.replan_importance]
        if moving and t - m.replanned_at >= self.minds.ticks(120):
            return [Replan(m.name, f"after talking with {moving[-1].subject}: {moving[-1].description}")]
        return []

    def _plan_event(self, m: ResidentMind, t: int, level: str, rows: Sequence[SpanRow | tuple[int, int, str, str]],
                    reason: str = "") -> ev.Plan:
        return ev.Plan(t, m.name, level, m.day0, tuple((int(a), int(b), str(c)) for a, b, c, *_ in rows), reason)

    def _install(self, sim: SimOps, m: ResidentMind, block: BlockResult, t: int) -> None:
        m.steps = [PlannedAction(int(a), int(b), str(c), str(d)) for a, b, c, d in block.steps]
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
        m.inbox.extend(NewMemory(text, "thought", "reflection", t, evidence=ids) for text, ids in insights)

    def _talk(self, sim: SimOps, a: ResidentMind, b: ResidentMind, where: str, res: TalkResult, t: int) -> None:
        minds, settings = self.minds, self.minds.settings
        a.engaged = b.engaged = False
        self.cooldown[self._pair(a.name, b.name)] = t + minds.ticks(settings.talk_cooldown_minutes)
        self.convos += 1
        lines = res.lines
        sim.emit([ev.Converse(t, self.convos, a.name, b.name, len(lines), res.reason)])
        if not lines or a.asleep or b.asleep:
            return
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
            me.inbox.append(NewMemory(talk.transcript_memory(me.name, other.name, lines, where), "chat",
                                      "conversation", t, subject=other.name))

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
                    return Activity(step.action, step.address, emoji_for(step.action), max(until, t + 1))
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
                "cooldown": dict(sorted(self.cooldown.items())), "convos": self.convos,
                "overrides": {w: [a.action, a.address, a.emoji, a.until] for w, a in sorted(self.overrides.items())}}

    def load_state(self, state: dict[str, Any]) -> None:
        self.scheduled = [(int(tick), dict(e)) for tick, e in state["scheduled"]]
        self.cooldown = {k: int(v) for k, v in state["cooldown"].items()}
        self.convos = int(state["convos"])
        self.overrides = {w: Activity(str(a), str(b), str(c), int(d)) for w, (a, b, c, d) in state["overrides"].items()}

