"""A scenario: the seeded facts of a run and the questions that measure how they spread.

Owns the schema of `maps/<town>/scenario.toml` and its checks against the town's residents: each fact has a
unique id, a holder who is a resident, a seeded memory that carries its own evidence words, and a question;
the relationship question is a template with a `{name}` field. `Fact.carried_by` is the one rule for whether a
text (a memory, an answer) carries a fact.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from smallville.errors import MapError
from smallville.world.datafile import read_data_file
from smallville.world.residents import Resident

_WORD = re.compile(r"[a-z0-9]+")
_ID = re.compile(r"[a-z0-9_-]{1,40}")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _forms(word: str) -> set[str]:
    """The word and its simple inflections: plural, possessive (split off as 's'), adjective in -al."""
    forms = {word, word + "s", word + "es", word + "al"}
    if word.endswith("y"):
        forms.add(word[:-1] + "ies")
    return forms


class Gathering(BaseModel):
    """An event a fact announces (a party): where it is (an arena address, 'sector:arena' without the
    world) and when, so an evaluation can see who came."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    place: str = Field(min_length=1)
    start: datetime
    end: datetime


Share = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


class FactBaseline(BaseModel):
    """Published figures for one fact, for a report to set beside its own (shares of all residents)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aware_start: Share | None = None
    aware_end: Share | None = None
    held_start: Share | None = None
    held_end: Share | None = None
    invited: Count | None = None  # with a gathering: told before it starts
    came: Count | None = None
    invited_and_came: Count | None = None


class Baseline(BaseModel):
    """Published figures for the whole scenario, and where they come from (the report's column title)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1, max_length=40)
    density_before: Share | None = None
    density_after: Share | None = None
    density_log_before: Share | None = None
    density_log_after: Share | None = None
    relationship_hallucination_rate: Share | None = None


class Fact(BaseModel):
    """One piece of news, known at the start only by its holder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    holder: str = Field(min_length=1)
    memory: str = Field(min_length=1)  # the holder's seeded thought
    question: str = Field(min_length=1)  # asked of every resident at the end
    evidence: list[str] = Field(default_factory=list)  # lower-case words a text must all contain
    gathering: Gathering | None = None  # the event it announces, if it is one
    baseline: FactBaseline | None = None  # published figures to compare with (needs the scenario's [baseline])

    def carried_by(self, text: str) -> bool:
        """Whether `text` contains every evidence word (or a simple inflection of it) as a whole word."""
        words = _words(text)
        return bool(self.evidence) and all(words & _forms(w) for w in self.evidence)


class RelationshipQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str = Field(min_length=1)

    def ask(self, name: str) -> str:
        return self.template.format(name=name)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    facts: list[Fact] = Field(default_factory=list)
    relationship_question: RelationshipQuestion
    baseline: Baseline | None = None  # published figures (the Ville's: the paper's); none for most scenarios

    def baselines(self) -> dict[str, Any] | None:
        """The published figures as a report takes them: {"source": ..., "figures": {name: value}} with the
        report's names ('party.aware_end', 'density_after', ...); None when the scenario gives none, so a
        report compares only with what was published for this scenario."""
        if self.baseline is None:
            return None
        figures = {k: float(v) for k, v in self.baseline.model_dump(exclude={"source"}).items() if v is not None}
        for fact in self.facts:
            if fact.baseline is not None:
                figures.update({f"{fact.id}.{k}": float(v) for k, v in fact.baseline.model_dump().items()
                                if v is not None})
        return {"source": self.baseline.source, "figures": figures}

    def fact(self, fact_id: str) -> Fact:
        for f in self.facts:
            if f.id == fact_id:
                return f
        raise KeyError(fact_id)


def load_scenario(path: Path | str, residents: Iterable[Resident | str]) -> Scenario:
    """Read and check a scenario file against the residents (or their names). Raises `MapError` naming the fact."""
    path = Path(path)
    scenario = read_data_file(path, Scenario, "scenario", "facts", "fact", "id")
    names = {r if isinstance(r, str) else r.name for r in residents}
    seen: set[str] = set()
    for fact in scenario.facts:
        place = f"fact {fact.id!r}"
        if fact.id in seen:
            raise MapError(path, "appears twice (fact ids must be unique)", place=place)
        if not _ID.fullmatch(fact.id):
            raise MapError(path, "the id must be lower-case letters, digits, '-' or '_' (it names report files)",
                           place=place)
        seen.add(fact.id)
        if fact.holder not in names:
            raise MapError(path, f"holder {fact.holder!r} is not a resident", place=place)
        if not fact.evidence:
            raise MapError(path, "evidence is empty: give the lower-case words a memory must contain", place=place)
        bad = [w for w in fact.evidence if not _WORD.fullmatch(w)]
        if bad:
            raise MapError(path, f"evidence {bad} must be single lower-case words", place=place)
        if not fact.carried_by(fact.memory):
            missing = [w for w in fact.evidence if not _words(fact.memory) & _forms(w)]
            raise MapError(path, f"the seeded memory lacks the evidence words {missing}", place=place)
        if fact.gathering is not None and fact.gathering.end <= fact.gathering.start:
            raise MapError(path, "the gathering must end after it starts", place=place + " gathering")
        if fact.baseline is not None:
            counts = [k for k in ("invited", "came", "invited_and_came") if getattr(fact.baseline, k) is not None]
            if counts and fact.gathering is None:
                raise MapError(path, f"{', '.join(counts)} need a gathering", place=place + " baseline")
            if scenario.baseline is None:
                raise MapError(path, "a fact's baseline needs the scenario's [baseline] with its source",
                               place=place + " baseline")
    template = scenario.relationship_question.template
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise MapError(path, f"template {template!r} is malformed: {exc}", place="relationship_question") from None
    if fields != {"name"}:
        raise MapError(path, f"template {template!r} must contain {{name}} and no other field",
                       place="relationship_question")
    return scenario
