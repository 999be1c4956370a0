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

Resuming takes the newest checkpoint, cuts the log back to its length (events after it are simply
simulated again, identically), and goes on: no tick is missing or duplicated, whenever the crash.
Everything is checked before anything is changed, so a save that cannot be resumed is left untouched.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from smallville.core.events import SCHEMA_VERSION
from smallville.errors import SaveError
from smallville.persist.eventlog import LogScan, read_log

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
CHECKPOINTS = "checkpoints"
FORMAT = "smallville-save"
_CHECKPOINT_RE = re.compile(r"^tick-(\d{9})\.json$")


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SaveError(path, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise SaveError(path, f"not valid JSON ({exc})", line=line) from None


class Save:
    def __init__(self, root: Path, manifest: dict[str, Any]):
        self.root = root
        self.manifest = manifest

    @property
    def events_path(self) -> Path:
        return self.root / EVENTS

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / CHECKPOINTS

    # -- creating and opening -------------------------------------------------------------------

    @classmethod
    def create(cls, root: Path, manifest: dict[str, Any]) -> Save:
        if root.exists() and any(root.iterdir()):
            raise SaveError(root, "directory exists and is not empty; choose another --save or resume it")
        root.mkdir(parents=True, exist_ok=True)
        (root / CHECKPOINTS).mkdir()
        (root / EVENTS).touch()
        full = {"format": FORMAT, "schema_version": SCHEMA_VERSION, **manifest}
        atomic_write_json(root / MANIFEST, full)
        return cls(root, full)

    @classmethod
    def open(cls, root: Path) -> Save:
        if not root.is_dir():
            raise SaveError(root, "no such save directory")
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

    def write_checkpoint(self, tick: int, log_bytes: int, state: dict[str, Any]) -> None:
        path = self.checkpoints_dir / f"tick-{tick:09d}.json"
        atomic_write_json(path, {"tick": tick, "log_bytes": log_bytes, "state": state})

    def write_vectors(self, tick: int, vectors: dict[str, np.ndarray]) -> None:
        path = self.checkpoints_dir / f"tick-{tick:09d}.vectors.npz"
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            np.savez(f, **{name: np.ascontiguousarray(v, dtype=np.float32) for name, v in vectors.items()})
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

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
