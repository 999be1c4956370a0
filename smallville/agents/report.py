"""What the minds did in a save, at a glance (the `minds` part of `smallville inspect`).

Owns the summary of the mind events of a log: plans made, conversations held and declined, lines said,
what the residents took from their talks (memos, and days re-planned after one), memories by kind,
reflections and the depth of their evidence trees, fallbacks by step, and, for each seeded fact of the
scenario, which residents hold a memory that carries it (how far the news went).
Computed from the event log alone, like everything a save shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from smallville.agents.memory import TALK_MEMO
from smallville.core import events as ev
from smallville.world.scenario import Scenario


def summarize_minds(log: Iterable[ev.Event], scenario: Scenario | None = None) -> dict[str, Any]:
    plans: Counter[str] = Counter()
    memories: Counter[str] = Counter()
    fallbacks: Counter[str] = Counter()
    talks = declined = lines = reflections = memos = replans = 0
    evidence: dict[tuple[str, int], tuple[int, ...]] = {}
    knows: dict[str, set[str]] = {f.id: set() for f in scenario.facts} if scenario else {}
    for e in log:
        if isinstance(e, ev.Plan):
            plans[e.level] += 1
            replans += e.level == "hourly" and e.reason.startswith("after talking with")
        elif isinstance(e, ev.Converse):
            talks, declined = (talks + 1, declined) if e.lines else (talks, declined + 1)
        elif isinstance(e, ev.Say):
            lines += 1
        elif isinstance(e, ev.Reflect):
            reflections += 1
        elif isinstance(e, ev.Fallback):
            fallbacks[e.step] += 1
        elif isinstance(e, ev.Remember):
            memories[e.tag] += 1
            memos += e.tag == TALK_MEMO
            evidence[(e.who, e.id)] = e.evidence
            for fact in scenario.facts if scenario else ():
                if fact.carried_by(e.text):
                    knows[fact.id].add(e.who)
    if not (plans or memories):
        return {}

    def depth(key: tuple[str, int]) -> int:  # evidence trees: a leaf memory is depth 0
        cited = evidence.get(key, ())
        return 1 + max(depth((key[0], c)) for c in cited) if cited else 0

    deepest = max((depth(k) for k, cites in evidence.items() if cites), default=0)
    return {"plans": dict(sorted(plans.items())), "conversations": talks, "declined": declined, "lines": lines,
            "memos": memos, "replanned_after_talks": replans,
            "memories": dict(sorted(memories.items())), "reflections": reflections,
            "deepest_reflection_tree": deepest, "fallbacks": dict(sorted(fallbacks.items())),
            "facts": {fid: sorted(who) for fid, who in knows.items()}}


def render_minds(minds: dict[str, Any]) -> list[str]:
    if not minds:
        return []
    lines = [
        "plans       " + ", ".join(f"{k} {v:,}" for k, v in minds["plans"].items()),
        f"talk        {minds['conversations']:,} conversations ({minds['lines']:,} lines), "
        f"{minds['declined']:,} declined; {minds.get('memos', 0):,} memos kept of them, "
        f"{minds.get('replanned_after_talks', 0):,} days re-planned after one",
        "memories    " + ", ".join(f"{k} {v:,}" for k, v in minds["memories"].items()),
        f"reflection  {minds['reflections']:,} (deepest evidence tree {minds['deepest_reflection_tree']})",
        "fallbacks   " + (", ".join(f"{k} {v:,}" for k, v in minds["fallbacks"].items()) or "none"),
    ]
    for fact, who in minds["facts"].items():
        lines.append(f"news        {fact}: known to {len(who)} ({', '.join(who)})")
    return lines
