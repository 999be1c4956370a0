"""Who plays a game: the players, read from a population file or numbered, with their model group and team.

Owns the seating: how many players, who they are (`population/people.py`'s format: name, attributes,
background), which model group answers each (a mixture of models: exact counts by largest remainder from the
groups' shares, then a seeded shuffle, so that a model is never confounded with the population's order), and
P6's teams (as equal as the count allows, seeded the same way). The shuffles draw from the project's named
random streams (`core/rng.py`), so a seed seats the same players the same way on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from smallville.core.rng import Stream
from smallville.errors import ConfigError
from smallville.games.config import GuessSettings
from smallville.games.prompts import TEAM_NAMES, Player
from smallville.population.people import PopulationError, iter_people, read_header

DEFAULT_GROUP = "default"


def exact_counts(n: int, shares: Sequence[float]) -> list[int]:
    """`n` split by `shares` (summing to 1) into whole counts that sum to `n`: the largest remainders get
    the seats left (ties: the earlier share)."""
    quotas = [n * s for s in shares]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(shares)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def shuffled(labels: list[str], stream: Stream) -> list[str]:
    """Fisher-Yates with a named stream (never the global random state)."""
    out = list(labels)
    for i in range(len(out) - 1, 0, -1):
        j = stream.randrange(i + 1)
        out[i], out[j] = out[j], out[i]
    return out


def model_seats(n: int, cfg: GuessSettings, seed: int) -> list[str]:
    if not cfg.models:
        return [DEFAULT_GROUP] * n
    counts = exact_counts(n, [g.share for g in cfg.models])
    labels = [g.name for g, c in zip(cfg.models, counts, strict=True) for _ in range(c)]
    return shuffled(labels, Stream(seed, "game:models"))


def team_seats(n: int, groups: int, seed: int) -> list[str]:
    counts = exact_counts(n, [1 / groups] * groups)
    labels = [TEAM_NAMES[i] for i, c in enumerate(counts) for _ in range(c)]
    return shuffled(labels, Stream(seed, "game:teams"))


def player_count(cfg: GuessSettings) -> int:
    if cfg.population:
        try:
            header = read_header(Path(cfg.population))
        except PopulationError as exc:  # a ValueError there: one line here, like every config problem
            raise ConfigError(f"game.population: {exc}") from None
        agents = cfg.agents or header.count
        if agents > header.count:
            raise ConfigError(f"game.agents: {agents:,} players, but the population {cfg.population} holds "
                              f"{header.count:,} people")
        return agents
    return cfg.agents or 100


def seat(cfg: GuessSettings, seed: int) -> list[Player]:
    """The players of one seed's run, in id order."""
    n = player_count(cfg)
    models = model_seats(n, cfg, seed)
    teams: list[str | None] = list(team_seats(n, cfg.groups, seed)) if cfg.variant == "P6" else [None] * n
    if not cfg.population:
        return [Player(i, f"P{i}", models[i], team=teams[i]) for i in range(n)]
    players: list[Player] = []
    try:
        for person in iter_people(Path(cfg.population)):
            if person.id >= n:
                break
            players.append(Player(person.id, person.name, models[person.id], dict(person.attributes),
                                  person.background, teams[person.id]))
    except PopulationError as exc:
        raise ConfigError(f"game.population: {exc}") from None
    return players
