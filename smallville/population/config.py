"""Population configs: AgentScope's attribute distributions, read as they are, plus conditional tables.

Owns the config format and its checks. AgentScope's large-scale example (`tools/edu.json`, `tools/job.json`)
writes a population as a size and, per attribute, categories with shares:

    {"total_num": 1000, "distributions": [
        {"distribution_name": "Gender", "categories": [{"category_name": "Male", "percentage": 0.5},
                                                       {"category_name": "Female", "percentage": 0.5}]}]}

A category may carry `attributes` (AgentScope's own option: the key-values a person of that category gets
in place of `{distribution_name: category_name}`); `name` is taken where `distribution_name` is missing
(AgentScope's generator reads `name`, its files write `distribution_name`).

Our extension, two keys AgentScope ignores, makes impossible people undrawable (a doctorate at seven):

    {"distribution_name": "Education", "categories": [...the overall shares, as AgentScope reads them...],
     "given": "Age",
     "conditional": {"0-17": [{"category_name": "Elementary School", "percentage": 1.0}], "18-24": [...]}}

`given` names an attribute listed earlier; `conditional` maps some of its categories to share tables over this
distribution's categories. People in a listed group are drawn from that group's table; the other groups from
`categories`. Every problem is one line naming the file and the field (`PopulationError`), e.g.
`edu.json: distributions[1] "Education": shares sum to 0.9, not 1`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from smallville.population.people import PopulationError

log = logging.getLogger(__name__)

#: How far the shares of one table may sum from 1 (float noise: 0.1 + 0.2 + 0.7).
SUM_TOLERANCE = 1e-6
#: The largest population a config may ask for: a typo (1e12) should fail in one line, not fill the memory.
MAX_TOTAL = 100_000_000


class _Share(msgspec.Struct, forbid_unknown_fields=True):
    category_name: str
    percentage: float


class _Category(msgspec.Struct, forbid_unknown_fields=True):
    category_name: str
    percentage: float
    attributes: dict[str, str | int | float | bool] | None = None


class _Distribution(msgspec.Struct, forbid_unknown_fields=True):
    categories: list[_Category]
    distribution_name: str | None = None
    name: str | None = None
    given: str | None = None
    conditional: dict[str, list[_Share]] | None = None


class _Config(msgspec.Struct, forbid_unknown_fields=True):
    total_num: Any
    distributions: list[_Distribution]


@dataclass(frozen=True)
class Distribution:
    """One attribute: its categories, their shares, and (optionally) tables given an earlier attribute.

    Shares are as the file writes them (summing to 1 within `SUM_TOLERANCE`, or to anything above 0 with
    `normalize`): the draw takes them relative to their sum. `tables` maps a category of `given` to shares
    aligned with `categories` (0 for the ones a table leaves out); `outputs[i]` is what a person of
    category i gets in their attributes."""

    name: str
    categories: tuple[str, ...]
    shares: tuple[float, ...]
    outputs: tuple[tuple[tuple[str, str], ...], ...]
    given: str | None = None
    tables: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def shares_for(self, group: str) -> tuple[float, ...]:
        return self.tables.get(group, self.shares)


@dataclass(frozen=True)
class PopulationConfig:
    source: str  # the file's name, as the population's header records it
    total: int
    distributions: tuple[Distribution, ...]
    notes: tuple[str, ...] = ()  # what was accepted with a warning (shares rescaled by --normalize)

    @property
    def attributes(self) -> list[str]:
        """Every attribute a person can have, in the order the config first names it."""
        seen: dict[str, None] = {}
        for d in self.distributions:
            for output in d.outputs:
                for key, _ in output:
                    seen.setdefault(key, None)
        return list(seen)

    def distribution(self, name: str) -> Distribution:
        return next(d for d in self.distributions if d.name == name)


def _sum_text(total: float) -> str:
    return f"{total:.10g}"


def _msgspec_where(error: msgspec.ValidationError, doc: dict[str, Any]) -> str:
    """msgspec's 'Expected `int`, got `str` - at `$.distributions[1].categories[0].percentage`' as
    'distributions[1] "Education": categories[0].percentage: expected int, got str'."""
    text = str(error)
    message, _, path = text.partition(" - at `")
    path = path.rstrip("`").removeprefix("$").lstrip(".")
    missing = re.fullmatch(r"Object missing required field `(.+)`", message)
    unknown = re.fullmatch(r"Object contains unknown field `(.+)`", message)
    if missing:
        path, message = (f"{path}.{missing.group(1)}" if path else missing.group(1)), "missing"
    elif unknown:
        path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        message = "unknown key (AgentScope's keys, plus given and conditional)"
    else:
        message = message.replace("`", "")
        message = message[:1].lower() + message[1:]
    m = re.match(r"distributions\[(\d+)\]\.?(.*)", path)
    if m:
        i = int(m.group(1))
        label = _label(doc.get("distributions"), i)
        path = f"{label}: {m.group(2)}" if m.group(2) else label
    return f"{path}: {message}"


def _label(distributions: Any, i: int) -> str:
    """'distributions[1] "Education"' (the name where the file gives one)."""
    name = None
    if isinstance(distributions, list) and i < len(distributions) and isinstance(distributions[i], dict):
        name = distributions[i].get("distribution_name") or distributions[i].get("name")
    return f"distributions[{i}] {json.dumps(name, ensure_ascii=False)}" if isinstance(name, str) and name \
        else f"distributions[{i}]"


def _check_shares(fail: Any, where: str, rows: list[tuple[str, float]], normalize: bool,
                  notes: list[str]) -> tuple[float, ...]:
    """The shares of one table, checked: finite, not negative, summing to 1 (or rescaled with normalize)."""
    for j, (name, share) in enumerate(rows):
        label = f"{where}: categories[{j}] {json.dumps(name, ensure_ascii=False)}"
        if math.isnan(share):
            raise fail(f"{label}: share is NaN")
        if math.isinf(share):
            raise fail(f"{label}: share is infinite")
        if share < 0:
            raise fail(f"{label}: share is negative ({share:g})")
    total = math.fsum(share for _, share in rows)
    if total <= 0:
        raise fail(f"{where}: shares sum to 0; at least one must be above 0")
    if abs(total - 1.0) > SUM_TOLERANCE:
        if not normalize:
            raise fail(f"{where}: shares sum to {_sum_text(total)}, not 1 "
                       "(--normalize rescales them, as AgentScope's generator does)")
        notes.append(f"{where}: shares sum to {_sum_text(total)}; rescaled to 1 (--normalize)")
    # as written: the draw splits by exact decimal fractions of these, relative to their sum
    return tuple(share for _, share in rows)


def parse_config(doc: Any, source: str, *, normalize: bool = False) -> PopulationConfig:
    """A config from its decoded JSON; `source` names it in errors (the file's path as the user gave it)."""

    def fail(message: str) -> PopulationError:
        return PopulationError(f"{source}: {message}")

    if not isinstance(doc, dict):
        raise fail(f"expected a JSON object with total_num and distributions, got {type(doc).__name__}")
    if "total_num" not in doc:
        raise fail("total_num: missing (the number of people)")
    total = doc["total_num"]
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise fail(f"total_num: must be a whole number above 0, got {json.dumps(total)}")
    if total > MAX_TOTAL:
        raise fail(f"total_num: {total:,} is more than this smallville draws ({MAX_TOTAL:,})")
    try:
        raw = msgspec.convert(doc, _Config)
    except msgspec.ValidationError as exc:
        raise fail(_msgspec_where(exc, doc)) from None
    if not raw.distributions:
        raise fail("distributions: empty; give at least one attribute")
    notes: list[str] = []
    out: list[Distribution] = []
    owner: dict[str, str] = {}  # attribute -> the distribution that sets it
    for i, rd in enumerate(raw.distributions):
        label = _label(doc["distributions"], i)
        name = rd.distribution_name if rd.distribution_name is not None else rd.name
        if name is None or not name.strip():
            raise fail(f"{label}: distribution_name: missing or empty")
        if any(d.name == name for d in out):
            raise fail(f"{label}: attribute {json.dumps(name, ensure_ascii=False)} appears twice")
        if not rd.categories:
            raise fail(f"{label}: categories: empty; give at least one category")
        names = [c.category_name for c in rd.categories]
        for j, cat in enumerate(names):
            if not cat.strip():
                raise fail(f"{label}: categories[{j}]: category_name is empty")
            if cat in names[:j]:
                raise fail(f"{label}: categories[{j}]: category {json.dumps(cat, ensure_ascii=False)} appears twice")
        shares = _check_shares(fail, label, [(c.category_name, c.percentage) for c in rd.categories],
                               normalize, notes)
        outputs: list[tuple[tuple[str, str], ...]] = []
        for j, c in enumerate(rd.categories):
            if c.attributes is None:
                outputs.append(((name, c.category_name),))
                continue
            if not c.attributes:
                raise fail(f"{label}: categories[{j}].attributes: empty")
            outputs.append(tuple((str(k), _text(v)) for k, v in c.attributes.items()))
        for output in outputs:
            for key, _ in output:
                if owner.get(key, name) != name:
                    raise fail(f"{label}: attribute {json.dumps(key, ensure_ascii=False)} is also set by "
                               f"{json.dumps(owner[key], ensure_ascii=False)}")
                owner[key] = name
        tables: dict[str, tuple[float, ...]] = {}
        if (rd.given is None) != (rd.conditional is None):
            raise fail(f"{label}: given and conditional come together (the attribute the tables depend on, "
                       "and the tables)")
        if rd.given is not None and rd.conditional is not None:
            given = next((d for d in out if d.name == rd.given), None)
            if given is None:
                later = any((d.distribution_name or d.name) == rd.given for d in raw.distributions[i + 1:])
                raise fail(f"{label}: given: {json.dumps(rd.given, ensure_ascii=False)} "
                           + ("comes later; list the attribute a table depends on before it" if later
                              else "is not an attribute of this config"))
            if not rd.conditional:
                raise fail(f"{label}: conditional: empty; give a table for at least one {rd.given!r} category")
            for group, rows in rd.conditional.items():
                where = f"{label}: conditional {json.dumps(group, ensure_ascii=False)}"
                if group not in given.categories:
                    raise fail(f"{where}: not a category of {json.dumps(given.name, ensure_ascii=False)}")
                if not rows:
                    raise fail(f"{where}: empty table")
                vector = [0.0] * len(names)
                for j, row in enumerate(rows):
                    if row.category_name not in names:
                        raise fail(f"{where}: categories[{j}] {json.dumps(row.category_name, ensure_ascii=False)}: "
                                   f"not a category of {json.dumps(name, ensure_ascii=False)}")
                    if row.category_name in [r.category_name for r in rows[:j]]:
                        raise fail(f"{where}: categories[{j}] {json.dumps(row.category_name, ensure_ascii=False)}: "
                                   "appears twice")
                checked = _check_shares(fail, where, [(r.category_name, r.percentage) for r in rows],
                                        normalize, notes)
                for row, share in zip(rows, checked, strict=True):
                    vector[names.index(row.category_name)] = share
                tables[group] = tuple(vector)
        out.append(Distribution(name, tuple(names), shares, tuple(outputs), rd.given, tables))
    for note in notes:
        log.warning("%s: %s", source, note)
    return PopulationConfig(source, total, tuple(out), tuple(notes))


def _text(value: str | int | float | bool) -> str:
    # a person's attributes are text (the population file's format); JSON's spelling of true / 1.5
    return value if isinstance(value, str) else json.dumps(value)


def load_config(path: Path | str, *, normalize: bool = False) -> PopulationConfig:
    """Read and check a config file (the name in errors is the path as given)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PopulationError(f"{path}: population config not found") from None
    except IsADirectoryError:
        raise PopulationError(f"{path}: is a directory, not a population config (a .json file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PopulationError(f"{path}: cannot read the population config ({exc})") from None
    try:
        # Python's json, not msgspec's decoder, so that NaN and Infinity reach the checks and are named there
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PopulationError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    config = parse_config(doc, str(path), normalize=normalize)
    return PopulationConfig(path.name, config.total, config.distributions, config.notes)
