"""Drawing a population: exact counts per attribute, a seeded shuffle, unique names, template backgrounds.

Owns how a config becomes people. For each attribute, the counts are exact: the largest-remainder method
over the shares (in exact fractions of the decimals the config wrote, so 0.2 x 1000 is 200, not 199.99...),
the leftover people going to the largest remainders, ties to the category listed first. The categories are
then dealt out by a seeded shuffle, attribute by attribute (as AgentScope does, but seeded): attributes
without a table are independent of each other, exactly as the config's marginal shares say. An attribute
with conditional tables is drawn group by group of the attribute it depends on, with exact counts inside
each group.

Randomness comes from the project's named streams (`core/rng.py`): `population:<attribute>` (and
`population:<attribute>|<group>` for a conditional group, `population:names:*` for names), so adding an
attribute never changes the draws of another. A stream gives a 256-bit key; SHAKE-256 of that key gives the
bulk of 64-bit draws a million people need in milliseconds, and a stable argsort of them is the permutation.
Same config and seed, same bytes, on any machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from smallville.core.rng import Stream, Streams
from smallville.population.config import PopulationConfig
from smallville.population.names import ANY_CODE, gender_code, unique_names
from smallville.population.people import FORMAT, VERSION, Header, Person

_CHUNK = 1 << 20  # draws per SHAKE call: keeps each digest a few MB


def largest_remainder(shares: Sequence[float], total: int) -> list[int]:
    """Whole counts summing to `total`, each the floor of its exact quota plus one for the largest
    remainders; equal remainders go to the category listed first. Shares need not sum to 1 (they are
    taken relative to their sum, exactly)."""
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    # the decimal the config wrote (0.35 is 7/20, not the float's 0.34999...): no rounding before the split
    exact = [Fraction(repr(float(s))) for s in shares]
    whole = sum(exact)
    if whole <= 0:
        raise ValueError("shares sum to 0")
    quotas = [s * total / whole for s in exact]
    counts = [q.numerator // q.denominator for q in quotas]
    left = total - sum(counts)
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[:left]:
        counts[i] += 1
    return counts


def random_u64(stream: Stream, n: int) -> np.ndarray:
    """n uniform 64-bit draws keyed by the stream (which advances by four draws, whatever n is)."""
    key = b"".join(stream.randrange(1 << 64).to_bytes(8, "little") for _ in range(4))
    parts = [np.frombuffer(hashlib.shake_256(key + c.to_bytes(8, "little")).digest(8 * min(_CHUNK, n - start)),
                           dtype="<u8")
             for c, start in enumerate(range(0, n, _CHUNK))]
    return np.concatenate(parts) if parts else np.zeros(0, dtype="<u8")


def permutation(stream: Stream, n: int) -> np.ndarray:
    """A uniform random permutation of range(n): the order of n random keys (stable, so that the
    vanishingly rare equal keys still sort the same way everywhere)."""
    return np.argsort(random_u64(stream, n), kind="stable")


def deal(counts: Sequence[int], stream: Stream) -> np.ndarray:
    """Category codes with exactly `counts[i]` of code i, in a seeded random order."""
    values = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    return values[permutation(stream, len(values))]


@dataclass
class Drawn:
    """A drawn population: per attribute a code per person (an index into its categories), and names."""

    config: PopulationConfig
    seed: int
    codes: dict[str, np.ndarray]
    names: list[str]

    @property
    def count(self) -> int:
        return self.config.total

    def header(self) -> Header:
        return Header(format=FORMAT, version=VERSION, seed=self.seed, source=self.config.source,
                      attributes=self.config.attributes, count=self.count)

    def attributes_of(self, i: int) -> dict[str, str]:
        out: dict[str, str] = {}
        for d in self.config.distributions:
            out.update(d.outputs[int(self.codes[d.name][i])])
        return out

    def category(self, attribute: str, i: int) -> str:
        """The category person i drew for a distribution (by the distribution's name)."""
        d = self.config.distribution(attribute)
        return d.categories[int(self.codes[d.name][i])]

    def people(self, backgrounds: Sequence[str | None] | Callable[[int, str, dict[str, str]], str | None]
               | None = None) -> Iterator[Person]:
        """The people in id order, built one at a time (a million never sit in memory as objects).
        `backgrounds`: a text per id, a function (id, name, attributes) -> text, or None for templates."""
        columns = [(d.outputs, self.codes[d.name].tolist()) for d in self.config.distributions]
        for i, name in enumerate(self.names):
            attributes: dict[str, str] = {}
            background: str | None
            for outputs, codes in columns:
                attributes.update(outputs[codes[i]])
            if backgrounds is None:
                background = template_background(name, attributes)
            elif callable(backgrounds):
                background = backgrounds(i, name, attributes)
            else:
                background = backgrounds[i]
            yield Person(id=i, name=name, attributes=attributes, background=background)


def template_background(name: str, attributes: dict[str, str]) -> str:
    """The background written without a model: the person's facts in one sentence."""
    facts = ", ".join(f"{key.lower()}: {value}" for key, value in attributes.items())
    return f"{name} ({facts})." if facts else f"{name}."


def _genders(config: PopulationConfig, codes: dict[str, np.ndarray]) -> np.ndarray | None:
    """Each person's gender code, where the config has a Gender (or Sex) attribute: for first names."""
    for d in config.distributions:
        if d.name.strip().lower() in ("gender", "sex"):
            table = np.array([gender_code(c) for c in d.categories], dtype=np.int8)
            return table[codes[d.name]]
    return None


def draw(config: PopulationConfig, seed: int, *, reserved: Iterable[str] = ()) -> Drawn:
    """The population a config and a seed give (always the same one). `reserved`: names never drawn."""
    streams = Streams(seed)
    n = config.total
    codes: dict[str, np.ndarray] = {}
    for d in config.distributions:
        if d.given is None:
            codes[d.name] = deal(largest_remainder(d.shares, n), streams.get(f"population:{d.name}"))
            continue
        given = config.distribution(d.given)
        column = np.empty(n, dtype=np.int32)
        for g, group in enumerate(given.categories):
            members = np.flatnonzero(codes[given.name] == g)  # in id order
            if len(members):
                counts = largest_remainder(d.shares_for(group), len(members))
                column[members] = deal(counts, streams.get(f"population:{d.name}|{group}"))
        codes[d.name] = column
    genders = _genders(config, codes)
    names = unique_names(random_u64(streams.get("population:names:first"), n),
                         random_u64(streams.get("population:names:last"), n),
                         random_u64(streams.get("population:names:initial"), n),
                         genders if genders is not None and (genders != ANY_CODE).any() else None,
                         reserved=reserved)
    return Drawn(config, seed, codes, names)
