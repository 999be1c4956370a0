"""A game study on disk: its folder, `study.json` (the settings, seeds and workers it was started with), its
seeds' saves, and what one round's turns score to and log.

Owns reading a study back (`read_study`, `study_settings`: the settings a resume goes on with) and the pieces the
drive (`game.py`) and the report (`report.py`) both need, so that neither imports the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smallville.errors import ConfigError, SaveError
from smallville.games import scoring
from smallville.games.config import GameFile, GuessSettings
from smallville.games.play import Turn
from smallville.games.prompts import Player
from smallville.inference.settings import InferenceSettings, apply_env, display_url, is_masked_url
from smallville.scale.settings import ScaleSettings

STUDY = "study.json"
STUDY_FORMAT = "smallville-game-study"
WINNERS_KEPT = 100  # ids of winners in a round event (the rest are in the answers: all who said the number)


def masked_inference(inference: InferenceSettings) -> dict[str, Any]:
    """The inference settings as a save may hold them: a key hiding in a URL masked (never a key itself)."""
    data = inference.model_dump(mode="json")
    for endpoint in data["endpoints"]:
        endpoint["base_url"] = display_url(endpoint["base_url"])
    if data.get("embedding"):
        data["embedding"]["base_url"] = display_url(data["embedding"]["base_url"])
    return data


def seed_dir(out: Path, seed: int) -> Path:
    return out / f"seed-{seed}"


def round_event(round_no: int, turns: list[Turn], score: scoring.RoundScore) -> dict[str, Any]:
    return {"k": "round", "r": round_no, "players": len(turns),
            "valid": sum(1 for t in turns if t.status == "ok"),
            "invalid": sum(1 for t in turns if t.status == "invalid"),
            "failed": sum(1 for t in turns if t.status == "failed"),
            "target": score.target, "winner": score.winner, "winners_n": len(score.winners),
            "winners": score.winners[:WINNERS_KEPT], "announced": score.announced, "team_won": score.team_won,
            "team_means": score.team_means}


def score_turns(turns: list[Turn], players: list[Player], cfg: GuessSettings) -> scoring.RoundScore:
    numbers = [t.number if t.status == "ok" else None for t in turns]
    teams = [p.team for p in players] if cfg.variant == "P6" and players else None
    return scoring.score_round(numbers, [t.agent for t in turns], cfg.ratio_fraction, cfg.offset_fraction,
                               cfg.announce, teams)


def read_study(out: Path) -> dict[str, Any]:
    path = out / STUDY
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SaveError(path, "not a game study (no study.json); give the folder `smallville game guess` made") \
            from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SaveError(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != STUDY_FORMAT:
        raise SaveError(path, "not a game study")
    return doc


def study_settings(out: Path, config: Path | None = None) -> GameFile:
    """The settings a study was started with; its endpoints (and `[scale]`, if it has one) from `config` when
    given (or when the study holds them masked), since endpoints and workers are where the models are now."""
    from smallville.games.config import read_document, validate

    doc = read_study(out)
    try:
        cfg = GuessSettings.model_validate(doc["settings"])
    except (ValueError, KeyError) as exc:
        raise SaveError(out / STUDY, f"settings: {exc}") from None
    scale = _saved_scale(out, doc)
    if config is not None:  # its [inference] and [scale] only: the game's settings are the study's, whatever [game]
        document = read_document(config)
        given = validate({"inference": document.get("inference", {}), "scale": document.get("scale", {})},
                         str(config))
        inference = given.inference
        if "scale" in document:
            scale = given.scale
    else:
        saved = InferenceSettings.model_validate(doc.get("inference") or {})
        if any(is_masked_url(e.base_url) for e in saved.endpoints):
            raise ConfigError(f"{out / STUDY}: its endpoint URLs held a key and are kept masked; give the config that "
                              "names them: smallville game resume DIR --config FILE")
        inference = apply_env(saved)
    return GameFile(game=cfg, inference=inference, scale=scale)


def _saved_scale(out: Path, doc: dict[str, Any]) -> ScaleSettings:
    """The workers a study was started with (a study from before `[scale]` existed: one, in-process)."""
    try:
        return ScaleSettings.model_validate(doc.get("scale") or {})
    except ValueError as exc:
        raise SaveError(out / STUDY, f"scale: {exc}") from None
