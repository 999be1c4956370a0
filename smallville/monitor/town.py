"""The town run's reader: a smallville save, live from its `status.json`, past from its files alone.

Owns what the page says about one run of the town: where it stands (tick, game time, pace, ETA), whether
it is healthy (its writer alive and writing, its servers in rotation, its calls answered), which server is
the bottleneck, what the residents are thinking about and how far the seeded news went. A finished run
without a status file (made before the monitor existed) is read from its manifest, checkpoints,
`inference.json` and, once and cached, its event log.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from smallville.core.clock import Clock
from smallville.inference.settings import display_url
from smallville.monitor import readers as rd
from smallville.monitor.files import EVENTS, MAX_JSON_BYTES, Found, checkpoint_ticks, folder_bytes, mtime
from smallville.monitor.readers import Context

_THINKING = {"day": "planning their day", "block": "planning the hour", "rate": "rating memories",
             "reflect": "reflecting", "talk": "talking", "replan": "re-planning"}
_LOG_SUMMARIES: dict[tuple[str, int, int], dict[str, Any]] = {}
_LOG_LOCK = threading.Lock()


def _clock(manifest: dict[str, Any]) -> Clock | None:
    sim = (manifest.get("settings") or {}).get("sim") or {}
    try:
        start = datetime.fromisoformat(str(sim.get("start", "2023-02-13T00:00:00")))
        return Clock(start, int(sim.get("tick_seconds", 10)))
    except (TypeError, ValueError):
        return None


def _hm(label: str | None) -> str | None:
    """'08:15' of 'Mon 13 Feb 2023 08:15' (the clock's label)."""
    return label.rsplit(" ", 1)[-1] if label else None


def _day(label: str | None) -> str | None:
    """'Mon 13 Feb 2023' of 'Mon 13 Feb 2023 08:15'."""
    return label.rsplit(" ", 1)[0] if label and " " in label else None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def waiting_share(status: dict[str, Any] | None) -> float | None:
    """The share of this drive's wall time the ticks spent waiting for thoughts (None before any figure)."""
    waited = (status or {}).get("waited_s") or {}
    elapsed = ((status or {}).get("progress") or {}).get("elapsed_s") or 0
    return min(1.0, sum(waited.values()) / elapsed) if elapsed and elapsed > 5 else None


def bottleneck(endpoints: list[dict[str, Any]], share_waiting: float | None) -> str | None:
    """The server holding the run back, or None when none is. A server with 80% or more of its concurrency in
    use is one whatever else; otherwise only a run whose ticks wait for the model most of the time
    (`share_waiting` >= 0.5) is held back by a server: then the slowest one by p95 among those answering."""
    saturated = [((e["in_flight"] + e.get("queued", 0)) / e["max_concurrency"], e["name"]) for e in endpoints
                 if e.get("max_concurrency") and e.get("in_flight") is not None
                 and e["in_flight"] / e["max_concurrency"] >= 0.8]
    if saturated:
        return max(saturated)[1]
    if share_waiting is None or share_waiting < 0.5:
        return None
    answered = [(e.get("p95_s") or 0.0, e["name"]) for e in endpoints if e.get("requests")]
    return max(answered)[1] if answered else None


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def health(state: str, why: str, status: dict[str, Any] | None, status_age: float | None,
           problem: str | None) -> dict[str, Any]:
    """One word (ok, warn, bad, idle) and the reason a researcher reads first. Only what is going wrong now
    warns: a call that failed an hour ago and was answered elsewhere is counted, not alarmed about; a thought
    that waits long behind a slow server is shown (the thinking card, the bottleneck), not alarmed about: a
    server that never answers ends in timeouts, which are errors."""
    if state == "corrupt":
        return {"level": "bad", "text": why}
    if state == "crashed":
        return {"level": "bad", "text": "the writer died: " + why}
    if problem:
        return {"level": "warn", "text": problem}
    if state != "running":
        return {"level": "ok" if state == "finished" else "idle", "text": why}
    if status is None:
        return {"level": "warn", "text": "running, but it writes no status.json (a smallville from before the "
                                         "monitor?): progress from checkpoints only"}
    if status_age is not None and status_age > rd.STALE_S:
        return {"level": "warn", "text": f"no status for {status_age:.0f} s: the process hangs or is stopped"}
    endpoints = status.get("endpoints", [])
    out = [e["name"] for e in endpoints if e.get("breaker") == "open"]
    if out:
        return {"level": "bad", "text": f"out of rotation (breaker open): {', '.join(out)}"}
    calls = status.get("calls") or {}
    warnings = []
    if calls.get("failed_recent"):
        warnings.append(f"{_plural(calls['failed_recent'], 'call')} failed in the last 10 s")
    failing = [f"{e['name']} ({e['errors_recent']})" for e in endpoints if e.get("errors_recent")]
    if failing:
        warnings.append(f"request errors in the last 10 s: {', '.join(failing)}")
    if warnings:
        return {"level": "warn", "text": "; ".join(warnings)}
    text = "healthy: writing every second, servers answering"
    if calls.get("failed"):
        text += f" ({calls['failed']:,} of {calls.get('calls', 0):,} calls failed in all)"
    return {"level": "ok", "text": text}


class TownReader:
    kind = "town"

    def read(self, found: Found, ctx: Context) -> dict[str, Any]:
        """The row, with what the detail also needs under `_` (dropped before the row is sent)."""
        memo = ctx.memo.get(("town", found.id))
        if memo is not None:
            return memo
        row = rd.base_row(found, "town run")
        if found.problem or found.manifest is None:
            ctx.memo[("town", found.id)] = row
            return row
        manifest = found.manifest
        status, problem = rd.status_of(found, ctx)
        if status is not None and (schema := status.get("schema")) != 1:
            status, problem = None, f"status.json: schema {schema!r}, this monitor reads 1"
        ticks = checkpoint_ticks(found.path)
        target = manifest.get("target_tick") if isinstance(manifest.get("target_tick"), int) else None
        complete = bool(ticks) and target is not None and ticks[-1] >= target
        state, why, writer = rd.run_state(found, ctx, complete=complete)
        progress = (status or {}).get("progress") or {}
        if state == "running" and status is not None and status.get("state") in ("finished", "stopped"):
            status = {**status, "state": "running"}  # a new drive that has not written yet: the lock decides
        tick = max([t for t in (progress.get("tick"), ticks[-1] if ticks else None) if isinstance(t, int)],
                   default=None)
        clock = _clock(manifest)
        written = (status or {}).get("written")
        status_age = ctx.now - written if isinstance(written, (int, float)) else None
        started = _first(mtime(found.path / "checkpoints" / "tick-000000000.json"), mtime(found.path / "manifest.json"))
        names = (manifest.get("residents") or {}).get("names") or []
        settings = manifest.get("settings") or {}
        schema = manifest.get("schema_version")
        from smallville.core.events import SCHEMA_VERSION

        if manifest.get("format") == "smallville-save" and schema != SCHEMA_VERSION:
            problem = f"schema version {schema!r}; this smallville reads {SCHEMA_VERSION}"
        row.update(
            state=state, why=why,
            progress=round(min(1.0, tick / target), 5) if tick is not None and target else None,
            tick=tick, target=target, seed=manifest.get("seed"), residents=len(names),
            mind=(settings.get("agents") or {}).get("mind"),
            game_time=_first(progress.get("game_time") if tick == progress.get("tick") else None,
                             clock.label(tick) if clock and tick is not None else None),
            end_time=clock.label(target) if clock and target is not None else None,
            pace=progress.get("pace"),  # this drive's average: the last 10 s of a waiting run say 0
            eta_s=progress.get("eta_s") if state == "running" else None,
            started=started, status_age=round(status_age, 1) if status_age is not None else None,
            health=health(state, why, status, status_age, problem),
            thinking=(status or {}).get("hud", {}).get("thinking") if state == "running" else None,
        )
        if state == "running" and status is not None:
            row["waiting"] = waiting_share(status)
            row["bottleneck"] = bottleneck(status.get("endpoints", []), row["waiting"])
            row["calls_per_s"] = (status.get("calls") or {}).get("calls_per_s")
        row["_"] = {"status": status, "writer": writer, "ticks": ticks, "clock": clock, "problem": problem}
        ctx.memo[("town", found.id)] = row
        return row

    def row(self, found: Found, ctx: Context) -> dict[str, Any]:
        return {k: v for k, v in self.read(found, ctx).items() if k != "_"}

    def detail(self, found: Found, ctx: Context) -> dict[str, Any]:
        if found.problem or found.manifest is None:
            return rd.corrupt_detail(found)
        full = self.read(found, ctx)
        row = {k: v for k, v in full.items() if k != "_"}
        inner = full["_"]
        status: dict[str, Any] | None = inner["status"]
        live = row["state"] == "running" and status is not None
        blocks: list[dict[str, Any]] = []
        if inner["problem"]:
            blocks.append(rd.note(inner["problem"], "warn"))
        hud = (status or {}).get("hud") or {}
        calls = (status or {}).get("calls") or {}
        thoughts = (status or {}).get("thoughts") or {}
        fallbacks = (status or {}).get("fallbacks") or {}
        minds = None if status is not None else _log_summary(found)
        recent = ((status or {}).get("progress") or {}).get("pace_recent")
        if minds:
            fallbacks = minds.get("fallbacks", {})
        blocks.append(rd.cards(None, [
            {"key": "game_time", "label": "game time", "value": _hm(row["game_time"]), "fmt": "clock",
             "sub": _day(row["game_time"]), "title": row["game_time"]},
            {"key": "progress", "label": "progress", "value": row["progress"], "fmt": "frac",
             "sub": f"to {_day(row['end_time'])} {_hm(row['end_time'])}" if row.get("end_time") else None,
             "title": f"tick {row['tick']:,} of {row['target']:,}" if row.get("tick") is not None
             and row.get("target") else None},
            {"key": "pace", "label": "pace", "value": _first(recent, row["pace"]) if live else row["pace"],
             "fmt": "pace", "sub": f"game min/s ({row['pace']:.2g} avg)" if live and row["pace"] is not None
             else "game minutes per second"},
            {"key": "eta", "label": "time left", "value": row["eta_s"], "fmt": "dur",
             "sub": "at the pace of the last 10 s" if live else row["state"]},
            {"key": "calls_per_s", "label": "calls / s", "value": calls.get("calls_per_s") if live else None,
             "fmt": "num", "sub": f"{calls.get('calls', 0):,} calls in all" if calls else None},
            {"key": "tokens_per_s", "label": "tokens / s", "value": hud.get("tokens_per_s") if live else None,
             "fmt": "int", "sub": f"{calls.get('prompt_tokens', 0) + calls.get('completion_tokens', 0):,} tokens"
             if calls else None},
            {"key": "thinking", "label": "thinking", "value": thoughts.get("in_flight") if live else None,
             "fmt": "int", "sub": f"oldest {thoughts['oldest_s']:.0f} s" if live and thoughts.get("oldest_s")
             is not None else "thoughts in flight"},
            {"key": "fallbacks", "label": "fallbacks", "value": sum(int(v) for v in fallbacks.values()),
             "fmt": "int", "tone": "warn" if fallbacks else None, "sub": "defaults for answers"},
        ]))
        blocks.append(_endpoints_block(found, ctx, status, live, row.get("bottleneck")))
        if live:
            by_kind = thoughts.get("by_kind") or {}
            blocks.append(rd.bars("Thinking now", [(_THINKING.get(k, k), v) for k, v in by_kind.items()],
                                  key="thoughts", note=None if by_kind else "nothing in flight"))
        waited = (status or {}).get("waited_s") or {}
        if waited:
            share = waiting_share(status)
            said = f"the ticks waited for the model {share:.0%} of this drive's wall time" if share else None
            blocks.append(rd.bars("Waiting for the model, by thought",
                                  [(_THINKING.get(k, k), v) for k, v in waited.items()], unit="s", key="waited",
                                  note=said))
        purposes = (status or {}).get("purposes") or {}
        if purposes:
            blocks.append(rd.table("Calls by purpose", [
                ("purpose", "purpose", "text"), ("calls", "calls", "int"), ("failed", "failed", "int"),
                ("retries", "retries", "int"), ("invalid_answers", "re-asked (invalid)", "int"),
                ("latency_s_p50", "p50", "s"), ("latency_s_p95", "p95", "s")],
                [{"purpose": k, **v} for k, v in purposes.items()], key="purposes"))
        facts = (status or {}).get("facts") or {}
        residents = row.get("residents") or 0
        if minds and minds.get("facts"):
            facts = {fid: {"holders": len(who)} for fid, who in minds["facts"].items()}
        if facts:
            blocks.append(rd.bars("Who holds the seeded news", [(fid, f["holders"]) for fid, f in facts.items()],
                                  of=residents or None, unit=f"of {residents}", key="facts"))
        if fallbacks:
            blocks.append(rd.bars("Fallbacks by step", sorted(fallbacks.items(), key=lambda kv: -kv[1]),
                                  key="fallbacks"))
        blocks.append(_run_facts(found, row, inner, status, minds))
        return {**row, "blocks": blocks}


def _endpoints_block(found: Found, ctx: Context, status: dict[str, Any] | None, live: bool,
                     slowest: str | None) -> dict[str, Any]:
    # the name carries its model and URL on a second line (`name_sub`): the figures need the width
    columns = [("name", "server", "text"), ("breaker", "breaker", "pill"),
               ("in_flight", "in flight", "load"), ("p50_s", "p50", "s"), ("p95_s", "p95", "s"),
               ("calls_per_s", "calls/s", "num"), ("tokens_per_s", "tok/s", "int"), ("requests", "requests", "int"),
               ("errors", "errors", "int")]
    if status is not None and status.get("endpoints"):
        rows = []
        for e in status["endpoints"]:
            e = dict(e)
            e["url"] = display_url(e["url"]) if e.get("url") else None
            e["name_sub"] = " · ".join(str(x) for x in (e.get("model"), e["url"]) if x)
            e["role"] = "bottleneck" if live and e["name"] == slowest else None
            e["name_pill"] = e["role"]
            if live and e.get("queued"):
                e["in_flight_sub"] = f"{e['queued']:,} queued"
            if not live:
                e["in_flight"], e["calls_per_s"], e["tokens_per_s"] = None, None, None
            if e.get("errors"):
                kinds = ", ".join(f"{k} {v}" for k, v in (e.get("error_kinds") or {}).items())
                e["errors_note"] = kinds
            rows.append(e)
        return rd.table("Model servers", columns, rows, key="endpoints",
                        note=None if live else "as the run left them (latency of its last session)")
    return _endpoints_from_files(found, ctx, columns)


def _endpoints_from_files(found: Found, ctx: Context, columns: list[tuple[str, str, str]]) -> dict[str, Any]:
    """A past run's servers: the manifest's (URLs masked as saved) with inference.json's counts."""
    data, _ = ctx.cache.read(found.path / "inference.json")
    sessions = data.get("sessions", []) if isinstance(data, dict) else []
    counted: dict[str, dict[str, Any]] = {}
    for session in sessions if isinstance(sessions, list) else []:
        for name, e in (session.get("by_endpoint") or {}).items() if isinstance(session, dict) else ():
            row = counted.setdefault(name, {"name": name, "requests": 0, "errors": 0})
            row["requests"] += int(e.get("requests", 0))
            row["errors"] += int(e.get("errors", 0))
            row["p50_s"], row["p95_s"] = e.get("latency_s_p50"), e.get("latency_s_p95")
    endpoints = ((found.manifest or {}).get("settings") or {}).get("inference", {}).get("endpoints") or []
    for e in endpoints if isinstance(endpoints, list) else []:
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            row = counted.setdefault(e["name"], {"name": e["name"]})
            row["url"] = display_url(str(e.get("base_url", ""))) or None
            row["model"] = e.get("model")
            row["name_sub"] = " · ".join(str(x) for x in (row["model"], row["url"]) if x)
    if not counted:
        return rd.note("No model servers recorded (a routine run, or the embedded model before any call).")
    return rd.table("Model servers", columns, list(counted.values()), key="endpoints",
                    note="from the save: requests summed over its sessions, latency of the last one")


def _run_facts(found: Found, row: dict[str, Any], inner: dict[str, Any], status: dict[str, Any] | None,
               minds: dict[str, Any] | None) -> dict[str, Any]:
    manifest = found.manifest or {}
    agents = (manifest.get("settings") or {}).get("agents") or {}
    ticks, writer = inner["ticks"], inner["writer"]
    process = (status or {}).get("process") or {}
    items: list[tuple[str, Any]] = [
        ("save", str(found.path)), ("state", f"{row['state']}: {row['why']}"), ("seed", manifest.get("seed")),
        ("residents", row.get("residents")), ("mind", agents.get("mind")),
        ("conversations", (status or {}).get("conversations", (minds or {}).get("conversations"))),
        ("reflections", (status or {}).get("reflections", (minds or {}).get("reflections"))),
        ("checkpoints", f"{len(ticks)} (last at tick {ticks[-1]:,})" if ticks else "none"),
        ("size", f"{folder_bytes(found.path) / 1e6:.1f} MB"),
    ]
    if writer is not None:
        items.append(("writer", f"pid {writer.pid} on {writer.host}"))
    if process and row["state"] == "running":
        cpu = process.get("cpu_pct")
        items.append(("process", f"pid {process.get('pid')} on {process.get('host')}, "
                                 f"CPU {cpu if cpu is not None else '?'}%, {process.get('rss_mb')} MB"))
    return rd.kv("This run", items)


def _log_summary(found: Found) -> dict[str, Any] | None:
    """What the minds did, from the event log (a past run without status.json), cached by the log's size."""
    path = found.path / EVENTS
    try:
        st = path.stat()
    except OSError:
        return None
    if st.st_size > MAX_JSON_BYTES:  # a long run's log: its figures are in `smallville inspect`, not worth a stall
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _LOG_LOCK:
        if key in _LOG_SUMMARIES:
            return _LOG_SUMMARIES[key]
    summary: dict[str, Any] | None
    try:
        from smallville.agents.report import summarize_minds
        from smallville.persist.eventlog import read_log

        scan = read_log(path)
        summary = summarize_minds(scan.events, _scenario(found))
    except Exception:  # a log the monitor cannot read is shown without these figures, never as a crash
        summary = None
    with _LOG_LOCK:
        _LOG_SUMMARIES[key] = summary or {}
    return summary


def _scenario(found: Found) -> Any:
    try:
        from smallville.config import settings_from_manifest
        from smallville.run.assemble import scenario_for

        settings = settings_from_manifest((found.manifest or {}).get("settings"), found.path / "manifest.json")
        return scenario_for(settings)
    except Exception:
        return None


def register() -> None:
    rd.register(TownReader())
