"""The golden day's settings: the Ville, seed 2, the full loop (no economy), as recorded by tools/golden_day.py."""

from __future__ import annotations

from pathlib import Path

from smallville.agents.settings import AgentSettings
from smallville.config import Settings, SimSettings, TownSettings

VILLE = Path(__file__).resolve().parent.parent / "maps" / "the_ville"


def day_settings() -> Settings:
    return Settings(sim=SimSettings(seed=2), town=TownSettings(map=str(VILLE / "the_ville.tmx"),
                                                               residents=str(VILLE / "residents.toml")),
                    agents=AgentSettings(economy="off"))
