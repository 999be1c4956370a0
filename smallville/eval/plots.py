"""The study's pictures (matplotlib, drawn off-screen): awareness curves, the social graph before and after,
and each fact's cascade tree.

Owns their look: one colour per fact, each run a thin line and their mean a thick one, the interview's
verified end share as a dot; residents placed on one circle in the same order in both graphs so the two can
be compared at a glance; the cascade drawn as a tree from the fact's holder, arcs labelled with the game time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # off-screen: no display needed, and no window pops up

import matplotlib.pyplot as plt
import networkx as nx

COLOURS = ["#d1495b", "#00798c", "#edae49", "#66a182", "#2e4057", "#8d96a3"]


def draw_all(out: Path, runs: list[dict[str, Any]], graphs: list[dict[str, Any]]) -> list[Path]:
    written = [awareness(out / "awareness.png", runs)]
    first, graph = runs[0], graphs[0]
    kind = "interview" if "interview_before" in graph else "log"
    written.append(network_pair(out / "network.png", graph[f"{kind}_before"], graph[f"{kind}_after"],
                                first, kind))
    for i, (fid, fact) in enumerate(first["facts"].items()):
        written.append(cascade(out / f"cascade-{fid}.png", fid, fact, COLOURS[i % len(COLOURS)],
                               f"{first['name']}: {first['from']} to {first['to']}"))
    return written


def awareness(path: Path, runs: list[dict[str, Any]]) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    facts = list(runs[0]["facts"])
    for i, fid in enumerate(facts):
        colour = COLOURS[i % len(COLOURS)]
        curves = [[(p["hours"], p["share"]) for p in r["facts"][fid]["curve"]] for r in runs if fid in r["facts"]]
        for c in curves:
            ax.plot([h for h, _ in c], [s for _, s in c], color=colour, alpha=0.35 if len(curves) > 1 else 1,
                    linewidth=1 if len(curves) > 1 else 2, label=None if len(curves) > 1 else f"{fid}: holds it")
        if len(curves) > 1:
            shortest = min(len(c) for c in curves)
            mean = [sum(c[j][1] for c in curves) / len(curves) for j in range(shortest)]
            ax.plot([h for h, _ in curves[0][:shortest]], mean, color=colour, linewidth=2.5,
                    label=f"{fid}: holds it (mean of {len(curves)})")
        ends = [(r["game_hours"], r["facts"][fid]["aware_end"]) for r in runs if fid in r["facts"]]
        if runs[0]["method"] == "interview":
            ax.scatter([h for h, _ in ends], [s for _, s in ends], color=colour, edgecolor="black", zorder=3,
                       label=f"{fid}: says so, checked (end)")
    ax.set_xlabel("game hours since the start")
    ax.set_ylabel("share of residents")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    saves = ", ".join(r.get("name") or Path(r["save"]).name for r in runs[:3]) + (", ..." if len(runs) > 3 else "")
    ax.set_title(f"Who has heard the news ({saves})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _short(name: str) -> str:
    parts = name.split()
    return f"{parts[0]} {parts[-1][0]}." if len(parts) > 1 else name


def network_pair(path: Path, before: nx.Graph, after: nx.Graph, run: dict[str, Any], kind: str) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(12, 6), dpi=110)
    nodes = sorted(after.nodes)
    pos = nx.circular_layout(nodes)
    holders = {f["holder"] for f in run["facts"].values()}
    for ax, graph, title in ((axes[0], before, "before"), (axes[1], after, "after")):
        nx.draw_networkx_edges(graph, pos, ax=ax, alpha=0.35, width=0.8)
        nx.draw_networkx_nodes(graph, pos, nodelist=nodes, ax=ax, node_size=120,
                               node_color=["#d1495b" if n in holders else "#00798c" for n in nodes])
        nx.draw_networkx_labels(graph, {n: (x * 1.13, y * 1.13) for n, (x, y) in pos.items()},
                                {n: _short(n) for n in nodes}, ax=ax, font_size=7)
        density = nx.density(graph) if graph.number_of_nodes() > 1 else 0.0
        ax.set_title(f"{title}: {graph.number_of_edges()} ties, density {density:.3f}")
        ax.set_axis_off()
        ax.set_xlim(-1.35, 1.35)
        ax.set_ylim(-1.25, 1.25)
    how = "both say they know each other" if kind == "interview" else "persona acquaintances and conversations"
    fig.suptitle(f"Who knows whom ({how}); {run['name']}: {run['from']} to {run['to']}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _tree_layout(tree: nx.DiGraph, roots: list[str]) -> dict[str, tuple[float, float]]:
    """Depth down the page, each subtree given width in proportion to its leaves; the trees of several
    roots side by side (the holder's first)."""
    pos: dict[str, tuple[float, float]] = {}

    def leaves(n: str) -> int:
        return max(1, sum(leaves(k) for k in tree.successors(n)))

    def place(n: str, left: float, depth: int) -> None:
        pos[n] = (left + leaves(n) / 2, -depth)
        x = left
        for kid in sorted(tree.successors(n)):
            place(kid, x, depth + 1)
            x += leaves(kid)

    left = 0.0
    for root in roots:
        place(root, left, 0)
        left += leaves(root)
    return pos


def cascade(path: Path, fid: str, fact: dict[str, Any], colour: str, where: str = "") -> Path:
    tree = nx.DiGraph()
    tree.add_node(fact["holder"])
    when = {}
    for step in fact["cascade"]:
        teller, told = step["teller"], step["told"]
        # a forest: each resident told once (the first time counts), no arc back into a teller's own past
        if told == fact["holder"] or (told in tree and tree.in_degree(told) > 0):
            continue
        if teller in tree and told in tree and nx.has_path(tree, told, teller):
            continue
        tree.add_edge(teller, told)
        parts = step["at"].split()
        when[(teller, told)] = f"{parts[0]} {parts[-1]}"  # 'Tue 15:05'
    # residents who passed it on without anyone telling them (they raised it) root trees of their own
    roots = [fact["holder"], *sorted(n for n in tree.nodes if n != fact["holder"] and tree.in_degree(n) == 0)]
    pos = _tree_layout(tree, roots)
    width = max(6.0, 1.4 * max((x for x, _ in pos.values()), default=1))
    fig, ax = plt.subplots(figsize=(min(width, 18), 2 + 1.3 * (1 - min(y for _, y in pos.values()))), dpi=110)
    nx.draw_networkx_edges(tree, pos, ax=ax, arrows=True, edge_color="#555555", arrowsize=12)
    nx.draw_networkx_nodes(tree, pos, ax=ax, node_color=colour, node_size=220)
    for n, (x, y) in pos.items():
        label = _short(n) + (" (raised it)" if n in roots[1:] else "")
        ax.annotate(label, (x, y), xytext=(9, 0), textcoords="offset points", fontsize=8, va="center")
    nx.draw_networkx_edge_labels(tree, pos, edge_labels=when, ax=ax, font_size=6)
    ax.margins(0.15, 0.2)
    told = tree.number_of_edges()
    title = f"{fid}: who told whom ({told} told, from {fact['holder']})" if told else \
        f"{fid}: {fact['holder']} told no one"
    ax.set_title(f"{title}\n{where}" if where else title, fontsize=10)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
