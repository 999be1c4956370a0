"""A game study's pictures (matplotlib, off-screen): the answers' histogram each round, and the mean per round.

Owns their look, after the paper's figures: a histogram of max_value + 1 bins (101 for 0..100) of every valid
answer of the round, all seeds pooled, with the target (mean over seeds) and the equilibrium marked; the mean
reported number per round, each seed a thin line, their mean a thick one with its 95% interval as a band, the
target beside it, and the paper's curve for the same variant where it gives one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # off-screen: no display needed

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from smallville.games.config import GuessSettings

BLUE, ORANGE, GREEN = "#2980b9", "#f39c12", "#27ae60"
PAPER = ["#7f8c8d", "#8e44ad", "#c0392b", "#2c3e50"]  # the paper's curves, one colour each


def _label(cfg: GuessSettings) -> str:
    target = f"{cfg.offset:g} + {cfg.ratio}" if cfg.offset else cfg.ratio
    return f"{cfg.variant}, target {target} of the mean, {cfg.parse}"


def histogram(path: Path, report: dict[str, Any], cfg: GuessSettings, round_no: int) -> Path:
    runs = [r for r in report["runs"] if len(r["rounds"]) >= round_no]
    bins = [0] * (cfg.max_value + 1)
    for run in runs:
        for i, count in enumerate(run["rounds"][round_no - 1]["histogram"]):
            bins[i] += count
    targets = [r["rounds"][round_no - 1]["target"] for r in runs if r["rounds"][round_no - 1]["target"] is not None]
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    ax.bar(range(len(bins)), bins, width=1.0, color=BLUE, alpha=0.8, align="edge")
    if targets:
        target = sum(targets) / len(targets)
        ax.axvline(target, color=ORANGE, linestyle="--", linewidth=1.5, label=f"target {target:.2f}")
    ax.axvline(cfg.equilibrium, color=GREEN, linestyle=":", linewidth=1.2, label=f"equilibrium {cfg.equilibrium:g}")
    ax.set_xlim(0, cfg.max_value + 1)
    ax.set_xlabel("reported number (bin k holds [k, k+1))")
    ax.set_ylabel("answers")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    ax.set_title(f"Round {round_no}: {sum(bins):,} valid answers, {len(runs)} seed(s); {_label(cfg)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def means(path: Path, report: dict[str, Any], cfg: GuessSettings) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    runs = report["runs"]
    for run in runs:
        xs = [r["r"] for r in run["rounds"] if r["mean"] is not None]
        ys = [r["mean"] for r in run["rounds"] if r["mean"] is not None]
        ax.plot(xs, ys, color=BLUE, alpha=0.35 if len(runs) > 1 else 1.0, linewidth=1 if len(runs) > 1 else 2,
                marker="o", markersize=3, label=None if len(runs) > 1 else f"seed {run['seed']}: mean")
    agg = [a for a in report["aggregate"] if a["mean"]["mean"] is not None]
    if len(runs) > 1 and agg:
        xs = [a["r"] for a in agg]
        ys = [a["mean"]["mean"] for a in agg]
        ax.plot(xs, ys, color=BLUE, linewidth=2.5, marker="o", label=f"mean of {len(runs)} seeds")
        lo = [a["mean"]["mean"] - (a["mean"]["ci95"] or 0) for a in agg]
        hi = [a["mean"]["mean"] + (a["mean"]["ci95"] or 0) for a in agg]
        ax.fill_between(xs, lo, hi, color=BLUE, alpha=0.15, label="95% interval")
    targets = [(a["r"], a["target"]["mean"]) for a in report["aggregate"] if a["target"]["mean"] is not None]
    if targets:
        ax.plot([x for x, _ in targets], [y for _, y in targets], color=ORANGE, linestyle="--", marker="x",
                label="target (the announced winning number)")
    played = max((len(r["rounds"]) for r in runs), default=1)
    for k, (model, values) in enumerate((report["paper"].get("round_means") or {}).items()):
        pts = [(i + 1, v) for i, v in enumerate(values[:played]) if v is not None]
        ax.plot([x for x, _ in pts], [y for _, y in pts], color=PAPER[k % len(PAPER)], linestyle=":",
                marker="sd^v"[k % 4], markersize=4, label=f"paper: {model}")
    ax.axhline(cfg.equilibrium, color=GREEN, linestyle=":", linewidth=1, label=f"equilibrium {cfg.equilibrium:g}")
    ax.set_xlabel("round")
    ax.set_ylabel("mean reported number")
    ax.set_ylim(0, cfg.max_value)
    ax.set_xticks(range(1, max(1, played) + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Mean per round; {_label(cfg)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def draw_all(out: Path, report: dict[str, Any], cfg: GuessSettings) -> list[Path]:
    written = [means(out / "means.png", report, cfg)]
    rounds = max((len(r["rounds"]) for r in report["runs"]), default=0)
    written += [histogram(out / f"histogram-r{r}.png", report, cfg, r) for r in range(1, rounds + 1)]
    return written
