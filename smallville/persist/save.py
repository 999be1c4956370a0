"""A save directory: manifest, event log and checkpoints, and how a run is created and resumed.

Layout of `saves/<run>/`:
- `manifest.json`: schema version, seed, settings, the map's and residents' paths and hashes, the
  run's target tick. Written atomically (temp file + rename), never executed: JSON only, no pickle.
- `events.jsonl`: the append-only event log (`eventlog.py`).
- `checkpoints/tick-NNNNNNNNN.json`: the full simulation state after a tick, with the byte length of
  the log at that moment. Written atomically after the log is fsynced, so a checkpoint never refers
  to events that might be lost.
- `checkpoints/tick-NNNNNNNNN.vectors.npz`: the memory embeddings of a generative run at that
  checkpoint, one float32 array per resident (numpy's format, read with `allow_pickle=False`), written
  before the JSON; only the two newest are kept (about 10 MB each for the town's 25 after a day).
- `calls.jsonl` and `inference.json` (generative runs): every model call, and the accounting per session.
  A checkpoint also records the length of `calls.jsonl` (`calls_bytes`, whole lines, fsynced first).
- `lock` (only while a writer runs): the pid, host and start time of the one process writing the save.

One writer at a time: a run or a resume holds `lock` with `flock` on a descriptor it keeps open for
the whole drive (`SaveLock`), so a second writer is refused with one line naming the first one's pid,
before it reads or changes anything, and the kernel drops the lock of a process that dies however it
dies (a kill -9 leaves the file, not the lock: the next writer takes it over). Readers (inspect,
replay, eval) take no lock. A writer removes the file when it lets go.

Resuming takes the newest checkpoint, cuts the log back to its length (events after it are simply
simulated again, identically) and `calls.jsonl` back to its `calls_bytes` (those calls are made again,
with the same occurrence numbers; checkpoints written before that field existed leave the recording as
it is), and goes on: no tick is missing or duplicated, whenever the crash. Everything is checked before
anything is changed, so a save that cannot be resumed is left untouched. `Save.check_log` is the check
of the log against the newest checkpoint that resume, inspect and eval share: a log cut back before
its checkpoint is a problem they all see.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import stat
import time
import weakref
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from smallville.config import Settings, resolve_path, settings_from_manifest
from smallville.core.clock import Clock
from smallville.core.events import SCHEMA_VERSION
from smallville.errors import SaveError, SaveInUse
from smallville.files import atomic_write_json
from smallville.inference.record import CALLS_FILE
from smallville.inference.settings import InferenceSettings
from smallville.persist.eventlog import LogScan, read_log, truncate

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
CHECKPOINTS = "checkpoints"
LOCK = "lock"
FORMAT = "smallville-save"
_CHECKPOINT_RE = re.compile(r"^tick-(\d{9})\.json$")


def _thought_of(line: bytes) -> int | None:
    """The thought (job id) a line of `calls.jsonl` was made for, if it names one."""
    if b'"thought"' not in line:  # most lines: no JSON parse needed
        return None
    try:
        thought = json.loads(line).get("thought")
    except (ValueError, AttributeError):
        return None
    return thought if isinstance(thought, int) else None


def _dropped_line(line: bytes, thought: int | None) -> bytes:
    """A recorded call's line made a `{"dropped": thought}` line of the same length (JSON allows the spaces)."""
    mark = json.dumps({"dropped": thought}).encode()
    return mark + b" " * max(0, len(line) - len(mark) - 1) + b"\n"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SaveError(path, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise SaveError(path, f"not valid JSON ({exc})", line=line) from None


def _holder_line(holder: dict[str, Any]) -> str:
    """'in use by another smallville (pid 1234 on host, since 15:02)': what a refused writer is told."""
    pid, host, since = holder.get("pid"), holder.get("host"), holder.get("since")
    who = f"pid {pid}" if isinstance(pid, int) else "pid unknown"
    if isinstance(host, str) and host:
        who += f" on {host}"
    if isinstance(since, (int, float)):
        started = datetime.fromtimestamp(since)
        who += ", since " + started.strftime("%H:%M" if started.date() == datetime.now().date() else "%Y-%m-%d %H:%M")
    mine = pid == os.getpid() and host == socket.gethostname()
    writer = "this process (an earlier writer that did not let go)" if mine else "another smallville"
    return f"in use by {writer} ({who}); wait for it or stop it"


def _read_holder(fd: int) -> dict[str, Any]:
    """The holder's record. It writes it just after taking the lock: a moment's wait covers that gap."""
    for _ in range(20):
        raw = os.pread(fd, 4096, 0)
        try:
            holder = json.loads(raw.decode("utf-8"))
            if isinstance(holder, dict):
                return holder
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
        time.sleep(0.01)
    return {}


def _let_go(path: Path, fd: int) -> None:
    """Remove the lock file (if it is still ours) and close the descriptor, which drops the flock."""
    try:
        mine = os.fstat(fd)
        now = os.stat(path)
        if (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino):
            path.unlink()
    except OSError:
        pass  # already gone, or the folder went read-only: the kernel still drops the lock below
    os.close(fd)


class SaveLock:
    """The one writer's hold on a save: an `flock` on `<save>/lock`, kept until `release()`.

    The lock lives on the open descriptor, not in the file: a process that dies however it dies (kill -9
    included) drops it, so staleness never needs guessing; the file only says who holds it, for the
    refusal's message. Released when the writer lets go, when the object is collected, or at exit.
    """

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd = fd
        self._finalizer = weakref.finalize(self, _let_go, path, fd)

    @property
    def held(self) -> bool:
        return self._finalizer.alive

    @classmethod
    def acquire(cls, root: Path) -> SaveLock:
        """Take the save's lock, or raise `SaveInUse` (naming the holder) / `SaveError`, changing nothing."""
        if not root.is_dir():
            raise SaveError(root, "no such save directory")
        _check_writable(root)
        path = root / LOCK
        while True:
            writable = True
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
            except PermissionError:  # another user's lock file: still enough to learn whether it is held
                writable = False
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
                except OSError as exc:
                    raise SaveError(path, f"cannot open the save's lock ({exc.strerror}); nothing was changed") \
                        from None
            except OSError as exc:
                raise SaveError(path, f"cannot open the save's lock ({exc.strerror}); nothing was changed") from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device put there: never read or write it
                os.close(fd)
                raise SaveError(path, "is not a plain file (the save's lock must be one); remove it and try again; "
                                      "nothing was changed")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                pid = holder.get("pid")
                raise SaveInUse(root, pid if isinstance(pid, int) else None, _holder_line(holder)) from None
            except OSError as exc:
                os.close(fd)
                raise SaveError(path, f"cannot lock the save ({exc.strerror}); nothing was changed") from None
            if not writable:  # free, but not ours to write
                os.close(fd)
                raise SaveError(path, "read-only (another user's lock file): a run writes into its save as it goes "
                                      "on; nothing was changed")
            # A holder letting go removes the file: if it did so between our open and our flock, we hold a
            # lock on a file nobody else will look at. Only the file still at the path counts.
            try:
                ours = os.fstat(fd)
                there = os.stat(path)
                if (ours.st_dev, ours.st_ino) == (there.st_dev, there.st_ino):
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": round(time.time(), 3)}
        data = (json.dumps(holder) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)  # a dead holder's record may be there: ours replaces it
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        return cls(path, fd)

    def release(self) -> None:
        """Let go: remove the file and drop the lock (idempotent)."""
        self._finalizer()


def _never_started(root: Path) -> bool:
    """An empty folder, or the skeleton a run leaves when it is killed while its save is being made (no
    manifest, no checkpoint, an empty log; a lock file nobody holds)."""
    if (root / MANIFEST).exists():
        return False
    for entry in root.iterdir():
        if entry.name == LOCK or entry.name.startswith(MANIFEST):  # a lock, or a manifest's unfinished .tmp
            continue
        if entry.name == CHECKPOINTS and entry.is_dir() and not any(entry.iterdir()):
            continue
        if entry.name == EVENTS and entry.is_file() and entry.stat().st_size == 0:
            continue
        return False
    return True


def _check_writable(path: Path) -> None:
    # os.access, not a trial write: a refused resume must not change a byte. (For root it says yes to
    # anything but a read-only file system, and root can indeed write there.)
    if path.exists() and not os.access(path, os.W_OK):
        raise SaveError(path, "read-only: a run writes into its save as it goes on; make it writable (or copy "
                              "the save) and try again; nothing was changed")


@dataclass(frozen=True)
class LogProblem:
    """A file of the save shorter than its newest checkpoint says: it was cut back or lost its end."""

    kind: Literal["events", "calls", "checkpoint"]
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def error(self, then: str) -> SaveError:
        return SaveError(self.path, f"{self.message}; {then}")


class Save:
    def __init__(self, root: Path, manifest: dict[str, Any]):
        self.root = root
        self.manifest = manifest
        self.lock: SaveLock | None = None  # held while this process writes the save
        # where a resume goes back to: the newest checkpoint's tick and the lengths it recorded
        self.resume_point: dict[str, Any] | None = None

    def settings(self, *, inference: InferenceSettings | None = None) -> Settings:
        """The settings the run was made with, checked as a config file is (`settings_from_manifest`:
        `inference`, the current config's, replaces the save's own masked endpoints for a run that thinks)."""
        return settings_from_manifest(self.manifest.get("settings"), self.root / MANIFEST, inference=inference)

    def clock(self) -> Clock:
        sim = self.settings().sim
        return Clock(sim.start, sim.tick_seconds)

    def resident_names(self) -> list[str]:
        """The residents in the order the run listed them (empty for a manifest that names none)."""
        return [str(n) for n in self.manifest.get("residents", {}).get("names", [])]

    def map_path(self) -> Path:
        """The map the run was made on, as the manifest names it (else the settings' map)."""
        return resolve_path(self.manifest.get("map", {}).get("path") or self.settings().town.map)

    @property
    def calls_path(self) -> Path:
        return self.root / CALLS_FILE

    @property
    def events_path(self) -> Path:
        return self.root / EVENTS

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / CHECKPOINTS

    # -- creating and opening -------------------------------------------------------------------

    @classmethod
    def create(cls, root: Path, manifest: dict[str, Any]) -> Save:
        """Make a new save at `root` (a folder that does not exist, is empty, or holds only the skeleton of a
        run killed while it was being made) and hold its writer lock, taken before anything is written: of
        two processes making one save at once, the second is refused in one line."""
        if root.exists() and not root.is_dir():
            raise SaveError(root, "names a file, not a folder; choose a folder for the new run")
        if root.exists() and not _never_started(root):
            raise SaveError(root, "directory exists and is not empty; choose another --save or resume it")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SaveError(root, f"cannot make the save folder ({exc.strerror or exc})") from None
        lock = SaveLock.acquire(root)
        try:
            if not _never_started(root):  # another process made it between our look and our lock
                raise SaveError(root, "directory exists and is not empty; choose another --save or resume it")
            (root / CHECKPOINTS).mkdir(exist_ok=True)
            (root / EVENTS).touch()
            full = {"format": FORMAT, "schema_version": SCHEMA_VERSION, **manifest}
            atomic_write_json(root / MANIFEST, full)
        except OSError as exc:
            lock.release()
            raise SaveError(root, f"cannot write the new save ({exc.strerror or exc})") from None
        except BaseException:
            lock.release()
            raise
        save = cls(root, full)
        save.lock = lock
        return save

    @classmethod
    def open(cls, root: Path) -> Save:
        if not root.is_dir():
            raise SaveError(root, "no such save directory")
        if _never_started(root):
            raise SaveError(root, "this run was stopped while its save was being made and never started; "
                                  "start it again with --save naming this folder")
        manifest = _read_json(root / MANIFEST)
        path = root / MANIFEST
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SaveError(path, "not a smallville save manifest")
        version = manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise SaveError(path, f"schema version {version!r}; this smallville reads version "
                                  f"{SCHEMA_VERSION}")
        for key in ("map", "residents", "settings"):
            if key in manifest and not isinstance(manifest[key], dict):
                raise SaveError(path, f"{key!r} must be an object, not {type(manifest[key]).__name__}")
        return cls(root, manifest)

    @classmethod
    def open_for_writing(cls, root: Path) -> Save:
        """Lock the save for this process (first of all: a save another writer holds is not even read),
        open it and check that it can be written; on any refusal the lock is let go and nothing changed."""
        lock = SaveLock.acquire(root)
        try:
            save = cls.open(root)
            save.lock = lock
            save.check_writable()
        except BaseException:
            lock.release()
            raise
        return save

    def lock_for_writing(self) -> SaveLock:
        """Hold the save's lock (taking it if this object does not hold it yet)."""
        if self.lock is None or not self.lock.held:
            self.lock = SaveLock.acquire(self.root)
        return self.lock

    def release_lock(self) -> None:
        """Let the save go (idempotent): the next writer may take it. Call when the drive ends."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def check_writable(self) -> None:
        """Raise `SaveError` for the first part of the save a run writes that this process cannot write."""
        for path in (self.root, self.root / MANIFEST, self.events_path, self.checkpoints_dir, self.calls_path,
                     self.root / "inference.json"):
            _check_writable(path)

    def update_manifest(self, **changes: Any) -> None:
        self.manifest.update(changes)
        atomic_write_json(self.root / MANIFEST, self.manifest)

    # -- checkpoints ----------------------------------------------------------------------------

    def checkpoint_ticks(self) -> list[int]:
        ticks = []
        for p in self.checkpoints_dir.glob("tick-*.json"):
            m = _CHECKPOINT_RE.match(p.name)
            if m:
                ticks.append(int(m.group(1)))
        return sorted(ticks)

    def write_checkpoint(self, tick: int, log_bytes: int, state: dict[str, Any],
                         calls_bytes: int | None = None) -> None:
        """The state after `tick`, with the log's length and the recording's (`calls_bytes`: by default
        the whole lines of `calls.jsonl` now, made durable first; 0 when there is none yet)."""
        if calls_bytes is None:
            calls_bytes = self.calls_length()
        path = self.checkpoints_dir / f"tick-{tick:09d}.json"
        atomic_write_json(path, {"tick": tick, "log_bytes": log_bytes, "calls_bytes": calls_bytes, "state": state})

    def calls_length(self) -> int:
        """The length of `calls.jsonl` up to its last whole line, fsynced (so that a checkpoint never
        counts calls a power cut could lose); 0 without the file. The recorder writes and flushes each
        call whole, so this counts every call finished so far."""
        try:
            fd = os.open(self.calls_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return 0
        try:
            os.fsync(fd)
            end = os.fstat(fd).st_size
            while end > 0:  # back to the last newline (a call being written by another thread is not counted)
                start = max(0, end - 65536)
                chunk = os.pread(fd, end - start, start)
                newline = chunk.rfind(b"\n")
                if newline >= 0:
                    return start + newline + 1
                end = start
            return 0
        finally:
            os.close(fd)

    def write_vectors(self, tick: int, vectors: dict[str, np.ndarray]) -> None:
        path = self.checkpoints_dir / f"tick-{tick:09d}.vectors.npz"
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            arrays: dict[str, Any] = {name: np.ascontiguousarray(v, dtype=np.float32) for name, v in vectors.items()}
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        keep = {path.name, *(f"tick-{t:09d}.vectors.npz" for t in self.checkpoint_ticks()[-1:])}
        for old in self.checkpoints_dir.glob("tick-*.vectors.npz"):
            if old.name not in keep:
                old.unlink(missing_ok=True)

    def read_vectors(self, tick: int) -> dict[str, np.ndarray] | None:
        """The vectors written with checkpoint `tick`; None when it has none (a routine run)."""
        path = self.checkpoints_dir / f"tick-{tick:09d}.vectors.npz"
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: np.asarray(data[name], dtype=np.float32) for name in data.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise SaveError(path, f"memory vectors unreadable ({exc})") from None

    def read_checkpoint(self, tick: int) -> dict[str, Any]:
        path = self.checkpoints_dir / f"tick-{tick:09d}.json"
        data = _read_json(path)
        if not isinstance(data, dict) or {"tick", "log_bytes", "state"} - data.keys():
            raise SaveError(path, "checkpoint lacks tick, log_bytes or state")
        return data

    def latest_checkpoint(self) -> dict[str, Any]:
        ticks = self.checkpoint_ticks()
        if not ticks:
            raise SaveError(self.checkpoints_dir, "no checkpoint to resume from")
        return self.read_checkpoint(ticks[-1])

    # -- the log --------------------------------------------------------------------------------

    def read_log(self) -> LogScan:
        return read_log(self.events_path)

    def read_checked_log(self) -> tuple[LogScan, list[LogProblem]]:
        """The log, read and checked against the newest checkpoint (`check_log`), for a reader (inspect,
        eval). The checkpoint is read first: a writer going on meanwhile only makes the log longer than
        it says, never shorter, so a live run shows no false problem. An unreadable newest checkpoint is
        itself a problem (resume stops on it anyway)."""
        ticks = self.checkpoint_ticks()
        checkpoint: dict[str, Any] | None = None
        problems: list[LogProblem] = []
        if ticks:
            try:
                checkpoint = self.read_checkpoint(ticks[-1])
            except SaveError as exc:
                problems.append(LogProblem("checkpoint", Path(exc.path), str(exc).removeprefix(f"{exc.path}: ")))
        scan = self.read_log()
        if checkpoint is not None:
            problems += self.check_log(scan, checkpoint)
        return scan, problems

    def check_log(self, scan: LogScan, checkpoint: dict[str, Any]) -> list[LogProblem]:
        """What does not fit `checkpoint` (the newest): a log shorter than the events it counts, a recording
        shorter than the calls it counts. Empty when all is well. The one check resume, inspect and eval make."""
        tick = checkpoint["tick"]
        problems: list[LogProblem] = []
        cut = int(checkpoint["log_bytes"])
        if cut > scan.valid_bytes:
            problems.append(LogProblem("events", self.events_path, f"the checkpoint at tick {tick} expects {cut} "
                                       f"bytes of events, the log has {scan.valid_bytes}: it was cut back or "
                                       "lost its end"))
        calls = checkpoint.get("calls_bytes")
        if isinstance(calls, int) and calls > 0:
            size = self.calls_path.stat().st_size if self.calls_path.exists() else None
            if size is None or size < calls:
                found = "the file is missing" if size is None else f"the file has {size}"
                problems.append(LogProblem("calls", self.calls_path, f"the checkpoint at tick {tick} expects "
                                           f"{calls} bytes of recorded calls, {found}"))
        return problems

    def cut_back(self, point: dict[str, Any]) -> None:
        """Cut the log and the recording back to a checkpoint's lengths (after every check has passed).
        A checkpoint without `calls_bytes` (older saves) leaves the recording as it is. Otherwise the calls of
        the thoughts in `point["restart"]` (job ids: thoughts the checkpoint keeps as their inputs, which
        start again) are dropped too: they will be made again, and the record holds each answer the run took
        once. The file keeps its length (each such line becomes a `{"dropped": id}` line padded to the same
        size, and the file is replaced whole), so the checkpoint's `calls_bytes` stays true whenever a crash
        comes, and a later resume from the same checkpoint drops the same lines again."""
        cut = int(point["log_bytes"])
        if self.events_path.stat().st_size > cut:
            truncate(self.events_path, cut)
        calls = point.get("calls_bytes")
        if isinstance(calls, int) and self.calls_path.exists() and self.calls_path.stat().st_size > calls:
            truncate(self.calls_path, calls)
        restart = set(point.get("restart") or ())
        if isinstance(calls, int) and restart and self.calls_path.exists():
            self._drop_calls_of(restart)

    def _drop_calls_of(self, thoughts: set[int]) -> None:
        lines = self.calls_path.read_bytes().splitlines(keepends=True)
        kept = [_dropped_line(line, thought) if (thought := _thought_of(line)) in thoughts else line
                for line in lines]
        if kept != lines:
            tmp = self.calls_path.with_name(self.calls_path.name + ".tmp")
            tmp.write_bytes(b"".join(kept))
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
            tmp.replace(self.calls_path)

    def size_bytes(self) -> int:
        total = 0
        for p in self.root.rglob("*"):
            # a live writer's lock or temporary file may vanish between the listing and the look
            with contextlib.suppress(FileNotFoundError):
                if p.is_file():
                    total += p.stat().st_size
        return total
