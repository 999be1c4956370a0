"""A game's save folder: what was played, kept so that it can be resumed, reported and traced.

A study (`<out>/`) holds `study.json` (the settings and the seeds), `inference.json` (the pools' accounting
per session and model group), the report, and one save per seed. Layout of a save, `<out>/seed-N/`:
- `manifest.json`: format, the resolved settings (every knob; endpoint URLs masked as the town masks them),
  the seed, the players' count and model groups, the population's path, header and SHA-256, and whether the
  game is complete. Written atomically.
- `answers.jsonl`: the append-only answer log, the single source of truth of the game: for each round, one
  `answer` event per player in player order, then one `round` event (the target, the winning number, who said
  it, what is announced next). A round is committed whole (written, then fsynced), so the log only ever holds
  complete rounds, save for a tail torn by a kill, which `open_for_writing` cuts back. Nothing wall-clock goes
  in: the same seed and the same recorded answers give the same bytes.
- `calls.jsonl`: every model call (`calls.py`), in completion order.
- `timing.jsonl`: per round of each session, wall seconds, calls asked and reused, requests and tokens (what
  the report's calls/s and tokens/s come from; apart from the log because it is never the same twice).
- `lock`: while a writer holds the save (the town's `SaveLock`: a second writer is refused naming the pid,
  and a killed writer's lock is taken over).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallville.errors import SaveError
from smallville.files import atomic_write_json
from smallville.games.play import Turn
from smallville.persist.eventlog import truncate
from smallville.persist.save import SaveLock

FORMAT = "smallville-game"
VERSION = 1
MANIFEST = "manifest.json"
ANSWERS = "answers.jsonl"
TIMING = "timing.jsonl"
ACCOUNTING = "inference.json"


@dataclass
class RoundLog:
    """A committed round: its turns in player order and its `round` event."""

    round: int
    turns: list[Turn]
    event: dict[str, Any]


def encode(event: dict[str, Any]) -> bytes:
    # fixed separators, insertion-ordered keys, NaN refused: the log's bytes depend on the answers alone
    return (json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def _never_started(root: Path) -> bool:
    """An empty folder, or what a kill while the save was being made leaves (a lock, an empty log, the
    manifest's temporary file): such a folder is made again."""
    for entry in root.iterdir():
        if entry.name in ("lock", f"{MANIFEST}.tmp") or (entry.name == ANSWERS and entry.stat().st_size == 0):
            continue
        return False
    return True


class GameSave:
    def __init__(self, root: Path, manifest: dict[str, Any]):
        self.root = root
        self.manifest = manifest
        self.lock: SaveLock | None = None

    @property
    def answers_path(self) -> Path:
        return self.root / ANSWERS

    @property
    def calls_path(self) -> Path:
        return self.root / "calls.jsonl"

    @property
    def players(self) -> int:
        return int(self.manifest["players"])

    # -- creating and opening -------------------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, manifest: dict[str, Any]) -> GameSave:
        """A new save at `root` (absent or empty), its lock held before anything is written."""
        if root.exists() and not root.is_dir():
            raise SaveError(root, "names a file, not a folder")
        if root.exists() and not _never_started(root):
            raise SaveError(root, "exists and is not empty; resume it (smallville game resume) or choose another --out")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SaveError(root, f"cannot make the save folder ({exc.strerror or exc})") from None
        lock = SaveLock.acquire(root)
        try:
            (root / ANSWERS).touch()
            full = {"format": FORMAT, "version": VERSION, **manifest, "complete": False}
            atomic_write_json(root / MANIFEST, full)
        except OSError as exc:
            lock.release()
            raise SaveError(root, f"cannot write the new save ({exc.strerror or exc})") from None
        save = cls(root, full)
        save.lock = lock
        return save

    @classmethod
    def open(cls, root: Path) -> GameSave:
        """A save to read (no lock taken)."""
        path = root / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SaveError(path, "not a game save (no manifest)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SaveError(path, f"not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SaveError(path, f"not a game save (format is not {FORMAT!r})")
        if manifest.get("version") != VERSION:
            raise SaveError(path, f"game save version {manifest.get('version')!r}; this smallville reads {VERSION}")
        return cls(root, manifest)

    @classmethod
    def open_for_writing(cls, root: Path) -> GameSave:
        """Open, take the lock, and cut the answer log back to its last complete round."""
        save = cls.open(root)
        save.lock = SaveLock.acquire(root)
        try:
            _, valid = save._scan()
            if valid < save.answers_path.stat().st_size:
                truncate(save.answers_path, valid)
        except BaseException:
            save.release()
            raise
        return save

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # -- the answer log -------------------------------------------------------------------------------
    def _scan(self) -> tuple[list[RoundLog], int]:
        """The committed rounds, and the byte length they end at. What follows the last `round` event is an
        uncommitted tail (a kill while a round was being written): ignored here, cut by `open_for_writing`.
        A bad line *before* a `round` event is corruption, named by line."""
        try:
            data = self.answers_path.read_bytes()
        except FileNotFoundError:
            raise SaveError(self.answers_path, "the answer log is missing") from None
        rounds: list[RoundLog] = []
        pending: list[Turn] = []
        valid = offset = 0
        lines = data.split(b"\n")[:-1]  # the piece after the last newline is empty or torn: never committed
        for number, line in enumerate(lines, 1):
            end = offset + len(line) + 1
            try:
                event = json.loads(line)
                kind = event["k"]
                if kind == "answer":
                    pending.append(Turn.from_event(event))
                elif kind != "round":
                    raise ValueError(f"unknown event {kind!r}")
            except (ValueError, KeyError, TypeError) as exc:
                if b'"k":"round"' in data[end:]:
                    raise SaveError(self.answers_path, f"corrupt event ({exc})", line=number) from None
                break  # the uncommitted tail
            if kind == "round":
                expected = len(rounds) + 1
                if event.get("r") != expected or len(pending) != self.players:
                    raise SaveError(self.answers_path, f"round {event.get('r')} with {len(pending)} answers "
                                    f"(expected round {expected} with {self.players})", line=number)
                rounds.append(RoundLog(expected, pending, event))
                pending, valid = [], end
            offset = end
        return rounds, valid

    def rounds(self) -> list[RoundLog]:
        return self._scan()[0]

    def commit_round(self, round_no: int, turns: list[Turn], event: dict[str, Any]) -> None:
        """Append a round (its answers in player order, then its event) and make it durable."""
        with self.answers_path.open("ab") as f:
            f.write(b"".join(encode(t.event(round_no)) for t in turns))
            f.write(encode(event))
            f.flush()
            os.fsync(f.fileno())

    def append_timing(self, entry: dict[str, Any]) -> None:
        with (self.root / TIMING).open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def timing(self) -> list[dict[str, Any]]:
        path = self.root / TIMING
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a torn line: timing is informative, never the game
        return out

    def mark_complete(self) -> None:
        self.manifest["complete"] = True
        atomic_write_json(self.root / MANIFEST, self.manifest)


def add_accounting(path: Path, snapshot: dict[str, Any]) -> None:
    """Append a session's accounting to `path` (`{"sessions": [...]}`; a resumed study adds a session)."""
    sessions: list[Any] = []
    if path.exists():
        try:
            sessions = list(json.loads(path.read_text(encoding="utf-8")).get("sessions", []))
        except (ValueError, AttributeError, OSError):
            sessions = []
    sessions.append(snapshot)
    atomic_write_json(path, {"sessions": sessions})
