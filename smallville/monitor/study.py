"""The diffusion study's reader: a study folder (`smallville eval diffusion --out DIR`) seen as one run.

Owns what the page says about a study: its seeds (each a town save under `runs/<seed>/save`, read by the
town reader: a seed that runs writes its own status), the workers that run them (host, pid, residents, CPU,
memory, calls in flight, restarts: one per resumed session), the phase it is in (running seeds,
interviewing, report written) and, once written, the report's figures beside the published ones.

A study has no manifest of its own: it is found by its layout (`detect`). Its plan (how many seeds, how
many days) is not on disk until the report, so its progress is that of the seeds found so far.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from smallville.monitor import readers as rd
from smallville.monitor.files import Found, mtime
from smallville.monitor.readers import Context
from smallville.monitor.town import TownReader

REPORT = "report.json"
#: an interview's recording written within this many seconds: the study is interviewing
INTERVIEWING_S = 60.0
_LEVELS = {"bad": 3, "warn": 2, "ok": 1, "idle": 0}


def detect(folder: Path) -> bool:
    if (folder / REPORT).is_file():
        return True
    runs = folder / "runs"
    if not runs.is_dir():
        return False
    return any((Path(e.path) / "save" / "manifest.json").is_file() for e in os.scandir(runs) if e.is_dir())


def _seeds(found: Found, ctx: Context) -> list[Found]:
    runs = found.path / "runs"
    try:
        names = sorted(e.name for e in os.scandir(runs) if e.is_dir())
    except OSError:
        return []
    seeds = []
    for name in names:
        save = runs / name / "save"
        if save.is_dir():
            seed = rd.identify(save, ctx.root, ctx.cache)
            if seed is not None:
                seeds.append(seed)
    return seeds


class StudyReader:
    kind = "diffusion"
    town = TownReader()

    def read(self, found: Found, ctx: Context) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
        memo = ctx.memo.get(("study", found.id))
        if memo is not None:
            return memo
        row = rd.base_row(found, "diffusion study")
        seeds = [self.town.read(seed, ctx) for seed in _seeds(found, ctx)]
        report, problem = ctx.cache.read(found.path / REPORT)
        report = report if isinstance(report, dict) else None
        problem = f"report.json: {problem}" if problem not in (None, "missing") else None
        states = [s["state"] for s in seeds]
        interviewing = any(age is not None and ctx.now - age < INTERVIEWING_S
                           for age in (mtime(p) for p in (found.path / "runs").glob("*/calls.jsonl")))
        running = [s for s in seeds if s["state"] == "running"]
        if running:
            state, why = "running", f"running {', '.join(_seed_name(s) for s in running)}"
        elif report is not None:
            state, why = "finished", "report written"
        elif interviewing:
            state, why = "running", "interviewing the residents"
        elif "crashed" in states:
            state, why = "crashed", "a seed's writer died: run the same `smallville eval diffusion` again to go on"
        else:
            state, why = "stopped", "stopped before its report: run the same `smallville eval diffusion` again"
        fractions = [s["progress"] for s in seeds if s.get("progress") is not None]
        worst = max((s["health"] for s in seeds), key=lambda h: _LEVELS.get(h["level"], 0), default=None)
        paces = [s["pace"] for s in running if s.get("pace")]
        etas = [s["eta_s"] for s in running if s.get("eta_s") is not None]
        row.update(
            state=state, why=why, seeds=len(seeds),
            progress=1.0 if report is not None else (sum(fractions) / len(fractions) if fractions else None),
            game_time=running[0]["game_time"] if running else None,
            pace=sum(paces) if paces else None, eta_s=max(etas) if etas else None,
            started=min((s["started"] for s in seeds if s.get("started")), default=mtime(found.path)),
            residents=max((s.get("residents") or 0 for s in seeds), default=0) or None,
        )
        if problem:
            row["health"] = {"level": "warn", "text": problem}
        elif worst is not None and _LEVELS.get(worst["level"], 0) >= 2:
            row["health"] = worst
        else:
            row["health"] = {"level": "ok" if state in ("running", "finished") else "idle", "text": why}
        result = (row, seeds, report)
        ctx.memo[("study", found.id)] = result
        return result

    def row(self, found: Found, ctx: Context) -> dict[str, Any]:
        return self.read(found, ctx)[0]

    def detail(self, found: Found, ctx: Context) -> dict[str, Any]:
        row, seeds, report = self.read(found, ctx)
        blocks: list[dict[str, Any]] = [rd.cards(None, [
            {"key": "progress", "label": "progress", "value": row["progress"], "fmt": "frac",
             "sub": f"{len(seeds)} seed(s) found"},
            {"key": "phase", "label": "phase", "value": row["why"], "fmt": "text"},
            {"key": "game_time", "label": "game time", "value": row["game_time"], "fmt": "text",
             "sub": "of the seed running"},
            {"key": "pace", "label": "pace", "value": row["pace"], "fmt": "pace", "sub": "game minutes per second"},
            {"key": "eta", "label": "time left", "value": row["eta_s"], "fmt": "dur", "sub": "for the seeds running"},
        ])]
        workers = []
        for seed in seeds:
            status = (seed.get("_") or {}).get("status") or {}
            process = status.get("process") or {}
            sessions = _sessions(Path(seed["path"]), ctx)
            live = seed["state"] == "running"
            workers.append({
                "name": _seed_name(seed), "link": seed["id"], "state": seed["state"], "progress": seed["progress"],
                "game_time": seed["game_time"], "pace": seed["pace"], "host": process.get("host"),
                "pid": process.get("pid") if live else None, "residents": seed.get("residents"),
                "cpu_pct": process.get("cpu_pct") if live else None, "rss_mb": process.get("rss_mb") if live else None,
                "in_flight": sum(int(e.get("in_flight", 0)) for e in status.get("endpoints", [])) if live else None,
                "restarts": max(0, sessions - 1) if sessions else None,
            })
        blocks.append(rd.table("Seeds and their workers", [
            ("name", "seed", "link"), ("state", "state", "pill"), ("progress", "progress", "frac"),
            ("game_time", "game time", "text"), ("pace", "pace", "pace"), ("host", "host", "text"),
            ("pid", "pid", "text"), ("residents", "agents", "int"), ("cpu_pct", "CPU %", "num"),
            ("rss_mb", "MB", "num"), ("in_flight", "in flight", "int"), ("restarts", "restarts", "int")],
            workers, key="workers", note=None if seeds else "no seed has started yet"))
        for seed in seeds:
            if seed["state"] == "running":
                seed_found = rd.identify(Path(seed["path"]), ctx.root, ctx.cache)
                if seed_found is not None:
                    detail = self.town.detail(seed_found, ctx)
                    for block in detail["blocks"]:
                        if block.get("key") in ("endpoints", "thoughts", "facts"):
                            blocks.append({**block, "title": f"{_seed_name(seed)}: {block['title']}"})
        if report is not None:
            blocks += _report_blocks(report)
        return {**row, "blocks": blocks}


def _seed_name(seed: dict[str, Any]) -> str:
    return Path(seed["path"]).parent.name


def _sessions(save: Path, ctx: Context) -> int:
    data, _ = ctx.cache.read(save / "inference.json")
    sessions = data.get("sessions") if isinstance(data, dict) else None
    return len(sessions) if isinstance(sessions, list) else 0


def _report_blocks(report: dict[str, Any]) -> list[dict[str, Any]]:
    aggregate: dict[str, Any] = report["aggregate"] if isinstance(report.get("aggregate"), dict) else {}
    given = report.get("baseline") or {}
    published = given.get("figures", {}) if isinstance(given, dict) else {}
    if not given and isinstance(report.get("paper"), dict):  # reports from before scenarios had baselines
        given, published = {"source": "Park et al. 2023"}, report["paper"]
    rows = []
    for key, cell in aggregate.items():
        if not isinstance(cell, dict):
            continue
        rows.append({"figure": key, "mean": cell.get("mean"), "ci95": cell.get("ci95"), "n": cell.get("n"),
                     "published": published.get(key) if isinstance(published, dict) else None})
    blocks = [rd.table("The report's figures", [
        ("figure", "figure", "text"), ("mean", "this study", "num"), ("ci95", "± 95%", "num"), ("n", "runs", "int"),
        ("published", str(given.get("source", "published")) if isinstance(given, dict) else "published", "num")],
        rows, key="report", note="report.json beside this folder's summary.md and plots")]
    notes = [f"{r.get('name')}: {n}" for r in report.get("runs", []) if isinstance(r, dict)
             for n in r.get("notes", []) if isinstance(n, str)]
    if notes:
        blocks.append(rd.kv("Notes", [(str(i + 1), n) for i, n in enumerate(notes[:20])]))
    return blocks


def register() -> None:
    rd.register(StudyReader(), detect=detect)
