"""Settings of the generative minds (the `[agents]` table of a config file).

Owns the knobs a researcher turns when reproducing or varying Park et al. 2023: which mind drives the
residents, how far they see and how many things they attend to, the retrieval weights and depth, the
reflection threshold, and how conversations are bounded. Defaults are the paper's values where the paper
gives one (weights 1/1/1, reflection at 150) and budget-minded ones elsewhere (documented per field).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mind: Literal["generative", "routine"] = Field(
        "generative", description="generative: the language-model minds; routine: fixed habits, no model")
    scenario: str = Field("auto", description="the facts seeded as memories at the start: a scenario file, "
                                              "'auto' (scenario.toml beside the residents file, if any) or ''")
    vision_radius: int = Field(8, ge=1, le=64, description="tiles a resident sees, within its own arena")
    attention: int = Field(3, ge=1, le=32, description="nearest things perceived per look (paper code: 3)")
    perceive_minutes: int = Field(1, ge=1, le=60, description="game minutes between looks around")
    retrieve_k: int = Field(8, ge=1, le=50, description="memories retrieved for a prompt")
    recency_weight: float = 1.0
    importance_weight: float = 1.0
    relevance_weight: float = 1.0
    reflection_threshold: int = Field(150, ge=1, description="summed importance that triggers a reflection")
    talk_radius: int = Field(4, ge=1, le=32, description="tiles within which two residents may start talking")
    talk_turns: int = Field(10, ge=2, le=40, description="most utterances in one conversation (both speakers)")
    talk_cooldown_minutes: int = Field(
        120, ge=0, description="game minutes before the same pair may talk again (also after a decline)")
    social_rest_minutes: int = Field(
        30, ge=0, description="game minutes after a conversation before a resident starts another")
    seconds_per_line: int = Field(20, ge=10, description="game seconds each utterance takes")
    replan_importance: int = Field(8, ge=1, le=11, description="a conversation rated at least this important "
                                                               "makes the resident re-plan the rest of the day "
                                                               "(11: never)")
