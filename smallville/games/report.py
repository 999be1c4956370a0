"""The report of a game study: `report.json`, `summary.md` and the plots, from the saves alone (no model).

Owns the figures a reader of the paper looks for, per seed and round: players, valid answers, invalid and
failed turns, mean, median, standard deviation, min, max, the target, the winning number (and how many said
it), the share within 0.5 of the target, the share at or below 1, the share below the previous round's
announced number and below its winning number; the same by model group and by each population attribute;
response tokens; wall time, calls/s and tokens/s (the only figures that differ between two plays of the same
answers: they sit apart, under `performance`). Across seeds each figure gets its mean and a 95% confidence
interval (Student's t, n-1 degrees of freedom). Every figure is recomputed from the answer log, and each
round's recomputed target and winner are checked against the ones the log recorded when it was played.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from smallville.errors import ConfigError, SaveError
from smallville.games import paper, scoring
from smallville.games.config import GuessSettings
from smallville.games.play import Turn
from smallville.games.roster import seat
from smallville.games.store import GameSave
from smallville.games.study import read_study, score_turns, seed_dir

# Student's t, two-sided 95%, by degrees of freedom 1..30 (beyond: the normal's 1.96).
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]
AGGREGATED = ("mean", "median", "std", "min", "max", "target", "winner", "share_within_half", "share_at_most_1",
              "share_below_previous_announced", "share_below_previous_winner", "share_repeating_announced",
              "invalid", "failed",
              "response_tokens_mean")


def t_interval(values: list[float]) -> dict[str, Any]:
    """Mean and the half-width of its 95% t-interval (None with fewer than two values)."""
    n = len(values)
    if n == 0:
        return {"mean": None, "ci95": None, "n": 0, "values": []}
    mean = math.fsum(values) / n
    if n < 2:
        return {"mean": mean, "ci95": None, "n": 1, "values": values}
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    return {"mean": mean, "ci95": t * sd / math.sqrt(n), "n": n, "values": values}


def _tokens(turns: list[Turn]) -> dict[str, Any]:
    # per answer the model wrote (a re-asked turn wrote several): the paper's "response length"
    completion = sum(t.usage.completion_tokens for t in turns)
    written = sum(t.usage.requests for t in turns)
    return {"response_tokens_mean": completion / written if written else None,
            "answer_completion_tokens": completion,
            "extract_completion_tokens": sum(t.extract_usage.completion_tokens for t in turns),
            "prompt_tokens": sum(t.usage.prompt_tokens + t.extract_usage.prompt_tokens for t in turns),
            "requests": sum(t.usage.requests + t.extract_usage.requests for t in turns)}


def _slice(turns: list[Turn], score: scoring.RoundScore, cfg: GuessSettings,
           previous: scoring.RoundScore | None) -> dict[str, Any]:
    figures = scoring.round_figures([t.number if t.status == "ok" else None for t in turns],
                                    [t.status for t in turns], score, cfg.max_value, previous)
    figures.pop("histogram")
    return {**figures, **_tokens(turns)}


def analyse_run(save: GameSave, cfg: GuessSettings) -> dict[str, Any]:
    """One seed's figures, round by round."""
    seed = int(save.manifest["seed"])
    notes: list[str] = []
    try:
        players = seat(cfg, seed)
    except ConfigError as exc:  # the population moved: figures by attribute are what is lost
        players = []
        notes.append(f"no figures by attribute: {exc}")
    rounds = []
    examples: list[dict[str, Any]] = []  # the first turns that gave no number, to read what went wrong
    previous: scoring.RoundScore | None = None
    for logged in save.rounds():
        turns = logged.turns
        seated = players if len(players) == len(turns) else []
        score = score_turns(turns, seated, cfg)
        examples += [{"r": logged.round, "agent": t.agent, "status": t.status, "error": t.error,
                      "said": (t.said or "")[:200]} for t in turns if t.status != "ok"][: 5 - len(examples)]
        for key in ("target", "winner"):
            if logged.event.get(key) != getattr(score, key):
                notes.append(f"round {logged.round}: the log's {key} {logged.event.get(key)} differs from the answers' "
                              f"{getattr(score, key)}")
        figures = scoring.round_figures([t.number if t.status == "ok" else None for t in turns],
                                        [t.status for t in turns], score, cfg.max_value, previous)
        figures.update(_tokens(turns))
        figures.update({"r": logged.round, "target": score.target, "winner": score.winner,
                        "winners_n": len(score.winners), "announced": score.announced,
                        "team_won": logged.event.get("team_won"), "team_means": logged.event.get("team_means") or {}})
        by_model: dict[str, list[Turn]] = {}
        for turn in turns:
            by_model.setdefault(turn.model, []).append(turn)
        figures["by_model"] = {m: _slice(ts, score, cfg, previous) for m, ts in sorted(by_model.items())}
        by_attribute: dict[str, dict[str, list[Turn]]] = {}
        for player, turn in zip(seated, turns, strict=False):
            for attribute, value in player.attributes.items():
                by_attribute.setdefault(attribute, {}).setdefault(value, []).append(turn)
        figures["by_attribute"] = {a: {v: _slice(ts, score, cfg, previous) for v, ts in sorted(cats.items())}
                                   for a, cats in sorted(by_attribute.items())}
        rounds.append(figures)
        previous = score
    return {"seed": seed, "save": save.root.name, "complete": bool(save.manifest.get("complete")),
            "players": save.players, "groups": save.manifest.get("groups", {}), "rounds": rounds,
            "not_ok_examples": examples, "notes": notes}


def performance(save: GameSave) -> dict[str, Any]:
    """Per round, the session that committed it: wall seconds, calls/s, tokens/s (calls reused from the
    recording take no time and are not counted as made)."""
    last: dict[int, dict[str, Any]] = {}
    for entry in save.timing():
        last[int(entry["r"])] = entry
    rounds = []
    for r, e in sorted(last.items()):
        wall = max(float(e["wall_s"]), 1e-9)
        rounds.append({"r": r, "wall_s": e["wall_s"], "calls": e["calls_asked"], "calls_reused": e["calls_reused"],
                       "calls_per_s": round(e["calls_asked"] / wall, 2),
                       "completion_tokens_per_s": round(e["completion_tokens"] / wall, 1),
                       "tokens_per_s": round((e["completion_tokens"] + e["prompt_tokens"]) / wall, 1)})
    return {"seed": int(save.manifest["seed"]), "rounds": rounds,
            "wall_s": round(sum(float(r["wall_s"]) for r in rounds), 3)}


def aggregate(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    used = [r for r in runs if r["complete"]] or runs
    most = max((len(r["rounds"]) for r in used), default=0)
    out = []
    for i in range(most):
        rows = [r["rounds"][i] for r in used if len(r["rounds"]) > i]
        out.append({"r": i + 1, **{k: t_interval([float(row[k]) for row in rows if row.get(k) is not None])
                                   for k in AGGREGATED}})
    return out


def write_report(out: Path) -> dict[str, Any]:
    """Read every seed's save of the study at `out`; write report.json, summary.md and the plots."""
    from smallville.games import plots
    from smallville.games.summary import summary

    study = read_study(out)
    cfg = GuessSettings.model_validate(study["settings"])
    runs, perf = [], []
    for seed in study["seeds"]:
        root = seed_dir(out, int(seed))
        if not (root / "manifest.json").exists():
            continue
        save = GameSave.open(root)
        runs.append(analyse_run(save, cfg))
        perf.append(performance(save))
    if not runs:
        raise SaveError(out, "no seed of this study has a save yet")
    report: dict[str, Any] = {"game": "guess", "settings": study["settings"], "equilibrium": cfg.equilibrium,
                              "seeds": [r["seed"] for r in runs], "runs": runs, "aggregate": aggregate(runs),
                              "paper": paper.beside(cfg), "performance": perf}
    report["files"] = [str(p.relative_to(out)) for p in plots.draw_all(out, report, cfg)]
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out / "report.json")
    (out / "summary.md").write_text(summary(report, cfg), encoding="utf-8")
    return report
