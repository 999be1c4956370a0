"""The report of a diffusion study: `report.json`, `summary.md`, the GraphML graphs and the plots.

Owns the figures across runs (mean, 95% confidence interval from Student's t, the values of each run), the
published figures they are set beside, and the Markdown a reader opens first. Published figures come from
the scenario (its `[baseline]`, carried by each run as `baseline`: the Ville's are the paper's, Park et al.
2023, section 7), so a report of another scenario shows none. Every cascade step and holder names the save
and the replay command for its moment.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from smallville.eval import network

# Student's t, two-sided 95%, by degrees of freedom (beyond 30: the normal 1.96).
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def mean_ci(values: list[float]) -> dict[str, Any]:
    """Mean and the half-width of its 95% confidence interval (None for a single value)."""
    n = len(values)
    mean = sum(values) / n if n else float("nan")
    if n < 2:
        return {"mean": round(mean, 4), "ci95": None, "n": n, "values": values}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    return {"mean": round(mean, 4), "ci95": round(t * sd / math.sqrt(n), 4), "n": n, "values": values}


def headline(run: dict[str, Any]) -> dict[str, float]:
    """The figures compared across runs and with the published ones, flat: 'party.aware_end', 'density_after', ..."""
    out: dict[str, float] = {}
    for fid, fact in run["facts"].items():
        for key in ("aware_start", "aware_end", "held_start", "held_end"):
            out[f"{fid}.{key}"] = float(fact[key])
        if fact.get("hallucinated_end") is not None:
            out[f"{fid}.hallucinated_end"] = float(fact["hallucinated_end"])
        came = fact.get("gathering")
        if came:
            out[f"{fid}.invited"] = float(len(came["invited"]))
            out[f"{fid}.came"] = float(len(came["came"]))
            out[f"{fid}.invited_and_came"] = float(len(came["invited_and_came"]))
    for key in ("density_before", "density_after", "density_log_before", "density_log_after",
                "relationship_hallucination_rate"):
        if key in run:
            out[key] = float(run[key])
    return out


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each headline figure across the complete runs (across all, if none is complete)."""
    used = [r for r in runs if r["complete"]] or runs
    keys = sorted({k for r in used for k in headline(r)})
    rows = [headline(r) for r in used]
    return {k: mean_ci([row[k] for row in rows if k in row]) for k in keys}


def baseline(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The published figures of the runs' scenario ({"source", "figures"}, from `Scenario.baselines`), or
    None. A study's runs share one scenario; runs of scenarios that differ get none (nothing to compare)."""
    given = [r.get("baseline") for r in runs]
    first = given[0] if given else None
    if not first or any(g != first for g in given):
        return None
    return {"source": str(first["source"]), "figures": dict(first["figures"])}


def write(out: Path, runs: list[dict[str, Any]], graphs: list[dict[str, Any]]) -> dict[str, Any]:
    """Write every file of the report; returns report.json's content."""
    from smallville.eval import plots

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[str]] = {"graphml": [], "png": []}
    for run, graph in zip(runs, graphs, strict=True):
        for kind, g in graph.items():
            path = out / "graphs" / f"{run['name']}-{kind}.graphml"
            network.write_graphml(g, path)
            files["graphml"].append(str(path.relative_to(out)))
        for fid, fact in run["facts"].items():
            tree = network.cascade_graph([(c["teller"], c["told"], c["t"]) for c in fact["cascade"]], fact["holder"])
            path = out / "graphs" / f"{run['name']}-cascade-{fid}.graphml"
            network.write_graphml(tree, path)
            files["graphml"].append(str(path.relative_to(out)))
    files["png"] = [str(p.relative_to(out)) for p in plots.draw_all(out, runs, graphs)]
    complete = [r["name"] for r in runs if r["complete"]]
    report = {"runs": runs, "aggregate": aggregate(runs), "baseline": baseline(runs), "files": files,
              "aggregated_runs": complete or [r["name"] for r in runs],
              "left_out": [r["name"] for r in runs if complete and not r["complete"]]}
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out / "report.json")
    (out / "summary.md").write_text(summary(report), encoding="utf-8")
    return report


def _fmt(key: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if key.endswith(("invited", "came", "invited_and_came", "hallucinated_end")):
        return f"{value:g}"
    if "density" in key:
        return f"{value:.3f}"
    return f"{value * 100:.0f}%" if "rate" not in key else f"{value * 100:.1f}%"


def summary(report: dict[str, Any]) -> str:
    runs, agg = report["runs"], report["aggregate"]
    first = runs[0]
    lines = ["# Information diffusion", "",
             f"Scenario `{first['scenario']}`, {len(runs)} run(s) of {first['residents']} residents, "
             f"{', '.join(str(r['game_hours']) for r in runs)} game hours; awareness by "
             f"{'interview, each yes checked against memory' if first['method'] == 'interview' else 'memory only'}.",
             ""]
    for r in runs:
        for note in r["notes"]:
            lines.append(f"- **{r['name']}**: {note}")
    if report["left_out"]:
        lines.append(f"- left out of the figures below (unfinished): {', '.join(report['left_out'])}")
    given = report.get("baseline")
    published: dict[str, float] = given["figures"] if given else {}
    this = f"this study ({len(report['aggregated_runs'])} run(s))"
    # the published column only where the scenario gives figures: another scenario's table stands alone
    lines += ["", f"| figure | {given['source']} | {this} |" if given else f"| figure | {this} |",
              "| --- | --- | --- |" if given else "| --- | --- |"]
    order = [k for k in published if k in agg] + [k for k in agg if k not in published]
    for key in order:
        cell = agg[key]
        value = _fmt(key, cell["mean"])
        if cell["ci95"] is not None:
            value += f" ± {_fmt(key, cell['ci95'])}"
        cells = [f"`{key}`", *([_fmt(key, published.get(key))] if given else []), value]
        lines.append(f"| {' | '.join(cells)} |")
    lines += ["", "Shares are of all residents. `aware` = said yes and a memory carries it; `held` = a memory "
              "carries it (the log's count); a yes without such a memory is hallucinated. Density is "
              "2|E|/(|V|(|V|-1)) over residents who both say they know each other (`density_log_*`: persona "
              "acquaintances plus conversations held).", ""]
    for png in report["files"]["png"]:
        lines += [f"![{png}]({png})", ""]
    for r in runs:
        lines += [f"## {r['name']}", "", f"Save `{r['save']}`, {r['from']} to {r['to']}.", ""]
        for fid, fact in r["facts"].items():
            lines.append(f"**{fid}** (from {fact['holder']}): held by {fact['held_end_n']} at the end; "
                         f"{fact['lines']} lines carried it.")
            for c in fact["cascade"]:
                lines.append(f"- {c['at']}: {c['teller']} told {c['told']} (`{c['replay']}`)")
            if fact["spontaneous"]:
                lines.append(f"- raised without being told: {', '.join(fact['spontaneous'])}")
            came = fact.get("gathering")
            if came:
                reached = "" if came["reached"] else " (the run ends before it does)"
                lines.append(f"- the gathering{reached}: invited {len(came['invited'])}, came "
                             f"{len(came['came'])} ({', '.join(came['came']) or 'nobody'}), invited and came "
                             f"{len(came['invited_and_came'])} (`{came['replay']}`)")
            lines.append("")
        lines += ["| phase | wall s | calls | tokens |", "| --- | --- | --- | --- |"]
        lines += [f"| {k} | {v['wall_s']} | {v['calls']} | {v['tokens']} |" for k, v in r["phases"].items()]
        lines.append("")
    return "\n".join(lines)
