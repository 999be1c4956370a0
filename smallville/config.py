"""Settings: what a run is made of (town files, seed, tick length, checkpoint cadence).

Owns the settings schema and where values come from, in increasing priority: defaults, a TOML file
(`--config FILE`, or `smallville.toml` in the working directory), then command-line flags (and, for
inference, the OpenAI-style environment variables: `inference/settings.py`). Errors
name the file and the key (`sim.tick_seconds: ...`). Paths in settings are relative to the working
directory if they exist there, else to the project root (so the bundled town works from anywhere).
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smallville.agents.settings import AgentSettings
from smallville.core.clock import DEFAULT_START
from smallville.errors import ConfigError
from smallville.inference.settings import InferenceSettings, apply_env
from smallville.world.datafile import describe_validation

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = "smallville.toml"


class SimSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    tick_seconds: int = Field(10, gt=0, le=3600, description="game seconds per tick")
    start: datetime = DEFAULT_START
    checkpoint_minutes: int = Field(60, gt=0, description="game minutes between checkpoints")

    @field_validator("tick_seconds")
    @classmethod
    def _divides_day(cls, value: int) -> int:
        if 86_400 % value:
            raise ValueError("must divide a day (86400 s) evenly")
        return value


class TownSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    map: str = "maps/the_ville/the_ville.tmx"
    residents: str = "maps/the_ville/residents.toml"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sim: SimSettings = Field(default_factory=SimSettings)
    town: TownSettings = Field(default_factory=TownSettings)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    agents: AgentSettings = Field(default_factory=AgentSettings)


def resolve_path(value: str) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return PROJECT_ROOT / path


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from defaults, then the TOML file, then `overrides` (nested dicts, e.g. from flags)."""
    data: dict[str, Any] = {}
    source = "settings"
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = Path(DEFAULT_CONFIG)
    if path is not None:
        source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    data = _merge(data, overrides or {})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation(exc)}") from None
    # OPENAI_BASE_URL / SMALLVILLE_MODEL override the file (keys are only ever read from the environment).
    return settings.model_copy(update={"inference": apply_env(settings.inference)})


def settings_from_manifest(raw: Any, where: Path, *, inference: InferenceSettings | None = None) -> Settings:
    """The settings a save was made with (checked like a config file).

    A run that connects to its models passes `inference`, the current config's (`current_inference`), and
    gets it in place of the save's: endpoints are where the models are now, not where they were, and a
    save holds its endpoint URLs masked (a key can hide in one: `?api-key=...`), so they cannot be used to
    connect (the pool refuses a masked URL). Reading a save (inspect, replay) needs no `inference`."""
    if isinstance(raw, dict) and inference is not None:
        # the save's own section is not validated: a URL masked there need not even be a valid one
        raw = {key: value for key, value in raw.items() if key != "inference"}
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{where}: settings: {describe_validation(exc)}") from None
    return settings if inference is None else settings.model_copy(update={"inference": inference})


def current_inference(path: Path | None = None) -> InferenceSettings:
    """The inference section a run started now would use: from `path` (else ./smallville.toml, if there
    is one) and the environment (OPENAI_BASE_URL, SMALLVILLE_MODEL). For a resumed run's endpoints."""
    return load_settings(path).inference


def inference_for_save(saved: InferenceSettings, config: Path | None = None) -> InferenceSettings:
    """The endpoints to think with when a save goes on (resume, a replay's interviews): the save's own,
    unless a config is named (`--config`), OPENAI_BASE_URL points elsewhere, or the save holds a URL masked
    (a key was in it, and a masked URL cannot connect): then the current config's. Memories already
    embedded must stay comparable, so a different embedding model or size is refused in one line."""
    import os

    from smallville.inference.settings import is_masked_url

    urls = [e.base_url for e in saved.endpoints] + ([saved.embedding.base_url] if saved.embedding else [])
    if config is None and not os.environ.get("OPENAI_BASE_URL") and not any(is_masked_url(u) for u in urls):
        return saved
    current = current_inference(config)
    if saved.endpoints and current.uses_embedded_server:
        # never a silent switch from the run's own servers to the small embedded model
        names = ", ".join(e.name for e in saved.endpoints)
        why = "names no endpoint" if config is not None else \
            "holds its endpoint URLs masked (a key was in them) and no config names them"
        raise ConfigError(f"inference.endpoints: the save thought with {names}, but {config or 'the save'} {why}; "
                          "give the config that names them with --config FILE (or set OPENAI_BASE_URL)")

    def embedder(i: InferenceSettings) -> str:
        return "the bundled all-MiniLM-L6-v2" if i.embedding is None else \
            f"{i.embedding.model!r}" + (f" ({i.embedding.dim} dimensions)" if i.embedding.dim else "")

    if (saved.embedding is None) != (current.embedding is None) or (
            saved.embedding and current.embedding and (saved.embedding.model, saved.embedding.dim)
            != (current.embedding.model, current.embedding.dim)):
        raise ConfigError(f"inference.embedding: the save's memories were embedded with {embedder(saved)}, this "
                          f"config embeds with {embedder(current)}; use the same embedding model to go on")
    return current
