"""What the monitor reads from disk: the run folders under the saves folder, their JSON files, their locks.

Owns finding runs and reading their files safely. Everything here is read-only and never raises for a bad
folder: a file that is missing, half-written, not JSON or not the shape expected becomes a `problem` string
that the page shows on the run's row. JSON files are cached by (size, mtime), so a page refreshed every
second re-reads only what changed.

Whether a writer runs is the save's lock (`persist/save.py`): the writer holds an `flock` on `<save>/lock`
for as long as it runs, and the kernel drops it when the process dies however it dies. The monitor must not
take that lock even for a moment (a `resume` starting at that instant would be refused), so it asks the
kernel who holds which lock (`/proc/locks`, matched by device and inode) and, where that file does not
exist, whether the pid the lock file names is alive on this host.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
STATUS = "status.json"
LOCK = "lock"
CHECKPOINTS = "checkpoints"
EVENTS = "events.jsonl"
#: at most this many bytes of one JSON file are read: a monitor must not be made to swallow a huge file
MAX_JSON_BYTES = 64 << 20


class JsonCache:
    """JSON files by path, re-read only when their size or mtime changes. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[Path, tuple[tuple[int, int], Any, str | None]] = {}

    def read(self, path: Path) -> tuple[Any, str | None]:
        """(the decoded JSON, None) or (None, why not): 'missing', 'not valid JSON (...)', ..."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None, "missing"
        except OSError as exc:
            return None, f"unreadable ({exc.strerror or exc})"
        key = (st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._files.get(path)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        data, problem = _decode(path, st.st_size)
        with self._lock:
            self._files[path] = (key, data, problem)
            if len(self._files) > 4096:  # folders come and go: forget the oldest half
                for old in list(self._files)[:2048]:
                    self._files.pop(old, None)
        return data, problem


def _decode(path: Path, size: int) -> tuple[Any, str | None]:
    if size > MAX_JSON_BYTES:
        return None, f"too large to read ({size / 2**20:.0f} MB)"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if not raw.strip():
        return None, "empty (half-written?)"
    try:
        return json.loads(raw.decode("utf-8")), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"not valid JSON ({exc})"


@dataclass(frozen=True)
class Writer:
    """Who writes a save, as its lock says: `held` is True (running), False (the holder is gone: it died),
    or None (cannot tell: a lock taken on another host)."""

    held: bool | None
    pid: int | None
    host: str | None
    since: float | None


def _kernel_locks() -> set[tuple[int, int, int]] | None:
    """(major, minor, inode) of every file some process holds a lock on, or None where /proc/locks is not."""
    try:
        text = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    held = set()
    for line in text.splitlines():
        parts = line.split()
        # '1: FLOCK  ADVISORY  WRITE 13878 fe:00:2147578 0 EOF' ('->' marks a waiter, not a holder)
        if len(parts) < 6 or parts[1] == "->":
            continue
        dev = parts[5].split(":")
        if len(dev) == 3:
            try:
                held.add((int(dev[0], 16), int(dev[1], 16), int(dev[2])))
            except ValueError:
                continue
    return held


def writer_of(folder: Path, cache: JsonCache) -> Writer | None:
    """The save's writer, or None when no lock file is there (no writer: the run ended or was stopped)."""
    path = folder / LOCK
    try:
        st = path.stat()
    except OSError:
        return None
    holder, _ = cache.read(path)
    holder = holder if isinstance(holder, dict) else {}
    pid = holder.get("pid") if isinstance(holder.get("pid"), int) else None
    host = holder.get("host") if isinstance(holder.get("host"), str) else None
    since = holder.get("since") if isinstance(holder.get("since"), (int, float)) else None
    locks = _kernel_locks()
    if locks is not None:
        held: bool | None = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino) in locks
        if not held and host not in (None, socket.gethostname()):
            held = None  # a lock taken through a network file system on another host: not in our table
    elif pid is not None and host == socket.gethostname():
        held = _alive(pid)
    else:
        held = None
    return Writer(held, pid, host, since)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def checkpoint_ticks(folder: Path) -> list[int]:
    """The ticks of the save's checkpoints (names only: nothing is read)."""
    try:
        names = os.listdir(folder / CHECKPOINTS)
    except OSError:
        return []
    ticks = []
    for name in names:
        if name.startswith("tick-") and name.endswith(".json") and name[5:-5].isdigit():
            ticks.append(int(name[5:-5]))
    return sorted(ticks)


def mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def folder_bytes(folder: Path, limit: int = 2000) -> int:
    """The size of a folder's files (at most `limit` files looked at: a size, not an audit)."""
    total, seen = 0, 0
    for root, _, files in os.walk(folder):
        for name in files:
            seen += 1
            if seen > limit:
                return total
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


@dataclass
class Found:
    """A run folder the scan found: its id (its path under the saves folder), kind, manifest and the
    problem that makes it unreadable, if any."""

    id: str
    path: Path
    kind: str
    manifest: dict[str, Any] | None = None
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def looks_like_a_half_made_save(folder: Path) -> bool:
    """A folder with a save's parts but no manifest: a run killed while its save was being made."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return False
    return bool(names & {LOCK, EVENTS, CHECKPOINTS, MANIFEST + ".tmp", "calls.jsonl"})


def age(ts: float | None, now: float | None = None) -> float | None:
    return None if ts is None else max(0.0, (time.time() if now is None else now) - ts)
