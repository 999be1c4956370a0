"""Settings of the generative minds (the `[agents]` table of a config file).

Owns the knobs a researcher turns when reproducing or varying Park et al. 2023: which mind drives the
residents, how far they see and how many things they attend to, the retrieval weights and depth, the
reflection threshold, and how conversations are bounded. Defaults are the paper's values where the paper
gives one (weights 1/1/1, reflection at 150) and budget-minded ones elsewhere (documented per field).

Also owns the economy profile: on the embedded model (two one-thread servers on two cores) a full day of
the full loop takes over an hour, so unless told otherwise (`economy = "off"`) that run
thinks less often where it matters least (`ECONOMY`). Values a config sets explicitly always win.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mind: Literal["generative", "routine"] = Field(
        "generative", description="generative: the language-model minds; routine: fixed habits, no model")
    scenario: str = Field("auto", description="the facts seeded as memories at the start: a scenario file, "
                                              "'auto' (scenario.toml beside the residents file, if any) or ''")
    vision_radius: int = Field(8, ge=1, le=64, description="tiles a resident sees, within its own arena")
    attention: int = Field(8, ge=1, le=32, description="nearest things perceived per look (the paper's 25-agent "
                                                       "run: 8)")
    perceive_minutes: int = Field(1, ge=1, le=60, description="game minutes between looks around")
    retrieve_k: int = Field(8, ge=1, le=100, description="memories retrieved for a prompt that has no k below")
    # How many memories come to mind, by what they are for (the original code's values where it has one).
    retrieve_talk: int = Field(15, ge=1, le=100, description="per conversation line (original: 15)")
    retrieve_talk_context: int = Field(50, ge=1, le=100, description="what a speaker recalls about the other, "
                                                                     "once per talk (original: 50)")
    retrieve_reflect: int = Field(30, ge=1, le=100, description="per reflection question (original: 30)")
    retrieve_interview: int = Field(50, ge=1, le=100, description="per interview question (original: 50)")
    retrieve_plan: int = Field(30, ge=1, le=100, description="per focal point of the morning's status and day "
                                                             "plan, and for a re-plan (original: 30)")
    retrieve_react: int = Field(10, ge=1, le=100, description="for the decision to react to what was seen")
    prompt_tokens: int = Field(2000, ge=100, le=32000, description="most tokens of memories one prompt shows (the "
                                                                  "best-ranked first; the rest are left out)")
    recency_weight: float = 1.0
    importance_weight: float = 1.0
    relevance_weight: float = 1.0
    reflection_threshold: int = Field(150, ge=1, description="summed importance that triggers a reflection")
    talk_radius: int = Field(4, ge=1, le=32, description="tiles within which two residents may start talking")
    talk_turns: int = Field(10, ge=2, le=40, description="most utterances in one conversation (both speakers)")
    talk_cooldown_minutes: int = Field(
        120, ge=0, description="game minutes after a conversation before the same pair may talk again")
    talk_lead_minutes: int = Field(
        3, ge=1, le=60, description="game minutes a conversation may take to think before the run waits for it "
                                    "(rounded up to 5); the two stand greeting each other meanwhile")
    decline_minutes: int = Field(
        30, ge=0, description="game minutes after a resident declined to talk to another before it may start a talk "
                              "with them (the other may start one at once: whoever notices the other decides)")
    social_rest_minutes: int = Field(
        30, ge=0, description="game minutes after a conversation before a resident starts another")
    seconds_per_line: int = Field(20, ge=10, description="game seconds each utterance takes")
    replan_importance: int = Field(1, ge=1, le=11, description="a talk whose planning thought changes today "
                                                               "re-plans the rest of the day when the talk was "
                                                               "rated at least this important (1: always, as in "
                                                               "the paper; 11: never)")
    place_by: Literal["model", "embedding"] = Field(
        "model", description="how a block's arena is chosen when its activity names no known place: a model call "
                             "over the known arenas, or the arena whose name is nearest by embedding")
    rate_sights: Literal["model", "fixed"] = Field(
        "model", description="how sights (of others, of objects in use, of one's own action) are rated: by the model "
                             "with the rest of the new memories, or all as routine (2) with no call")
    decompose: bool = Field(True, description="split each block of the hourly schedule into steps of 5-15 minutes (one "
                                              "call per new activity); off: the block is one step")
    rate_every_minutes: int = Field(120, ge=5, le=1440, description="game minutes between ratings of a resident's "
                                                                    "unrated talk and thoughts (12 rated at once "
                                                                    "start a rating sooner)")
    reflect_recent: int = Field(100, ge=5, le=200, description="recent memories the reflection questions are "
                                                               "drawn from (paper: 100)")
    reflect_questions: int = Field(3, ge=1, le=5, description="questions a reflection asks (paper: 3)")
    reflect_insights: int = Field(5, ge=1, le=5, description="most insights per question, each citing its evidence "
                                                             "(original: 5)")
    react_importance: int = Field(6, ge=1, le=11, description="an observation of someone or something rated at "
                                                              "least this important makes the resident decide "
                                                              "whether to react (11: never)")
    react_every_minutes: int = Field(60, ge=1, le=1440, description="game minutes between two decisions to react "
                                                                    "of one resident")
    revise_currently: bool = Field(True, description="each morning, revise what occupies the resident (the "
                                                     "persona's `currently`) from what it remembers (one call)")
    object_states: Literal["model", "fixed"] = Field(
        "model", description="what an object shows while used: the model's words (one call per prepared block) "
                             "or a fixed phrase")
    choices: Literal["open", "closed"] = Field(
        "open", description="open: the model writes its plans' times and activities and its lines freely; closed: "
                            "it picks each activity for fixed times of the day from the persona's own, and talks in "
                            "plain words (what a small model needs: smallville.agents.prompts.common.Choices)")
    economy: Literal["auto", "on", "off"] = Field(
        "auto", description="the economy profile (ECONOMY): auto = on with the embedded model, off with "
                            "configured endpoints")

    def resolved(self, embedded_model: bool) -> AgentSettings:
        """These settings with the economy profile applied where it is on, to the fields not set explicitly."""
        if self.economy == "off" or (self.economy == "auto" and not embedded_model):
            return self
        update: dict[str, Any] = {k: v for k, v in ECONOMY.items() if k not in self.model_fields_set}
        return self.model_copy(update=update)

    def economy_on(self, embedded_model: bool) -> bool:
        return self.economy == "on" or (self.economy == "auto" and embedded_model)


#: What the economy profile changes, and why each is cheap to give up on a weak local model:
#: - talks do not re-plan the day (the small model rates most of its own talks 8+, and each re-plan is an
#:   hourly schedule plus a new block: ~20 extra calls in a morning); inner voices still re-plan;
#: - at most 6 lines a talk (its lines rarely go past 2 anyway; this bounds the worst case);
#: - a block's arena by embedding instead of a call (the small model's choice was no better);
#: - ratings every 4 game hours (fewer one-memory calls) and reflection questions over 15 recent memories
#:   (a 500-token prompt to a 135M model costs more than its answer);
#: - closed choices: plans picked from the persona's activities for fixed times, lines in plain words (the
#:   135M model's own plans were out of order and made of no activity at all: docs/benchmarks.md);
#: - sights rated as routine (2) without a call: the 135M model's scores for a list of sights are the list's
#:   own numbers, 1, 2, 3 ... (a sixth of its calls went to it, and the counting set off reflections);
#: - a talk may think for 10 game minutes before the run waits for it, not 3: a talk is a chain of calls
#:   that cannot overlap, and the whole town waited for each at its due tick while the second server idled;
#: - no decomposition of a block into 5-15 minute steps: its steps were "add", "update" (a tenth of its calls);
#: - fewer memories per prompt (the k's, and 600 tokens of them at most): a 135M model's context is 8k
#:   tokens, every prompt token costs CPU time, and it uses little of a long list anyway;
#: - reflection at a summed importance of 300, not 150: its digests rate nearly every talk 10, so its residents
#:   reflected three or four times a game day (more than the paper's), each reflection two calls;
#: - one reflection question with up to 3 insights (two calls, as before the paper's 3 x 5);
#: - attention 3 (each thing seen is a memory to embed and store, and to rate where sights are rated);
#: - no decision to react to sights, no morning revision of `currently` (its status would replace the
#:   persona's, which the closed choices read their activities from), objects show a fixed phrase.
#: docs/agents.md lists each departure with what it costs the study.
ECONOMY: dict[str, Any] = {
    "replan_importance": 11,
    "talk_turns": 6,
    "place_by": "embedding",
    "rate_every_minutes": 240,
    "reflect_recent": 15,
    "choices": "closed",
    "attention": 3,
    "retrieve_talk": 3,
    "retrieve_talk_context": 5,
    "retrieve_reflect": 5,
    "retrieve_interview": 8,
    "retrieve_plan": 5,
    "retrieve_react": 3,
    "prompt_tokens": 600,
    "reflect_questions": 1,
    "reflect_insights": 3,
    "react_importance": 11,
    "revise_currently": False,
    "object_states": "fixed",
    "rate_sights": "fixed",
    "decompose": False,
    "talk_lead_minutes": 10,
    "reflection_threshold": 300,
}
