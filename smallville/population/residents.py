"""A drawn population as a town's residents: the residents file `smallville run` loads.

Owns the mapping from people (attributes, names, backgrounds) to the town's places and routines:

- **Homes by beds.** The map has no bed capacity field; every object named `bed` (or `... bed`) is one
  sleeper's place. Beds are filled in map order (sector by sector), people in a seeded order, so housemates
  are the people whose beds share a sector. Fewer beds than people is a one-line error naming both counts.
- **Spawn**: a tile of the person's own bed (inside the home arena, never shared).
- **Work**: public arenas (of sectors with no bed; not bathrooms or hallways) are workplaces. An occupation
  (an attribute named Profession, Occupation or Job) goes to the first arena whose name fits it in a small
  keyword table (professors and students to the classroom or library, bartenders to the pub, ...), else
  round-robin over the public arenas in the order the config lists the occupations; one occupation, one
  workplace, so people of a trade are coworkers. "Unemployed", "Retired" and "None" have no workplace.
- **Age** from an attribute named Age: a number, a band "25-44" (drawn inside it), "65+" or "under 18";
  without one, 20-65. **Wake and bed** drawn around work hours (children earlier to bed).
- **Known places**: the home's sector, the workplace, two haunts and every public arena.
- **Sprites** from the bundled character sheets, women's and men's sheets for a population with a gender,
  each used once before any repeats. **Relationships**: housemates and coworkers (at most 12, housemates
  first). **Traits**: three from a bundled list.

Every draw comes from a named stream (`residents:<what>:<id>`), so a seed gives the same file. The file keeps
each person's population id and attributes (extra keys the residents schema allows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallville.core.rng import Stream, Streams
from smallville.population.draw import Drawn, permutation
from smallville.population.names import ANY_CODE, FEMALE_CODE, MALE_CODE, gender_code, words
from smallville.population.people import PopulationError
from smallville.world.town import Arena, Town

Place = tuple[str, str]

_NOT_A_PLACE_TO_BE = re.compile(r"bathroom|toilet|restroom|hallway|corridor|closet", re.I)
_NO_WORK = re.compile(r"^\s*(none|no job|unemployed|jobless|retired|n/?a|homemaker)\s*$", re.I)
#: occupation pattern -> pattern of the arena (or, failing that, sector) names where it is done
_WORK = [
    (r"professor|teacher|lecturer|student|scien|research|econom|psycholog|academ|librar|game theory",
     r"classroom|library|college|school|university"),
    (r"bartend|brew|publican|sommelier", r"\bpub\b|\bbar\b|tavern"),
    (r"barista|caf|cook|chef|baker|waiter|waitress|writer|poet|journalist", r"caf|restaurant|bakery|diner"),
    (r"shop|store|clerk|cashier|pharmac|retail|merchant|grocer|sales", r"store|shop|market|pharmacy"),
    (r"athlet|coach|gardener|trainer|sport|ranger", r"park|gym|field|garden"),
    (r"artist|painter|musician|photograph|sculpt", r"studio|gallery|caf|park"),
]
_SHIFTS = [("08:00", "16:00"), ("09:00", "17:00"), ("10:00", "18:00")]
TRAITS = words(
    "friendly outgoing curious patient kind practical organized logical attentive creative ambitious calm "
    "cheerful thoughtful honest generous stubborn shy talkative witty careful energetic gentle hardworking "
    "independent loyal modest optimistic pragmatic quiet reliable sincere skeptical warm adventurous "
    "meticulous easygoing earnest playful reserved"
)
MAX_RELATIONSHIPS = 12
# The bundled sheets are the original 25 residents; these are the women's (the rest are men's).
_WOMEN_SHEETS = {"latoya_williams", "abigail_chen", "hailey_johnson", "isabella_rodriguez", "maria_lopez",
                 "ayesha_khan", "jennifer_moore", "tamara_taylor", "carmen_ortiz", "jane_moreno", "mei_lin",
                 "yuriko_yamamoto"}
CHARACTERS = Path(__file__).resolve().parents[2] / "assets" / "characters"


@dataclass(frozen=True)
class Bed:
    sector: str
    arena: str
    tiles: tuple[tuple[int, int], ...]


def beds_of(town: Town) -> list[Bed]:
    """Every sleeper's place in the town, in map order: one per object named bed."""
    beds = []
    for arena in town.arenas:
        for obj in arena.objects:
            kind = obj.kind.strip().lower()
            if kind == "bed" or kind.endswith(" bed"):
                beds.append(Bed(arena.sector, arena.name, tuple(obj.tiles)))
    return beds


def public_arenas(town: Town) -> list[Arena]:
    """Arenas of sectors without a bed (no one's home), bathrooms and hallways left out."""
    homes = {b.sector for b in beds_of(town)}
    return [a for a in town.arenas if a.sector not in homes and not _NOT_A_PLACE_TO_BE.search(a.name)]


def sprites() -> list[str]:
    """The bundled character sheets' names (without .png), sorted; [] when the assets are absent."""
    return sorted(p.stem for p in CHARACTERS.glob("*.png")) if CHARACTERS.is_dir() else []


def _attribute(people: Drawn, names: tuple[str, ...]) -> str | None:
    return next((a for a in people.config.attributes if a.strip().lower() in names), None)


def _age(value: str | None, rng: Stream) -> int:
    if value is not None:
        v = value.strip().lower()
        if m := re.fullmatch(r"(\d{1,3})", v):
            return min(int(m.group(1)), 130)
        if m := re.search(r"(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})", v):
            lo, hi = sorted((int(m.group(1)), int(m.group(2))))
            return min(rng.randint(lo, hi), 130)
        if m := re.search(r"(\d{1,3})\s*(?:\+|and (?:over|older|above)|or (?:over|older|more))"
                          r"|(?:over|above) (\d{1,3})", v):
            lo = int(m.group(1) or m.group(2))
            return min(rng.randint(lo, lo + 15), 130)
        if m := re.search(r"(?:under|below|<)\s*(\d{1,3})", v):
            hi = max(int(m.group(1)) - 1, 0)
            return rng.randint(max(hi - 10, 0), hi)
    return rng.randint(20, 65)


def _clock(minute: int) -> str:
    minute %= 24 * 60
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _minutes(value: str) -> int:
    return int(value[:2]) * 60 + int(value[3:])


def _workplaces(people: Drawn, occupation: str | None, public: list[Arena]) -> dict[str, Arena | None]:
    """Each occupation's workplace (see the module's docstring)."""
    if occupation is None or not public:
        return {}
    values: list[str] = []
    for d in people.config.distributions:
        for output in d.outputs:
            for key, value in output:
                if key == occupation and value not in values:
                    values.append(value)
    chosen: dict[str, Arena | None] = {}
    turn = 0
    for value in values:
        if _NO_WORK.match(value):
            chosen[value] = None
            continue
        place = None
        for job, where in _WORK:
            if re.search(job, value, re.I):
                place = next((a for a in public if re.search(where, a.name, re.I)), None) or \
                    next((a for a in public if re.search(where, a.sector, re.I)), None)
                if place is not None:
                    break
        if place is None:
            place = public[turn % len(public)]
            turn += 1
        chosen[value] = place
    return chosen


def build_residents(people: Drawn, town: Town, backgrounds: Sequence[str | None]) -> list[dict[str, Any]]:
    """The residents, as the TOML file's tables (plain data, in population id order)."""
    beds = beds_of(town)
    n = people.count
    if len(beds) < n:
        raise PopulationError(f"{town.data.path}: {len(beds)} beds for {n} people (each object named 'bed' sleeps "
                              f"one); lower total_num to {len(beds)} or less, or use a town with more beds")
    streams = Streams(people.seed)
    order = permutation(streams.get("residents:homes"), n).tolist()  # order[j]: who sleeps in bed j
    bed_of = {person: beds[j] for j, person in enumerate(order)}
    public = public_arenas(town)
    occupation_key = _attribute(people, ("profession", "occupation", "job", "work"))
    age_key = _attribute(people, ("age",))
    gender_key = _attribute(people, ("gender", "sex"))
    work = _workplaces(people, occupation_key, public)
    sheets = sprites()
    pools: dict[int, list[str]] = {ANY_CODE: sheets}
    women, men = [s for s in sheets if s in _WOMEN_SHEETS], [s for s in sheets if s not in _WOMEN_SHEETS]
    if gender_key is not None and women and men:
        pools.update({FEMALE_CODE: women, MALE_CODE: men})
    # each pool dealt in a seeded order and used round: every sheet once before any repeats
    dealt = {code: [pool[k] for k in permutation(streams.get(f"residents:sprites:{code}"), len(pool)).tolist()]
             for code, pool in pools.items()}
    used_sprites = dict.fromkeys(dealt, 0)
    spawns: set[tuple[int, int]] = set()
    rows: list[dict[str, Any]] = []
    for i in range(n):
        attributes = people.attributes_of(i)
        rng = streams.get(f"residents:person:{i}")
        bed = bed_of[i]
        home_arena = town.arena(bed.sector, bed.arena)
        spawn = next((t for t in (*bed.tiles, *home_arena.walkable) if t not in spawns), None)
        if spawn is None:
            raise PopulationError(f"{town.data.path}: no free tile for a spawn in {bed.sector!r} > {bed.arena!r}")
        spawns.add(spawn)
        age = _age(attributes.get(age_key) if age_key else None, rng)
        occupation = attributes.get(occupation_key, "") if occupation_key else ""
        workplace = work.get(occupation) if occupation else None
        row: dict[str, Any] = {"name": people.names[i], "age": age, "occupation": occupation,
                               "home": [bed.sector, bed.arena]}
        if workplace is not None:
            start, end = _SHIFTS[rng.randrange(len(_SHIFTS))]
            row["workplace"] = [workplace.sector, workplace.name]
            row["work_hours"] = [start, end]
            wake = _minutes(start) - 60 - 15 * rng.randrange(5)
        else:
            wake = 6 * 60 + 15 * rng.randrange(11)  # 06:00-08:30
        bedtime = 20 * 60 + 30 * rng.randrange(3) if age < 13 else wake + 15 * 60 + 30 * rng.randrange(5)
        candidates = [a for a in public if a is not workplace]
        haunts = [candidates[k] for k in sorted(permutation(rng, len(candidates))[:2].tolist())] \
            if candidates else []
        row["haunts"] = [[a.sector, a.name] for a in haunts]
        row["wake"], row["bed"] = _clock(wake), _clock(bedtime)
        row["spawn"] = list(spawn)
        code = gender_code(attributes[gender_key]) if gender_key and gender_key in attributes else ANY_CODE
        code = code if code in dealt else ANY_CODE
        pool = dealt[code]
        if pool:
            row["sprite"] = pool[used_sprites[code] % len(pool)]
            used_sprites[code] += 1
        row["traits"] = [TRAITS[k] for k in permutation(rng, len(TRAITS))[:3].tolist()]
        row["background"] = backgrounds[i] or ""
        work_line = f" Works {row['work_hours'][0]}-{row['work_hours'][1]} at {workplace.sector} " \
                    f"({workplace.name})." if workplace is not None else ""
        row["lifestyle"] = f"Up around {row['wake']}, in bed near {row['bed']}.{work_line}"
        known: list[Place] = [(a.sector, a.name) for a in town.sectors[bed.sector].arenas.values()]
        for a in [*([workplace] if workplace else []), *haunts, *public]:
            if (a.sector, a.name) not in known:
                known.append((a.sector, a.name))
        row["knows"] = [list(p) for p in known]
        row["population_id"] = i
        row["attributes"] = attributes
        rows.append(row)
    _relate(rows)
    return rows


def _relate(rows: list[dict[str, Any]]) -> None:
    """Relationships from housemates (same home sector) and coworkers (same workplace)."""
    by_home: dict[str, list[int]] = {}
    by_work: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        by_home.setdefault(row["home"][0], []).append(i)
        if "workplace" in row:
            by_work.setdefault(tuple(row["workplace"]), []).append(i)
    for i, row in enumerate(rows):
        home = row["home"][0]
        where = tuple(row["workplace"]) if "workplace" in row else None
        mates = [j for j in by_home[home] if j != i]
        coworkers = [j for j in by_work.get(where, []) if j != i and j not in mates] if where else []
        ties: dict[str, str] = {}
        for j in mates:
            also = where is not None and rows[j].get("workplace") == row.get("workplace")
            ties[rows[j]["name"]] = f"A housemate at {home}" + (f" who also works at {where[0]} ({where[1]})."
                                                                if also and where else ".")
        for j in coworkers:
            ties[rows[j]["name"]] = f"A coworker at {where[0]} ({where[1]})." if where else "A coworker."
        row["relationships"] = dict(list(ties.items())[:MAX_RELATIONSHIPS])


# -- writing ---------------------------------------------------------------------------------------------


def toml_string(value: str) -> str:
    # JSON's string escapes are TOML's basic-string escapes, except that TOML also wants DEL escaped
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def write_residents(path: Path, rows: list[dict[str, Any]], comment: str) -> None:
    """The residents file (TOML, the schema of docs/map-format.md), written whole under a temporary name."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for row in rows:
        lines += ["", "[[residents]]"]
        tables = {k: v for k, v in row.items() if isinstance(v, dict)}
        for key, value in row.items():
            if key not in tables:
                lines.append(f"{key} = {_toml_value(value)}")
        for key, table in tables.items():
            lines += ["", f"[residents.{key}]"]
            lines += [f"{toml_string(k)} = {_toml_value(v)}" for k, v in table.items()]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
