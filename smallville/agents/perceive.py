"""Perception: what a resident notices when it looks around, and who is close enough to talk to.

Owns the perceive step of Park et al. 2023: within the vision radius and the resident's own arena (walls
block sight), nearest first, at most `attention` things: other residents and what they are doing, then
objects in use and their state. Only news becomes a memory: a thing is remembered again only when what
it is doing has changed since the resident last saw it. Entering an arena it did not know teaches the
resident the place (spatial memory grows as in the paper).
"""

from __future__ import annotations

from smallville.agents.settings import AgentSettings
from smallville.agents.state import NewMemory, ResidentMind
from smallville.core.mind import SimOps
from smallville.world.objects import IDLE


def arena_here(sim: SimOps, name: str) -> str:
    """The address of the arena the resident stands in ('' outdoors)."""
    a = sim.agent(name)
    arena = sim.town.arena_at(a.x, a.y)
    return arena.address if arena is not None else ""


def look(sim: SimOps, mind: ResidentMind, settings: AgentSettings, t: int) -> list[NewMemory]:
    """New observations of `mind`'s resident at tick t (and the arena learnt, if new)."""
    name = mind.name
    here = arena_here(sim, name)
    if here and here not in mind.known:
        mind.known.append(here)
    agent = sim.agent(name)
    seen: list[tuple[str, str]] = []
    used = set()  # objects the residents in sight are using: their state is what those residents do
    for other in sim.near(name, settings.vision_radius)[: settings.attention]:
        them = sim.agent(other)
        used.add(them.using)
        if them.action:
            seen.append((other, doing(other, them.action)))
    room = settings.attention - len(seen)
    if room > 0 and here:
        for obj in sim.town.objects_near(agent.x, agent.y, settings.vision_radius):
            state = sim.object_state(obj.address)
            if state != IDLE and obj.address != agent.using and obj.address not in used:
                seen.append((obj.address, f"the {obj.kind} is in use: {state}"))
                room -= 1
                if room == 0:
                    break
    new = []
    for subject, text in seen:
        if mind.seen.get(subject) != text:
            mind.seen[subject] = text
            new.append(NewMemory(text, "event", "observation", t, subject=subject))
    return new


def doing(name: str, action: str) -> str:
    """'Klaus Mueller is reading' for a participle, 'Klaus Mueller is busy: read a book' for a plan step."""
    first = action.split()[0].lower() if action.split() else ""
    return f"{name} is {action}" if first.endswith("ing") else f"{name} is busy: {action}"


def talk_partners(sim: SimOps, name: str, radius: int) -> list[str]:
    """Residents close enough to start a conversation with, nearest first."""
    return sim.near(name, radius)
