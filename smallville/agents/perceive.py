"""Perception: what a resident notices when it looks around, who is close enough to talk to, and whether
the object an action needs is free.

Owns the perceive step of Park et al. 2023: within the vision radius and the resident's own arena (walls
block sight), nearest first, at most `attention` things (the paper's 25-agent run: 8): the resident's own
action first (it observes itself, as the original's agents do: "Isabella Rodriguez is brewing coffee"),
then other residents and what they are doing, then objects in use and their state. Only news becomes a
memory: a thing is remembered again only when what it is doing has changed since the resident last saw it
(so a self-observation is made when the resident's action changes; no call, the rating is the usual one).
Entering an arena it did not know teaches the resident the place (spatial memory grows as in the paper).

`take_turn` is the other half of objects being in use from arrival (`core.sim`): an action whose object is
full (one user a tile) moves to its spare (the arena's next object nearest the action, chosen with it), or
waits a few minutes for it, then does without. (Several objects of one kind in an arena share an address,
as in the original map: they are one object to walk to.)
"""

from __future__ import annotations

from dataclasses import replace

from smallville.agents.prompts.place import IN_USE
from smallville.agents.settings import AgentSettings
from smallville.agents.state import NewMemory, ResidentMind
from smallville.core.mind import Activity, SimOps
from smallville.world.objects import IDLE
from smallville.world.town import GameObject, Town

#: Game minutes a resident waits for an object in use before it looks again.
WAIT_MINUTES = 5


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
    if agent.action:  # itself first: the nearest thing of all
        seen.append((name, doing(name, agent.action)))
    used = {agent.using}  # objects the residents in sight are using: their state is what those residents do
    for other in sim.near(name, settings.vision_radius)[: max(0, settings.attention - len(seen))]:
        them = sim.agent(other)
        used.add(them.using)
        if them.action:
            seen.append((other, doing(other, them.action)))
    room = settings.attention - len(seen)
    if room > 0 and here:
        for obj in sim.town.objects_near(agent.x, agent.y, settings.vision_radius):
            state = sim.object_state(obj.address)
            if state != IDLE and obj.address not in used:
                seen.append((obj.address, f"the {obj.kind} is in use" + (f": {state}" if state != IN_USE else "")))
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


def full(sim: SimOps, thing: GameObject) -> bool:
    """Whether the object has no room for one more user (one a tile)."""
    return sim.users(thing.address) >= max(1, len(thing.tiles))


def take_turn(sim: SimOps, town: Town, who: str, act: Activity, t: int, wait_ticks: int, spare: str = "") -> Activity:
    """`act` as `who` can do it now: unchanged when its object has room (or `who` already uses it, or it is
    an arena); else at its `spare` (another object of the arena, chosen with it) when that has room, showing
    the action; else waiting in the arena for the object, until it may be free (at most `wait_ticks`, never
    past the action's end); and when it is still full after that wait, the action in the arena without it
    (nobody queues for a whole step)."""
    try:
        thing = town.lookup(act.address) if act.address else None
        other = town.lookup(spare) if spare else None
    except KeyError:
        return act
    if not isinstance(thing, GameObject) or sim.agent(who).using == thing.address or not full(sim, thing):
        return act
    if isinstance(other, GameObject) and (sim.agent(who).using == other.address or not full(sim, other)):
        return replace(act, address=other.address, state="")
    arena = thing.address.rsplit(":", 1)[0]
    waiting = f"waiting to use the {thing.kind}"
    if sim.agent(who).action == waiting:  # waited once already: does without it, in the arena
        return replace(act, address=arena, state="")
    return Activity(waiting, arena, "⏳", min(act.until, t + wait_ticks))
