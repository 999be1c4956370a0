"""The published figures a game's report is set beside (Pan et al. 2024, arXiv 2407.17789; the figures as
`shared/reference/mechanics.md` section B gives them).

Owns which of the paper's figures compare with a given game: the single-round means of P1-P4 by model, the
multi-round means, the ratio tests' winning numbers, the mixture of models, the temperature sweep and the
response lengths. The paper's "winning number" is AgentScope's `ratio x mean`, i.e. our *target*.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from smallville.games.config import GuessSettings

SOURCE = "Pan et al. 2024 (AgentScope, arXiv 2407.17789)"

SINGLE_ROUND_MEAN: dict[str, dict[str, float]] = {  # model -> variant -> mean reported number, round 1
    "Llama3-8B": {"P1": 55.89, "P2": 49.85, "P3": 47.84, "P4": 47.09},
    "Llama3-70B": {"P1": 50.30, "P2": 34.18, "P3": 36.11, "P4": 17.15},
    "Mixtral-8x7B": {"P1": 36.63, "P2": 37.57, "P3": 35.19, "P4": 24.42},
    "Mixtral-8x22B": {"P1": 31.69, "P2": 19.89, "P3": 7.62, "P4": 7.94},
    "Qwen2-7B": {"P1": 66.96, "P2": 32.57, "P3": 26.45, "P4": 28.38},
    "Qwen2-72B": {"P1": 50.56, "P2": 19.15, "P3": 8.15, "P4": 8.85},
}

MULTI_ROUND_MEANS: dict[str, dict[str, list[float | None]]] = {  # variant -> model -> means, rounds 1..5
    "P1": {"Qwen2-72B": [50.56, 42.94, 35.30, 29.95, 25.16]},
    "P2": {"Qwen2-72B": [19.15, 11.06, 6.11, 3.43, 2.02], "Llama3-70B": [34.18, 23.37, 14.00, 7.90, 4.19]},
    "P3": {"Qwen2-72B": [8.15, 4.04, 1.55, 0.76, 0.14]},
    "P4": {"Qwen2-72B": [8.85, None, None, None, 0.15]},  # rounds 2-4 not given
}

MIXTURE = {"models": "500 agents each of Llama3-70B, Mixtral-8x22B and Qwen2-72B, P2",
           "winning_numbers": [15.90, 10.35, 6.16, 3.67, 2.18],
           "round1_means": {"Llama3-70B": 32.91, "Mixtral-8x22B": 19.75, "Qwen2-72B": 18.83},
           "share_below_previous_winner": 0.597}

RATIO_TESTS = {  # (ratio, with the famous-game note) -> the winning number, round 1
    (Fraction(1, 2), False): ("1/2", 6.21), (Fraction(51, 100), False): ("51/100", 11.85),
    (Fraction(51, 100), True): ("51/100 with the note", 6.46)}

TEMPERATURE = {  # 1,000 Qwen2-72B agents, P2: temperature -> (mean, std); median 15 throughout
    0.05: (15.42, 6.50), 0.25: (15.27, 7.22), 0.5: (18.54, 7.74), 1.0: (16.72, 8.20)}

RESPONSE_TOKENS = {"P1": 1.00, "P2": 155.0, "P3": 261.0}  # Llama3-8B, tokens per answer


def beside(cfg: GuessSettings) -> dict[str, Any]:
    """The paper's figures that compare with this game (empty where none does)."""
    out: dict[str, Any] = {"source": SOURCE}
    variant = cfg.variant
    plain = cfg.ratio_fraction == Fraction(2, 3) and not cfg.offset and not cfg.famous_note
    if plain and variant in ("P1", "P2", "P3", "P4"):
        out["round1_mean"] = {model: means[variant] for model, means in SINGLE_ROUND_MEAN.items()}
        if variant in MULTI_ROUND_MEANS:
            out["round_means"] = MULTI_ROUND_MEANS[variant]
        if variant in RESPONSE_TOKENS:
            out["response_tokens_llama3_8b"] = RESPONSE_TOKENS[variant]
    if plain and variant == "P2":
        out["mixture"] = MIXTURE
        out["temperature_qwen2_72b"] = {str(t): {"mean": m, "std": s, "median": 15.0}
                                        for t, (m, s) in TEMPERATURE.items()}
    test = RATIO_TESTS.get((cfg.ratio_fraction, cfg.famous_note))
    if variant != "P7" and not cfg.offset and test is not None:
        out["ratio_test_winning_number"] = {"test": test[0], "value": test[1]}
    out["equilibrium"] = cfg.equilibrium
    return out
