"""A round game's settings: every knob of `smallville game guess`, from one TOML file and the command line.

Owns the `[game]` table (validated here, errors naming the file and the key) and the file's `[inference]`
table (the town's own schema, `inference/settings.py`, with its environment overrides). Values come, in
increasing priority, from defaults, the variant's defaults (P7: ratio 1/2 and 5 added; P1 answers directly,
the others think step by step), the file, then flags. `resolved()` fills in what the variant decides, so a
save's manifest holds the game exactly as it was played.

    [game]
    variant = "P2"          # P1..P7 (docs/games.md)
    agents = 1000
    rounds = 5
    [[game.models]]         # a mixture: a share of the agents pinned to some endpoints
    name = "llama"
    endpoints = ["gpu-1"]
    share = 0.5
"""

from __future__ import annotations

import math
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from smallville.errors import ConfigError
from smallville.games.limits import MAX_AGENTS
from smallville.inference.settings import InferenceSettings, apply_env
from smallville.scale.settings import ScaleSettings
from smallville.world.datafile import describe_validation

Variant = Literal["P1", "P2", "P3", "P4", "P5", "P6", "P7"]
DEFAULT_AGENTS = 100


def parse_ratio(value: str | float | int) -> Fraction:
    """'2/3', '51/100', '0.5' or 0.5 as an exact fraction in (0, 2]; ValueError otherwise."""
    text = str(value).strip()
    try:
        if "/" in text:
            top, _, bottom = text.partition("/")
            ratio = Fraction(int(top.strip()), int(bottom.strip()))
        else:
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(text)
            ratio = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{value!r} is not a ratio: give a fraction like 2/3 or a number like 0.5") from None
    if not 0 < ratio <= 2:
        raise ValueError(f"{value!r}: the ratio must be above 0 and at most 2")
    return ratio


class ModelGroup(BaseModel):
    """A share of the agents, every call of theirs sent to these endpoints only (their own server pool)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    endpoints: list[str] = Field(min_length=1, description="names from [[inference.endpoints]]")
    share: float = Field(gt=0, le=1, description="share of the agents; the groups' shares sum to 1")


class GuessSettings(BaseModel):
    """The `[game]` table. None means "the variant decides" (see `resolved`)."""

    model_config = ConfigDict(extra="forbid")

    variant: Variant = "P1"
    ratio: str | None = Field(None, description="p in 'guess p of the average': 2/3, 1/2, 51/100 (P7: 1/2)")
    offset: float | None = Field(None, ge=0, le=1000, description="added to the target (P7: 5)")
    famous_note: bool = Field(False, description="say it is a variation of the famous 2/3 game")
    max_value: int = Field(100, ge=1, le=1_000_000, description="answers run from 0 to this, inclusive")
    rounds: int = Field(1, ge=1, le=1000)
    agents: int | None = Field(None, ge=1, le=MAX_AGENTS, description="default: the population's count, else 100")
    population: str | None = Field(None, description="a population file (smallville population generate)")
    seed: int = Field(0, ge=0, lt=2**63)
    seeds: int = Field(1, ge=1, le=1000, description="runs, seeds seed..seed+seeds-1, for confidence intervals")
    temperature: float = Field(1.0, ge=0, le=2, description="sampling temperature (the paper: 1.0)")
    max_tokens: int | None = Field(None, ge=8, le=32_768, description="per answer call (default 64 direct, "
                                   "768 step by step)")
    instruction: Literal["direct", "step_by_step"] | None = Field(None, description="P1: direct, others step")
    parse: Literal["structured", "two-call"] = "structured"
    announce: Literal["target", "winner"] = Field("target", description="what 'the winning number' announced "
                                                  "next round is: the target (AgentScope) or the closest answer")
    history: Literal["chat", "announce"] = Field("chat", description="chat: earlier rounds stay in the "
                                                 "conversation; announce: only the latest winning number")
    groups: int = Field(3, ge=2, le=26, description="P6: groups whose means compete")
    answer_retries: int = Field(2, ge=0, le=10, description="re-asks after an invalid answer")
    max_failed_share: float = Field(0.01, ge=0, le=1, description="a round with more failed turns (calls that "
                                    "failed after the retries) stops the game uncommitted; resume asks them again")
    request_seed: bool = Field(True, description="send each call a seed drawn from the run's (reproducible "
                                                 "sampling where the server honours it)")
    concurrency: int | None = Field(None, ge=1, le=100_000, description="turns in flight at once (default: "
                                    "the endpoints' max_concurrency summed, at most 4096)")
    models: list[ModelGroup] = Field(default_factory=list)

    @field_validator("ratio", mode="before")
    @classmethod
    def _ratio(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError("a ratio, not true/false")
        parse_ratio(value)
        return str(value).strip()

    @field_validator("offset")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _groups(self) -> GuessSettings:
        names = [g.name for g in self.models]
        if len(set(names)) != len(names):
            raise ValueError("game.models: group names must be unique")
        if self.models and abs(sum(g.share for g in self.models) - 1.0) > 1e-6:
            total = sum(g.share for g in self.models)
            raise ValueError(f"game.models: the shares sum to {total:g}, not 1")
        if self.variant == "P5" and not self.population:
            raise ValueError("P5 plays the people of a population: set game.population (or --population FILE)")
        return self

    # -- what the variant decides ---------------------------------------------------------------------
    def resolved(self) -> GuessSettings:
        """A copy with every None the variant decides filled in (what a save records)."""
        p7 = self.variant == "P7"
        instruction = self.instruction or ("direct" if self.variant == "P1" else "step_by_step")
        updates: dict[str, Any] = {
            "ratio": self.ratio or ("1/2" if p7 else "2/3"),
            "offset": self.offset if self.offset is not None else (5.0 if p7 else 0.0),
            "instruction": instruction,
            "max_tokens": self.max_tokens or (64 if instruction == "direct" else 768),
        }
        return self.model_copy(update=updates)

    @property
    def ratio_fraction(self) -> Fraction:
        return parse_ratio(self.ratio or "2/3")

    @property
    def offset_fraction(self) -> Fraction:
        return Fraction(self.offset or 0.0)

    @property
    def equilibrium(self) -> float:
        """The Nash equilibrium: x = offset + ratio x, clipped to [0, max_value] (0 for the plain game, 10 for
        P7's 5 + x/2)."""
        ratio = self.ratio_fraction
        if ratio >= 1:
            return float(self.max_value) if self.offset_fraction > 0 or ratio > 1 else 0.0
        value = self.offset_fraction / (1 - ratio)
        return float(min(value, Fraction(self.max_value)))


class GameFile(BaseModel):
    """The whole file: `[game]` and the town's `[inference]` (endpoints, retries, breaker)."""

    model_config = ConfigDict(extra="forbid")

    game: GuessSettings = Field(default_factory=lambda: GuessSettings())
    inference: InferenceSettings = Field(default_factory=lambda: InferenceSettings.model_validate({}))
    scale: ScaleSettings = Field(default_factory=lambda: ScaleSettings())

    @model_validator(mode="after")
    def _endpoints_named(self) -> GameFile:
        known = {e.name for e in self.inference.endpoints}
        for group in self.game.models:
            if not known:
                raise ValueError(f"game.models[{group.name}]: a mixture needs [[inference.endpoints]] (the embedded "
                                 "model is one model)")
            for name in group.endpoints:
                if name not in known:
                    raise ValueError(f"game.models[{group.name}].endpoints: {name!r} is not an inference endpoint "
                                     f"(known: {', '.join(sorted(known))})")
        return self


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def validate(data: dict[str, Any], source: str) -> GameFile:
    """A raw document (file and flags merged) as settings; `ConfigError` naming `source` and the key."""
    try:
        parsed = GameFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation(exc)}") from None
    except ValueError as exc:  # a validator's own message (pydantic wraps most, not all)
        raise ConfigError(f"{source}: {exc}") from None
    inference = apply_env(parsed.inference)
    try:
        return GameFile(game=parsed.game.resolved(), inference=inference, scale=parsed.scale)
    except ValidationError as exc:
        raise ConfigError(f"{source} (with OPENAI_BASE_URL / SMALLVILLE_MODEL): {describe_validation(exc)}") from None


def read_document(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load(path: Path | None = None, overrides: dict[str, Any] | None = None,
         scale: dict[str, Any] | None = None) -> GameFile:
    """Defaults, then the TOML file at `path`, then `overrides` (the flags, as a `[game]` table) and `scale`
    (`--workers`, `--ray-address`, as a `[scale]` table)."""
    data = read_document(path)
    if overrides:
        data = _merge(data, {"game": overrides})
    if scale:
        data = _merge(data, {"scale": scale})
    return validate(data, str(path) if path is not None else "settings")
