"""Shared fixtures: small real towns on disk, settings pointing at them, the bundled town."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mapkit import TownSpec, write_town

from smallville.agents.settings import AgentSettings
from smallville.config import PROJECT_ROOT, Settings, SimSettings, TownSettings

THE_VILLE = PROJECT_ROOT / "maps" / "the_ville" / "the_ville.tmx"
THE_VILLE_RESIDENTS = PROJECT_ROOT / "maps" / "the_ville" / "residents.toml"


@pytest.fixture
def small_town(tmp_path: Path) -> tuple[Path, Path]:
    return write_town(tmp_path / "town")


@pytest.fixture
def small_settings(small_town: tuple[Path, Path]) -> Settings:
    tmx, residents = small_town
    return Settings(sim=SimSettings(seed=3), town=TownSettings(map=str(tmx), residents=str(residents)),
                    agents=AgentSettings(mind="routine"))


@pytest.fixture
def make_town(tmp_path: Path):
    """Write a variant of the small town: `make_town(spec_changes...)` -> (tmx, residents)."""
    def make(**changes: object) -> tuple[Path, Path]:
        spec = TownSpec()
        for key, value in changes.items():
            setattr(spec, key, value)
        return write_town(tmp_path / "variant", spec)
    return make
