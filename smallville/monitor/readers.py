"""Readers: what the page shows of each kind of run, registered by the kind its manifest names.

Owns the registry and the shapes every reader returns, so that a new kind of run (the round games, say)
adds its own reader in its own package and the page shows it without a line of JavaScript:

- a *row* for the list of runs: id, name, kind, state, progress, game time, pace, ETA, health;
- a *detail*: the row plus `blocks`, each one of a few generic shapes the page knows how to draw
  (`cards`, `table`, `bars`, `kv`, `note`, `histogram`, `series`; see the block helpers below).

A kind is the manifest's `kind` field, else its `format` without `smallville-` (a smallville save, format
`smallville-save`, is a `town` run; a round game's `smallville-game` is `game`); a folder of several runs
may hold a `study.json` instead, read the same way. Folders with neither are offered to each reader's
`detect` (a diffusion study is a folder of seed saves and a report). A kind nobody registered is shown by
the generic reader: its manifest's plain values, its lock, whatever its `status.json` says (a writer may
put `blocks` there itself) and the runs in its sub-folders.

A reader for a new kind lives with that kind (`smallville/games/monitor.py`, say) and has a `register()`
calling `register(reader)`; the monitor imports the modules named in `app.READER_MODULES`.

States: `running` (a writer holds the lock), `crashed` (the lock's holder is gone: killed or died),
`stopped` (let go before the end: resume goes on), `finished`, `corrupt` (a row with the reason), and
`unknown` (a lock taken on another host, or no way to tell).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from smallville.inference.settings import display_url
from smallville.monitor.files import (
    MANIFEST,
    STATUS,
    Found,
    JsonCache,
    Writer,
    looks_like_a_half_made_save,
    mtime,
    writer_of,
)

#: a running writer's status older than this (seconds) is stale: the process hangs or is stopped (SIGSTOP)
STALE_S = 10.0
STUDY = "study.json"
_SECRETISH = re.compile(r"key|token|secret|passw|credential|auth", re.IGNORECASE)


class Reader(Protocol):
    kind: str

    def row(self, found: Found, ctx: Context) -> dict[str, Any]: ...

    def detail(self, found: Found, ctx: Context) -> dict[str, Any]: ...


class Context:
    """What readers share for one look at the saves folder: the file cache and the time of the look."""

    def __init__(self, root: Path, cache: JsonCache, now: float | None = None):
        self.root, self.cache = root, cache
        self.now = time.time() if now is None else now
        self.memo: dict[Any, Any] = {}  # per look: a folder's reading shared by its row and its detail


_READERS: dict[str, Reader] = {}
_DETECTORS: list[tuple[str, Callable[[Path], bool]]] = []


def register(reader: Reader, detect: Callable[[Path], bool] | None = None) -> None:
    """Show runs of `reader.kind` with `reader`; `detect` claims folders that have no manifest."""
    _READERS[reader.kind] = reader
    if detect is not None:
        _DETECTORS[:] = [(k, d) for k, d in _DETECTORS if k != reader.kind] + [(reader.kind, detect)]


def reader_for(kind: str) -> Reader:
    return _READERS.get(kind, GENERIC)


def kinds() -> list[str]:
    return sorted(_READERS)


# -- finding runs ---------------------------------------------------------------------------------------------

def kind_of(manifest: dict[str, Any]) -> str:
    """The manifest's `kind`; else its `format`: `smallville-save` is a town run, `smallville-<x>` is `<x>`."""
    kind = manifest.get("kind")
    if isinstance(kind, str) and kind:
        return kind
    fmt = manifest.get("format")
    if fmt == "smallville-save":
        return "town"
    return fmt.removeprefix("smallville-") if isinstance(fmt, str) and fmt else "unknown"


def identify(folder: Path, root: Path, cache: JsonCache) -> Found | None:
    """The run in `folder`, or None when it holds none (any other folder under saves/ is left alone).
    A run is a folder with a `manifest.json` (or, for a study of several runs, a `study.json`)."""
    rid = folder.relative_to(root).as_posix()
    for name in (MANIFEST, STUDY):
        path = folder / name
        if not path.exists():
            continue
        manifest, problem = cache.read(path)
        if problem is not None:
            return Found(rid, folder, "town" if name == MANIFEST else "unknown", None, f"{name}: {problem}")
        if not isinstance(manifest, dict):
            return Found(rid, folder, "unknown", None, f"{name}: not a JSON object")
        return Found(rid, folder, kind_of(manifest), manifest)
    for kind, detect in _DETECTORS:
        try:
            if detect(folder):
                return Found(rid, folder, kind)
        except OSError:
            continue
    if looks_like_a_half_made_save(folder):
        return Found(rid, folder, "town", None, "no manifest.json: the run was stopped while its save was being "
                                                "made (start it again with --save naming this folder)")
    return None


def children(found: Found, ctx: Context, limit: int = 200) -> list[Found]:
    """The runs in the folders right under a run's folder (a study's seeds), at most `limit`."""
    try:
        entries = sorted(e.name for e in os.scandir(found.path) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []
    out = []
    for name in entries[:limit]:
        child = identify(found.path / name, ctx.root, ctx.cache)
        if child is not None:
            out.append(child)
    return out


def scan(root: Path, cache: JsonCache) -> list[Found]:
    """Every run directly under `root` (newest first by name, which starts with the date)."""
    try:
        entries = sorted((e for e in os.scandir(root) if e.is_dir(follow_symlinks=False)), key=lambda e: e.name,
                         reverse=True)
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        run = identify(Path(entry.path), root, cache)
        if run is not None:
            found.append(run)
    return found


# -- what every reader needs ---------------------------------------------------------------------------------

def run_state(found: Found, ctx: Context, *, complete: bool) -> tuple[str, str, Writer | None]:
    """(state, a few words why, the writer) from the lock and whether the run reached its end."""
    writer = writer_of(found.path, ctx.cache)
    if writer is not None:
        who = f"pid {writer.pid}" + (f" on {writer.host}" if writer.host else "")
        if writer.held:
            return "running", f"{who} writes it", writer
        if writer.held is None:
            return "unknown", f"locked by {who}; cannot tell from here whether it still runs", writer
        return "crashed", f"{who} died without letting go (killed?): smallville resume {found.path}", writer
    if complete:
        return "finished", "reached its end", None
    return "stopped", f"stopped before its end: smallville resume {found.path}", None


def status_of(found: Found, ctx: Context) -> tuple[dict[str, Any] | None, str | None]:
    """The run's status.json (None when it has none) and its problem, if it is unreadable."""
    data, problem = ctx.cache.read(found.path / STATUS)
    if problem == "missing":
        return None, None
    if problem is not None or not isinstance(data, dict):
        return None, f"status.json: {problem or 'not a JSON object'}"
    return data, None


def safe_value(key: str, value: Any) -> Any:
    """A manifest value as it may be shown: URLs masked, anything named like a secret hidden."""
    if _SECRETISH.search(key) and not key.endswith("_env"):
        return "***"
    if isinstance(value, str) and "://" in value:
        return display_url(value)
    return value


def base_row(found: Found, kind_label: str | None = None) -> dict[str, Any]:
    return {"id": found.id, "name": found.path.name, "kind": found.kind, "kind_label": kind_label or found.kind,
            "path": str(found.path), "state": "corrupt" if found.problem else "unknown", "why": found.problem or "",
            "progress": None, "game_time": None, "pace": None, "eta_s": None, "started": None,
            "health": {"level": "bad", "text": found.problem} if found.problem else {"level": "idle", "text": ""}}


def corrupt_detail(found: Found) -> dict[str, Any]:
    row = base_row(found)
    return {**row, "blocks": [{"type": "note", "tone": "bad", "text": f"This folder cannot be read: {found.problem}. "
                               "The monitor shows it as it is and changes nothing."}]}


# -- block helpers: the shapes the page draws ----------------------------------------------------------------

def cards(title: str | None, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Big figures: items are {key, label, value, fmt?, sub?, tone?}."""
    return {"type": "cards", "title": title, "items": items}


def table(title: str, columns: list[tuple[str, str, str]], rows: list[dict[str, Any]], *,
          note: str | None = None, key: str | None = None) -> dict[str, Any]:
    """columns are (key, label, fmt); fmt: text, int, num, s, pct, frac, pill, mb, bytes, time, ago, dur."""
    return {"type": "table", "title": title, "key": key, "note": note,
            "columns": [{"key": k, "label": label, "fmt": fmt} for k, label, fmt in columns], "rows": rows}


def bars(title: str, items: list[tuple[str, float]], *, of: float | None = None, unit: str = "",
         note: str | None = None, key: str | None = None) -> dict[str, Any]:
    """Horizontal bars: each (label, value), scaled to `of` (default: the largest value)."""
    return {"type": "bars", "title": title, "key": key, "of": of, "unit": unit, "note": note,
            "items": [{"label": label, "value": value} for label, value in items]}


def kv(title: str, items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {"type": "kv", "title": title, "items": [[k, v] for k, v in items]}


def note(text: str, tone: str = "info") -> dict[str, Any]:
    return {"type": "note", "text": text, "tone": tone}


def histogram(title: str, counts: list[int], width: float, *, marks: dict[str, float | None] | None = None,
              key: str | None = None, note: str | None = None) -> dict[str, Any]:
    """Counts in equal bins from 0 (bin k holds [k*width, (k+1)*width)), drawn as columns; `marks` are values
    drawn as vertical lines (mean, target)."""
    return {"type": "histogram", "title": title, "key": key, "note": note, "counts": counts, "width": width,
            "marks": {k: v for k, v in (marks or {}).items() if v is not None}}


def series(title: str, lines: list[dict[str, Any]], *, key: str | None = None, x_max: int | None = None,
           y_max: float | None = None, note: str | None = None) -> dict[str, Any]:
    """Lines over rounds: each {name, points: [[x, y], ...]} (a y of None is a gap)."""
    return {"type": "series", "title": title, "key": key, "note": note, "lines": lines, "x_max": x_max,
            "y_max": y_max}


# -- the generic reader: a kind nobody registered ------------------------------------------------------------

class GenericReader:
    """Any run folder of a kind no reader knows: its lock (or its sub-runs' locks: a study of seeds), whether
    its manifest says `complete`, its status.json's `progress` (tick/until_tick or fraction, game_time, pace,
    eta_s) and `blocks`, its manifest's plain values and the runs in its sub-folders."""

    kind = "unknown"

    def _read(self, found: Found, ctx: Context) -> tuple[dict[str, Any], dict[str, Any] | None]:
        row = base_row(found)
        if found.problem:
            return row, None
        status, problem = status_of(found, ctx)
        progress = (status or {}).get("progress") if isinstance((status or {}).get("progress"), dict) else {}
        assert isinstance(progress, dict)
        fraction = progress.get("fraction")
        if fraction is None and isinstance(progress.get("tick"), int) and progress.get("until_tick"):
            fraction = progress["tick"] / progress["until_tick"]
        complete = (status or {}).get("state") == "finished" or (found.manifest or {}).get("complete") is True
        state, why, writer = run_state(found, ctx, complete=complete)
        if state == "stopped":  # a study's folder has no lock of its own: its runs' locks tell
            subs = [run_state(c, ctx, complete=False) for c in children(found, ctx) if not c.problem]
            running = [w for s, _, w in subs if s == "running"]
            if running:
                state, why = "running", f"{len(running)} of its {len(subs)} runs running"
            elif subs and any(s == "crashed" for s, _, _ in subs):
                state, why = "crashed", "one of its runs' writers died"
        row.update(state=state, why=why, progress=fraction, game_time=progress.get("game_time"),
                   pace=progress.get("pace_recent") or progress.get("pace"),
                   eta_s=progress.get("eta_s") if state == "running" else None,
                   started=progress.get("started") or (writer.since if writer else None) or mtime(found.path))
        row["health"] = {"level": "warn", "text": problem} if problem else \
            {"level": "bad" if state == "crashed" else "ok" if state in ("running", "finished") else "idle",
             "text": why}
        return row, status

    def row(self, found: Found, ctx: Context) -> dict[str, Any]:
        return self._read(found, ctx)[0]

    def detail(self, found: Found, ctx: Context) -> dict[str, Any]:
        if found.problem:
            return corrupt_detail(found)
        row, status = self._read(found, ctx)
        plain = [(k, safe_value(k, v)) for k, v in (found.manifest or {}).items()
                 if isinstance(v, (str, int, float, bool)) or v is None]
        blocks = [note(f"No reader knows runs of kind {found.kind!r} yet: shown from their files alone.")]
        blocks += [b for b in (status or {}).get("blocks", []) if isinstance(b, dict)]
        subs = children(found, ctx)
        if subs:
            rows = []
            for child in subs:
                r = reader_for(child.kind).row(child, ctx)
                rows.append({"name": r["name"], "link": child.id, "kind": r["kind"], "state": r["state"],
                             "progress": r.get("progress"), "why": r.get("why")})
            blocks.append(table("Runs inside", [("name", "run", "link"), ("kind", "kind", "text"),
                                                ("state", "state", "pill"), ("progress", "progress", "frac"),
                                                ("why", "", "text")], rows, key="children"))
        blocks.append(kv("Manifest", plain[:40]))
        return {**row, "blocks": blocks}


GENERIC = GenericReader()
