"""Scoring a round of "guess p of the average", and the statistics of a list of answers. Pure and exact.

Owns the game's arithmetic:
- the target is `offset + ratio x mean` of the valid answers (P7: 5 + 1/2 x mean; AgentScope forgot the 5);
- the winning number is the valid answer closest to the target; **tie rule**: of two numbers equally close
  (one below the target, one above), the lower wins; every player who reported it is a winner;
- P6: the winning group is the one whose mean is closest to the target (ties: the first group by name);
- "repeating the announced number": an answer within 0.005 of the previous round's announced number as the
  players read it (two decimals), a sign of a model saying back what it was told rather than playing;
- invalid and failed answers are counted and reported, never averaged in (there is no number to average),
  and never dropped silently: `n + invalid + failed = players` always.
Means, targets and distances are computed with fractions (each float answer is an exact binary fraction), so
ties are ties and hand-computed expectations hold to the last digit; floats only come out at the end.
Spread is the population standard deviation (ddof 0, as AgentScope's numpy call reports it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

WITHIN = Fraction(1, 2)  # "a winner is within 0.5 of the target" (the paper)


@dataclass(frozen=True)
class Described:
    n: int
    mean: float | None
    median: float | None
    std: float | None
    min: float | None
    max: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "median": self.median, "std": self.std, "min": self.min,
                "max": self.max}


def exact_mean(values: Sequence[float]) -> Fraction:
    """The mean as an exact fraction. Answers repeat a lot (models like 33, 22, 0): summing by distinct value
    keeps a million answers fast."""
    counts = Counter(values)
    return sum((Fraction(v) * c for v, c in counts.items()), Fraction(0)) / len(values)


def describe(values: Sequence[float]) -> Described:
    if not values:
        return Described(0, None, None, None, None, None)
    ordered = sorted(values)
    n = len(ordered)
    mean = exact_mean(ordered)
    mid = n // 2
    median = Fraction(ordered[mid]) if n % 2 else (Fraction(ordered[mid - 1]) + Fraction(ordered[mid])) / 2
    counts = Counter(ordered)
    variance = sum(((Fraction(v) - mean) ** 2 * c for v, c in counts.items()), Fraction(0)) / n
    return Described(n, float(mean), float(median), math.sqrt(variance), ordered[0], ordered[-1])


def target(mean: Fraction, ratio: Fraction, offset: Fraction) -> Fraction:
    return offset + ratio * mean


def winning_number(values: Iterable[float], goal: Fraction) -> float | None:
    """The answer closest to `goal`; of two equally close, the lower (see the module docstring)."""
    best: tuple[Fraction, float] | None = None
    for value in set(values):
        key = (abs(Fraction(value) - goal), value)
        if best is None or key < best:
            best = key
    return None if best is None else best[1]


def histogram(values: Iterable[float], max_value: int) -> list[int]:
    """max_value + 1 bins: bin k holds the answers in [k, k+1) (the last also holds max_value itself), as
    AgentScope's bincount of int(x) does. 101 bins for the usual 0..100."""
    bins = [0] * (max_value + 1)
    for value in values:
        bins[min(max_value, max(0, int(value)))] += 1
    return bins


def share(values: Sequence[float], test: Any) -> float | None:
    return sum(1 for v in values if test(v)) / len(values) if values else None


@dataclass(frozen=True)
class RoundScore:
    """What a round decided: the target, the winning number and who said it, and what is announced next."""

    target: float | None
    winner: float | None
    winners: list[int]
    announced: float | None
    team_won: str | None
    team_means: dict[str, float | None]
    goal: Fraction | None = None  # the target, exact (shares within 0.5 of it are decided on this)


def score_round(numbers: Sequence[float | None], ids: Sequence[int], ratio: Fraction, offset: Fraction,
                announce: str = "target", teams: Sequence[str | None] | None = None) -> RoundScore:
    """Score one round: `numbers[i]` is player `ids[i]`'s valid answer, or None (invalid or failed)."""
    valid = [v for v in numbers if v is not None]
    if not valid:
        return RoundScore(None, None, [], None, None, {}, None)
    goal = target(exact_mean(valid), ratio, offset)
    best = winning_number(valid, goal)
    winners = [pid for pid, v in zip(ids, numbers, strict=True) if v is not None and v == best]
    team_won, team_means = None, {}
    if teams is not None:
        members: dict[str, list[float]] = {}
        for team, value in zip(teams, numbers, strict=True):
            if team is not None:
                members.setdefault(team, [])
                if value is not None:
                    members[team].append(value)
        exact = {t: exact_mean(vs) for t, vs in sorted(members.items()) if vs}
        team_means = {t: (float(exact[t]) if t in exact else None) for t in sorted(members)}
        if exact:
            team_won = min(exact, key=lambda t: (abs(exact[t] - goal), t))
    announced = float(goal) if announce == "target" else best
    return RoundScore(float(goal), best, winners, announced, team_won, team_means, goal)


def round_figures(numbers: Sequence[float | None], statuses: Sequence[str], score: RoundScore, max_value: int,
                  previous: RoundScore | None) -> dict[str, Any]:
    """The report's figures of one round (or of a slice of it: a model group, an attribute's category, whose
    numbers are scored against the whole round's target)."""
    valid = [v for v in numbers if v is not None]
    figures: dict[str, Any] = {"players": len(statuses), **describe(valid).as_dict(),
                               "invalid": sum(1 for s in statuses if s == "invalid"),
                               "failed": sum(1 for s in statuses if s == "failed")}
    goal = score.goal
    figures["share_within_half"] = share(valid, lambda v: abs(Fraction(v) - goal) <= WITHIN) if goal is not None \
        else None
    figures["share_at_most_1"] = share(valid, lambda v: v <= 1)
    figures["share_below_previous_announced"] = (share(valid, lambda v: v < previous.announced)
                                                 if previous is not None and previous.announced is not None else None)
    figures["share_below_previous_winner"] = (share(valid, lambda v: v < previous.winner)
                                              if previous is not None and previous.winner is not None else None)
    # the announced number as the players read it (two decimals): a weak model tends to say it back
    said = round(previous.announced, 2) if previous is not None and previous.announced is not None else None
    figures["share_repeating_announced"] = share(valid, lambda v: abs(v - said) < 0.005) if said is not None \
        else None
    figures["histogram"] = histogram(valid, max_value)
    return figures
