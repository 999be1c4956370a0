"""The diffusion evaluation of one run: from a save to every figure of the paper's end-to-end study.

Owns the phases and their order: open and check the save (a clear error for another map's save, a missing
resident, a scenario that does not fit, a log cut back before its newest checkpoint; a plain note when the
run is unfinished or its log torn), read the log (who held each fact when and from whom, the awareness
curves, the cascades, the gathering, the social graph), interview every resident before and after (through
the chat's interview: a call per question and one for the names, `eval/ask.py`), and put it all in one
JSON-safe dict with the calls and wall time of each phase. Running the runs, several seeds, and writing the
report are `eval/study.py`'s.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallville.agents.history import History, personas_of
from smallville.agents.memory import RetrievalWeights
from smallville.agents.prompts.social import INTERVIEW_MEMORY_TOKENS
from smallville.config import Settings, resolve_path
from smallville.core.clock import Clock
from smallville.core.events import Event, Remember
from smallville.errors import SaveError, SmallvilleError
from smallville.eval import gathering, network, spread
from smallville.eval.ask import Interviewed, interview_resident
from smallville.persist.save import Save
from smallville.world.residents import Resident
from smallville.world.scenario import Scenario, load_scenario
from smallville.world.town import Town, load_town


@dataclass
class Opened:
    """A save read for evaluation."""

    save: Save
    settings: Settings
    clock: Clock
    events: list[Event]
    names: list[str]
    personas: dict[str, Resident]
    scenario: Scenario
    notes: list[str] = field(default_factory=list)  # what is partial, in words
    checkpoint: int = 0  # the tick of the newest checkpoint

    @property
    def first(self) -> int:
        return self.events[0].t if self.events else 0

    @property
    def last(self) -> int:
        """The run's last tick: its newest checkpoint's, or its last event's after a crash past it."""
        return max(self.events[-1].t if self.events else 0, self.checkpoint)

    def replay(self, tick: int) -> str:
        """The command that shows this moment of the run."""
        minutes = (tick - self.first) * self.clock.tick_seconds // 60
        return f"smallville replay {shlex.quote(str(self.save.root))} --at {minutes // 60}:{minutes % 60:02d} --paused"


def open_save(save_dir: Path, scenario_path: Path | None = None) -> Opened:
    """Read a save and check that the scenario fits it. Raises `SmallvilleError` with the reason."""
    save = Save.open(save_dir)
    manifest_path = save.root / "manifest.json"
    settings = save.settings()
    if settings.agents.mind != "generative":
        raise SaveError(manifest_path, f"the run's residents had the {settings.agents.mind!r} mind: they hold "
                                       "no memories to evaluate (run with the generative mind)")
    scan, problems = save.read_checked_log()
    # A log cut back before its newest checkpoint would be evaluated as a shorter run (and `last` taken from
    # the checkpoint): figures about a run that is not there. Refused, as resume refuses it. (The recording
    # of calls and the checkpoint's state are not evaluated: their problems are resume's.)
    problems = [p for p in problems if p.kind == "events"]
    if problems:
        raise problems[0].error("not evaluated (its figures would be wrong)")
    if not scan.events:
        raise SaveError(save.events_path, "the log holds no events: nothing to evaluate")
    names = save.resident_names()
    if not names:
        raise SaveError(manifest_path, "the manifest lists no residents")
    personas = personas_of(save.manifest, settings.town.residents)
    missing = [n for n in names if n not in personas]
    if missing:
        raise SaveError(manifest_path, f"residents of the save missing from its residents file: {missing}")
    scenario = _scenario(settings, names, scenario_path, manifest_path)
    clock = Clock(settings.sim.start, settings.sim.tick_seconds)
    checkpoints = save.checkpoint_ticks()
    opened = Opened(save, settings, clock, scan.events, names, personas, scenario,
                    checkpoint=checkpoints[-1] if checkpoints else 0)
    _check_places(opened)
    target = save.manifest.get("target_tick")
    if scan.torn_tail_bytes:
        opened.notes.append(f"the log ends with {scan.torn_tail_bytes} bytes of a line cut by a crash; "
                            "evaluated up to its last whole line")
    if target is not None and opened.last < int(target):
        opened.notes.append(f"the run is unfinished: its log reaches {clock.label(opened.last)} of "
                            f"{clock.label(int(target))} (resume it with `smallville resume {save.root}`)")
    seeded = {e.who for e in scan.events if isinstance(e, Remember) and e.tag == "seed"}
    unseeded = [f.id for f in scenario.facts if f.holder not in seeded]
    if unseeded:
        opened.notes.append(f"no seeded memory in the log for {unseeded}: this run did not seed that scenario")
    return opened


def check_scenario(settings: Settings, given: Path | None) -> Scenario:
    """Before any run: the scenario a study would seed and ask, checked against the configured town
    (residents, and the gatherings' places on its map), so a mistake costs no game day."""
    from smallville.run.assemble import load

    world = load(settings)
    scenario = _scenario(settings, [r.name for r in world.residents], given, Path(settings.town.residents))
    _check_gatherings(scenario, world.town, given or settings.agents.scenario)
    return scenario


def _scenario(settings: Settings, names: list[str], given: Path | None, where: Path) -> Scenario:
    if given is not None:
        return load_scenario(given, names)
    from smallville.run.assemble import scenario_path

    path = scenario_path(settings)
    if not path or not resolve_path(path).is_file():
        raise SaveError(where, f"the run's scenario file {path or '(none)'} is not there; give one with --scenario")
    return load_scenario(resolve_path(path), names)


def _check_places(opened: Opened) -> None:
    """The run's map: a note if it changed since the run; a gathering must be one of its arenas (a
    scenario of another town is an error here)."""
    map_path = resolve_path(opened.save.manifest.get("map", {}).get("path") or opened.settings.town.map)
    try:
        town = load_town(map_path)
    except (SmallvilleError, OSError) as exc:
        raise SaveError(opened.save.root / "manifest.json", f"the run's map cannot be read: {exc}") from None
    if town.data.sha256 != opened.save.manifest.get("map", {}).get("sha256"):
        opened.notes.append(f"the map {map_path} has changed since this run (or the run was made on another "
                            "map): places are checked against the file as it is now")
    _check_gatherings(opened.scenario, town, opened.save.root / "manifest.json")


def _check_gatherings(scenario: Scenario, town: Town, where: Path | str) -> None:
    """Each gathering's place must be an arena of the town (a scenario of another town fails here)."""
    for fact in scenario.facts:
        if fact.gathering is None:
            continue
        try:
            town.lookup(f"{town.world}:{fact.gathering.place}")
        except KeyError:
            raise SaveError(where, f"fact {fact.id!r}: the gathering place {fact.gathering.place!r} is not an "
                                   f"arena of the town {town.world!r}") from None


def read_log(opened: Opened, hour_ticks: int) -> dict[str, Any]:
    """Every figure the log alone gives."""
    talks = spread.TalkIndex(opened.events)
    n = len(opened.names)
    since = interview_moments(opened)["before"]  # the curves start once the facts are seeded
    facts: dict[str, Any] = {}
    for fact in opened.scenario.facts:
        held = {w: h for w, h in spread.holdings(opened.events, fact, talks).items() if w in opened.names}
        points = spread.curve(held, since, opened.last, hour_ticks)
        start = sum(1 for h in held.values() if h.tag == "seed")
        edges = spread.cascade(held)
        came = gathering.attendance(opened.events, fact, opened.clock, str(opened.save.manifest.get("world", "")))
        facts[fact.id] = {
            "holder": fact.holder,
            "held_start": start / n, "held_end": len(held) / n, "held_end_n": len(held),
            "curve": [{"t": t, "hours": round((t - opened.first) * opened.clock.tick_seconds / 3600, 2),
                       "held": k, "share": round(k / n, 4)} for t, k in points],
            "holders": {w: {**h.to_dict(), "at": opened.clock.label(h.t), "replay": opened.replay(h.t)}
                        for w, h in sorted(held.items(), key=lambda kv: kv[1].t)},
            "cascade": [{"teller": a, "told": b, "t": t, "at": opened.clock.label(t), "replay": opened.replay(t)}
                        for a, b, t in edges],
            "spontaneous": sorted(w for w, h in held.items() if h.source == spread.SELF),
            "lines": len(spread.tellings(opened.events, fact)),
            "gathering": {**came.to_dict(), "at": opened.clock.label(came.start), "replay": opened.replay(came.start)}
            if came else None,
        }
    ties = network.persona_ties(opened.personas.values(), opened.names)
    before = network.log_graph(opened.names, ties, [], None)
    after = network.log_graph(opened.names, ties, opened.events, None)
    return {"facts": facts, "graphs": {"log_before": before, "log_after": after},
            "density_log_before": round(network.density(before), 4),
            "density_log_after": round(network.density(after), 4)}


def interview_moments(opened: Opened) -> dict[str, int]:
    """Before: once the facts are seeded (the start of the run); after: the last tick of the log."""
    seeds = [e.t for e in opened.events if isinstance(e, Remember) and e.tag == "seed"]
    return {"before": max(seeds) if seeds else opened.first, "after": opened.last}


async def interview_all(opened: Opened, lm: Any, embedder: Any, tick: int) -> list[Interviewed]:
    """Every resident as of `tick` (one at a time per resident, all residents concurrently)."""
    history = History([e for e in opened.events if e.t <= tick])
    a = opened.settings.agents
    weights = RetrievalWeights(a.recency_weight, a.importance_weight, a.relevance_weight)
    seed = opened.settings.sim.seed * 1000 + (1 if tick > opened.first else 0)
    # the interview depth and memory budget the run's chat has (agents/interview.py, viewer/askers.py)
    k, budget = a.retrieve_interview, min(INTERVIEW_MEMORY_TOKENS, a.prompt_tokens)
    jobs = [interview_resident(lm, embedder, opened.personas[name], opened.scenario,
                               history.memories_at(name, tick), history.accesses_at(name, tick), opened.names,
                               tick, opened.clock.tick_seconds, weights, seed=seed + 2 * i, k=k, budget=budget)
            for i, name in enumerate(opened.names)]
    return list(await asyncio.gather(*jobs))


def interview_figures(opened: Opened, moments: dict[str, list[Interviewed]],
                      holders: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Shares aware (said yes and a memory carries it, told by someone), hallucinations, inventions (the
    log's `holders` say who raised a fact unprompted) and the interview graphs."""
    n = len(opened.names)
    out: dict[str, Any] = {"facts": {}, "graphs": {}}
    for fact in opened.scenario.facts:
        row: dict[str, Any] = {}
        raised = {w: h["t"] for w, h in (holders or {}).get(fact.id, {}).items() if h["source"] == spread.SELF}
        for moment, answers in moments.items():
            for r in answers:
                if fact.id in r.facts and r.who in raised and raised[r.who] <= r.tick:
                    r.facts[fact.id].own = True
            labels = [r.facts[fact.id].label for r in answers if fact.id in r.facts]
            row[f"aware_{_end(moment)}"] = round(labels.count("aware") / n, 4)
            row[f"aware_{_end(moment)}_n"] = labels.count("aware")
            row[f"said_yes_{_end(moment)}"] = sum(labels.count(k) for k in ("aware", "hallucinated", "invented"))
            row[f"hallucinated_{_end(moment)}"] = labels.count("hallucinated")
            row[f"invented_{_end(moment)}"] = labels.count("invented")
            row[f"judged_{_end(moment)}"] = sum(r.facts[fact.id].judged for r in answers if fact.id in r.facts)
            row[f"held_not_said_{_end(moment)}"] = labels.count("held_not_said")
        out["facts"][fact.id] = row
    for moment, answers in moments.items():
        knows = {r.who: r.knows() for r in answers}
        loose = {r.who: {o for o, v in r.people.items() if v.said} for r in answers}
        said = sum(v.said for r in answers for v in r.people.values())
        halluc = sum(v.label == "hallucinated" for r in answers for v in r.people.values())
        out[f"relationship_yes_{moment}"] = said
        out[f"relationship_hallucinated_{moment}"] = halluc
        out[f"relationship_hallucination_rate_{moment}"] = round(halluc / said, 4) if said else 0.0
        mutual = network.interview_graph(opened.names, knows)
        out["graphs"][f"interview_{moment}"] = mutual
        out[f"density_{moment}"] = round(network.density(mutual), 4)
        out[f"density_either_{moment}"] = round(network.density(network.interview_graph(opened.names, knows,
                                                                                         mutual=False)), 4)
        out[f"density_said_{moment}"] = round(network.density(network.interview_graph(opened.names, loose)), 4)
    # the paper's 1.3% is of the answers at the end
    out["relationship_hallucination_rate"] = out.get("relationship_hallucination_rate_after", 0.0)
    # calls answered by the default: each news question is its own call; the names share one
    out["fallback_calls"] = sum(sum(v.fallback for v in r.facts.values()) + any(v.fallback for v in r.people.values())
                                for answers in moments.values() for r in answers)
    return out


def _end(moment: str) -> str:
    return {"before": "start", "after": "end"}.get(moment, moment)


class Phases:
    """Wall time, model calls and tokens of each phase of an evaluation (calls counted through `counting`,
    tokens from the pool's accounting where there is one)."""

    def __init__(self) -> None:
        self.accounting: Any = None
        self.calls = 0
        self.figures: dict[str, dict[str, Any]] = {}

    def counting(self, lm: Any) -> Any:
        return _Counting(lm, self)

    def measure(self, name: str) -> _Phase:
        return _Phase(self, name)


class _Counting:
    def __init__(self, lm: Any, phases: Phases):
        self.lm, self.phases = lm, phases

    async def complete_model(self, *args: Any, **kwargs: Any) -> Any:
        self.phases.calls += 1
        return await self.lm.complete_model(*args, **kwargs)

    async def complete_text(self, *args: Any, **kwargs: Any) -> Any:
        self.phases.calls += 1
        return await self.lm.complete_text(*args, **kwargs)


class _Phase:
    def __init__(self, phases: Phases, name: str):
        self.phases, self.name = phases, name

    def __enter__(self) -> _Phase:
        self.started = time.perf_counter()
        self.calls0, self.tokens0 = self.phases.calls, self._tokens()
        return self

    def _tokens(self) -> int:
        if self.phases.accounting is None:
            return 0
        totals = self.phases.accounting.snapshot()["totals"]
        return int(totals["prompt_tokens"]) + int(totals["completion_tokens"])

    def __exit__(self, *exc: object) -> None:
        self.phases.figures[self.name] = {"wall_s": round(time.perf_counter() - self.started, 2),
                                          "calls": self.phases.calls - self.calls0,
                                          "tokens": self._tokens() - self.tokens0}
