"""The Markdown a reader opens first (`summary.md`): a study's figures round by round, beside the paper's.

Owns the wording and layout: the game in one line, a table per round (mean +/- 95% interval across seeds,
median, spread, the target and the winning number, the shares), the paper's figures for the same variant
next to ours, figures by model group and by population attribute (first and last round), tokens and speed,
the first turns that gave no number (to read what went wrong), and the plots.
"""

from __future__ import annotations

from typing import Any

from smallville.games.config import GuessSettings


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _cell(agg: dict[str, Any], pct: bool = False) -> str:
    mean, ci = agg["mean"], agg["ci95"]
    fmt = _pct if pct else _num
    return fmt(mean) + (f" ± {fmt(ci)}" if ci is not None else "")


def _describe(cfg: GuessSettings, report: dict[str, Any]) -> list[str]:
    runs = report["runs"]
    target = f"{cfg.offset:g} plus {cfg.ratio}" if cfg.offset else cfg.ratio
    models = ", ".join(f"{k} {v:,}" for k, v in runs[0]["groups"].items())
    lines = [f"# Guess {target} of the average: {cfg.variant}", "",
             f"{runs[0]['players']:,} players, {cfg.rounds} round(s), {len(runs)} seed(s) "
             f"({', '.join(str(r['seed']) for r in runs)}); answers 0..{cfg.max_value}; "
             f"{cfg.instruction.replace('_', ' ') if cfg.instruction else ''}; {cfg.parse} parsing; temperature "
             f"{cfg.temperature:g}; announced each round: the {cfg.announce}; history: {cfg.history}"
             f"{'; the famous-game note' if cfg.famous_note else ''}; equilibrium {report['equilibrium']:g}.",
             f"Players by model group: {models}." + (f" Population: `{cfg.population}`." if cfg.population else ""),
             ""]
    for run in runs:
        if not run["complete"]:
            lines.append(f"- **seed {run['seed']}** is unfinished ({len(run['rounds'])} of {cfg.rounds} rounds): "
                         "`smallville game resume` goes on")
        lines += [f"- **seed {run['seed']}**: {note}" for note in run["notes"]]
    return lines


def _rounds_table(report: dict[str, Any]) -> list[str]:
    lines = ["| round | valid | invalid | failed | mean | median | std | min | max | target | winner | "
             "within 0.5 | at most 1 | below prev. announced | repeating it |", "|" + " --- |" * 15]
    for agg in report["aggregate"]:
        r = agg["r"]
        valid = [run["rounds"][r - 1]["n"] for run in report["runs"] if len(run["rounds"]) >= r]
        per_seed = sum(valid) / len(valid) if valid else 0
        per_seed = int(per_seed) if per_seed == int(per_seed) else per_seed  # one seed: a count, not 6.0
        lines.append(f"| {r} | {_num(per_seed, 1)} | {_num(agg['invalid']['mean'], 1)} "
                     f"| {_num(agg['failed']['mean'], 1)} "
                     f"| {_cell(agg['mean'])} | {_cell(agg['median'])} | {_cell(agg['std'])} | {_cell(agg['min'])} "
                     f"| {_cell(agg['max'])} | {_cell(agg['target'])} | {_cell(agg['winner'])} "
                     f"| {_cell(agg['share_within_half'], True)} | {_cell(agg['share_at_most_1'], True)} "
                     f"| {_cell(agg['share_below_previous_announced'], True)} "
                     f"| {_cell(agg['share_repeating_announced'], True)} |")
    lines += ["", "Means over seeds ± the half-width of the 95% t-interval (none with one seed). `valid`, `invalid` "
              "and `failed` are turns per seed: answered with a number, or giving none (the model's answer never "
              "fitted; the call failed): the last two are not in the mean, which is over valid answers. The "
              "target is the ratio times the mean (plus the offset), the paper's \"winning number\"; the winner "
              "is the answer closest to it (of two "
              "equally close, the lower). `repeating it`: answers equal to the previous announced number as the "
              "players read it (two decimals).", ""]
    return lines


def _paper(report: dict[str, Any], cfg: GuessSettings) -> list[str]:
    given = report["paper"]
    agg = report["aggregate"]
    lines = [f"## Beside the paper ({given['source']})", ""]
    first = agg[0] if agg else None
    if "round1_mean" in given and first is not None:
        lines += [f"Round-1 mean reported number, {cfg.variant}:", "", "| model | mean |", "| --- | --- |"]
        lines += [f"| {model} (paper) | {value:.2f} |" for model, value in given["round1_mean"].items()]
        lines += [f"| **this study** | **{_cell(first['mean'])}** |", ""]
    if "round_means" in given and len(agg) > 1:
        shown = min(5, len(agg))
        head = " | ".join(f"r{i}" for i in range(1, shown + 1))
        lines += [f"Mean per round, {cfg.variant}:", "", f"| model | {head} |", "|" + " --- |" * (shown + 1)]
        for model, values in given["round_means"].items():
            lines.append(f"| {model} (paper) | " + " | ".join(_num(v) for v in values[:shown]) + " |")
        lines += ["| **this study** | " + " | ".join(_num(a["mean"]["mean"]) for a in agg[:shown]) + " |", ""]
    if "ratio_test_winning_number" in given and first is not None:
        test = given["ratio_test_winning_number"]
        lines += [f"Ratio test {test['test']}: the paper's winning number {test['value']:.2f}; this study's round-1 "
                  f"target {_cell(first['target'])} (winner {_cell(first['winner'])}).", ""]
    if "mixture" in given and len(report["runs"][0]["groups"]) > 1:
        mix = given["mixture"]
        lines += [f"Mixture ({mix['models']}): winning numbers by round "
                  f"{', '.join(f'{v:.2f}' for v in mix['winning_numbers'])}; "
                  f"{mix['share_below_previous_winner'] * 100:.1f}% went below the previous winner.", ""]
    if "temperature_qwen2_72b" in given and first is not None:
        sweep = "; ".join(f"{t}: mean {v['mean']:.2f}, std {v['std']:.2f}"
                          for t, v in given["temperature_qwen2_72b"].items())
        lines += [f"Temperature (1,000 Qwen2-72B agents, P2; median 15 throughout): {sweep}. This study at "
                  f"{cfg.temperature:g}: mean {_cell(first['mean'])}, std {_cell(first['std'])}, median "
                  f"{_cell(first['median'])}.", ""]
    if "response_tokens_llama3_8b" in given and first is not None:
        lines += [f"Response length: the paper's Llama3-8B {given['response_tokens_llama3_8b']:g} tokens per answer on "
                  f"{cfg.variant}; this study {_cell(first['response_tokens_mean'])} completion tokens per answer "
                  "(the answer calls; structured answers carry JSON around the number).", ""]
    if len(lines) == 2:
        lines += [f"The paper gives no figure for this game; its equilibrium is {given['equilibrium']:g}.", ""]
    return lines


def _breakdowns(report: dict[str, Any]) -> list[str]:
    run = report["runs"][0]
    lines: list[str] = []
    picks = sorted({0, len(run["rounds"]) - 1}) if run["rounds"] else []
    for i in picks:
        rnd = run["rounds"][i]
        if len(rnd["by_model"]) > 1 or rnd["by_attribute"]:
            lines += [f"## By model and by attribute, seed {run['seed']}, round {rnd['r']}", "",
                      "| slice | valid | invalid | failed | mean | median | std | within 0.5 | tokens/answer |",
                      "|" + " --- |" * 9]
            rows = [(f"model {m}", f) for m, f in rnd["by_model"].items()]
            rows += [(f"{a} = {v}", f) for a, cats in rnd["by_attribute"].items() for v, f in cats.items()]
            for name, f in rows:
                lines.append(f"| {name} | {f['n']:,} | {f['invalid']:,} | {f['failed']:,} | {_num(f['mean'])} "
                             f"| {_num(f['median'])} | {_num(f['std'])} | {_pct(f['share_within_half'])} "
                             f"| {_num(f['response_tokens_mean'], 1)} |")
            lines.append("")
    return lines


def summary(report: dict[str, Any], cfg: GuessSettings) -> str:
    lines = [*_describe(cfg, report), "", *_rounds_table(report), *_paper(report, cfg), *_breakdowns(report)]
    lines += ["## Speed", "", "| seed | round | wall s | calls | calls reused | calls/s | tokens/s |",
              "|" + " --- |" * 7]
    for perf in report["performance"]:
        lines += [f"| {perf['seed']} | {r['r']} | {r['wall_s']} | {r['calls']:,} | {r['calls_reused']:,} "
                  f"| {r['calls_per_s']} | {r['tokens_per_s']} |" for r in perf["rounds"]]
    lines.append("")
    examples = [(run["seed"], e) for run in report["runs"] for e in run["not_ok_examples"]][:5]
    if examples:
        lines += ["## Turns without a number (first few)", ""]
        for seed, e in examples:
            said = " ".join(e["said"].split())[:120].replace("`", "'")
            lines.append(f"- seed {seed}, round {e['r']}, agent {e['agent']}: {e['status']}: {e['error']}"
                         + (f" (said: `{said}`)" if said else ""))
        lines.append("")
    lines += [f"![{f}]({f})" for f in report["files"]]
    return "\n".join(lines) + "\n"
