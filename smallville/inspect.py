"""A save at a glance: what `smallville inspect` prints. It sits beside the CLI, above the run
machinery, because it reads a save together with the scenario the run seeded.

Owns the summary of a save (residents, ticks covered, events by kind, size, checkpoints, whether the
run reached its target and whether a crash tore the log's last line), computed from the files only.
A log or recording shorter than the newest checkpoint says (`Save.check_log`, the check resume makes)
is shown as a warning line and listed in `problems`: the ticks shown are then not the whole run.
"""

from __future__ import annotations

from typing import Any

from smallville.agents.report import render_minds, summarize_minds
from smallville.persist.save import Save


def summarize(save: Save) -> dict[str, Any]:
    scan, problems = save.read_checked_log()
    manifest = save.manifest
    clock = save.clock()
    first, last = scan.first_tick, scan.last_tick
    checkpoints = save.checkpoint_ticks()
    target = manifest.get("target_tick")
    return {
        "save": str(save.root),
        "world": manifest.get("world"),
        "seed": manifest.get("seed"),
        "schema_version": manifest.get("schema_version"),
        "residents": save.resident_names(),
        "first_tick": first,
        "last_tick": last,
        "first_time": clock.label(first) if first is not None else None,
        "last_time": clock.label(last) if last is not None else None,
        "target_tick": target,
        # a log cut back before its checkpoints is not a complete run, whatever the checkpoints say
        "complete": bool(checkpoints) and target is not None and checkpoints[-1] >= target and not problems,
        "events": dict(sorted(scan.counts.items())),
        "events_total": len(scan.events),
        "checkpoints": len(checkpoints),
        "last_checkpoint_tick": checkpoints[-1] if checkpoints else None,
        "torn_tail_bytes": scan.torn_tail_bytes,
        "problems": [str(p) for p in problems],
        "bytes": save.size_bytes(),
        "minds": summarize_minds(scan.events, _scenario(save.settings())),
    }


def _scenario(settings: Any) -> Any:
    """The scenario the run seeded, if it can still be read (a summary never fails for want of it)."""
    from smallville.errors import SmallvilleError
    from smallville.run.assemble import scenario_for

    try:
        return scenario_for(settings)
    except (SmallvilleError, OSError):
        return None


def render(summary: dict[str, Any]) -> str:
    lines = [
        f"save        {summary['save']}",
        f"world       {summary['world']} (seed {summary['seed']}, schema {summary['schema_version']})",
        f"residents   {len(summary['residents'])}: {', '.join(summary['residents'])}",
        f"ticks       {summary['first_tick']} .. {summary['last_tick']}"
        f"  ({summary['first_time']} .. {summary['last_time']})",
        f"target      tick {summary['target_tick']}  {'complete' if summary['complete'] else 'unfinished'}",
        f"checkpoints {summary['checkpoints']} (last at tick {summary['last_checkpoint_tick']})",
        f"events      {summary['events_total']:,}: "
        + ", ".join(f"{k} {v:,}" for k, v in summary["events"].items()),
        f"size        {summary['bytes'] / 1e6:.2f} MB",
        *render_minds(summary.get("minds", {})),
    ]
    for problem in summary.get("problems", []):
        lines.append(f"warning     {problem}; `smallville resume` refuses this save")
    if summary["torn_tail_bytes"]:
        torn = summary["torn_tail_bytes"]
        lines.append(f"note        a crash tore the log's last line ({torn} bytes); "
                     "`smallville resume` repairs it")
    return "\n".join(lines)
