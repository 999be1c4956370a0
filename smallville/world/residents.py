"""A town's residents as data: who lives where, works where, wakes and sleeps when, spawns where.

Owns the schema of `maps/<town>/residents.toml` (see docs/map-format.md) and its checks against the
town: homes, workplaces and haunts must be arenas of the map; each spawn must be a walkable tile in
the resident's home and agree with the map's `spawns` layer. The agents' personas extend this file.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smallville.errors import MapError
from smallville.world.datafile import read_data_file
from smallville.world.town import Town

Place = tuple[str, str]  # (sector, arena)


def _minutes(value: str) -> int:
    hh, _, mm = value.partition(":")
    if not (hh.isdigit() and mm.isdigit() and len(mm) == 2 and int(hh) < 24 and int(mm) < 60):
        raise ValueError(f"{value!r} is not a time of day HH:MM")
    return int(hh) * 60 + int(mm)


class Resident(BaseModel):
    """One resident's fixed facts. Times of day are 'HH:MM'; `bed` may be after midnight."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    age: int = Field(ge=0, le=130)
    occupation: str = ""
    home: Place
    workplace: Place | None = None
    work_hours: tuple[str, str] | None = None
    haunts: list[Place] = Field(default_factory=list)
    wake: str = "07:00"
    bed: str = "23:00"
    spawn: tuple[int, int]
    sprite: str = ""
    # The persona (the generative minds read these; the routine ignores them).
    traits: list[str] = Field(default_factory=list)  # innate: "friendly", "outgoing", ...
    background: str = ""  # who they are: job, history, what they care about
    currently: str = ""  # what occupies them these days
    lifestyle: str = ""  # habits and daily rhythm, in words
    relationships: dict[str, str] = Field(default_factory=dict)  # other resident's name -> how they relate
    knows: list[Place] = Field(default_factory=list)  # arenas they know at the start (spatial memory)

    @field_validator("sprite")
    @classmethod
    def _sprite(cls, value: str) -> str:
        # a sheet's name in assets/characters (the viewer adds ".png"), never a path out of it
        if value and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
            raise ValueError(f"sprite {value!r} must be a sheet's name in assets/characters, without '.png' "
                             "or a folder")
        return value

    @field_validator("wake", "bed")
    @classmethod
    def _time(cls, value: str) -> str:
        _minutes(value)
        return value

    @field_validator("work_hours")
    @classmethod
    def _hours(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is not None:
            _minutes(value[0])
            _minutes(value[1])
        return value

    @property
    def wake_minute(self) -> int:
        return _minutes(self.wake)

    @property
    def bed_minute(self) -> int:
        """Minutes after the wake day's midnight (a 01:00 bedtime is 25*60)."""
        bed = _minutes(self.bed)
        return bed + 24 * 60 if bed <= self.wake_minute else bed

    @property
    def work_minutes(self) -> tuple[int, int] | None:
        if self.work_hours is None:
            return None
        return _minutes(self.work_hours[0]), _minutes(self.work_hours[1])


class ResidentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    residents: list[Resident] = Field(min_length=1)


def load_residents(path: Path | str, town: Town) -> list[Resident]:
    """Read and check a residents file against the town. Raises `MapError` naming the resident."""
    path = Path(path)
    residents = read_data_file(path, ResidentsFile, "residents", "residents", "resident", "name").residents
    seen: set[str] = set()
    spawns: set[tuple[int, int]] = set()
    for r in residents:
        place = f"resident {r.name!r}"
        if r.name in seen:
            raise MapError(path, "appears twice", place=place)
        seen.add(r.name)
        for label, where in [("home", r.home), ("workplace", r.workplace)] + [
            ("haunt", h) for h in r.haunts
        ]:
            if where is None:
                continue
            try:
                town.arena(*where)
            except KeyError:
                raise MapError(path, f"{label} {where[0]!r} > {where[1]!r} is not an arena of "
                                     f"{town.data.path.name}", place=place) from None
        for where in r.knows:
            try:
                town.arena(*where)
            except KeyError:
                raise MapError(path, f"known place {where[0]!r} > {where[1]!r} is not an arena of "
                                     f"{town.data.path.name}", place=place) from None
        if r.work_hours is not None and r.workplace is None:
            raise MapError(path, "work_hours given without a workplace", place=place)
        x, y = r.spawn
        if not town.walkable(x, y):
            raise MapError(path, f"spawn {r.spawn} is not a walkable tile", place=place)
        home = town.arena(*r.home)
        if town.arena_at(x, y) is not home:
            raise MapError(path, f"spawn {r.spawn} is not inside the home {home.address!r}", place=place)
        if r.spawn in spawns:
            raise MapError(path, f"spawn {r.spawn} is shared with another resident", place=place)
        spawns.add(r.spawn)
        on_map = town.data.spawns.get(r.name)
        if on_map is not None and on_map != tuple(r.spawn):
            raise MapError(path, f"spawn {r.spawn} disagrees with the map's spawns layer {on_map} "
                                 f"(regenerate the map: tools/build_map.py)", place=place)
    for r in residents:
        strangers = sorted(set(r.relationships) - seen)
        if strangers:
            raise MapError(path, f"relationships name people who are not residents: {', '.join(strangers)}",
                           place=f"resident {r.name!r}")
    return residents
