"""The append-only event log: `events.jsonl`, one event per line.

Owns writing events durably and reading them back fast and strictly. A crash can tear only the last
line (we only ever append), so a reader drops an unterminated tail and reports it; any other bad line
is corruption, reported with the file and line number. Reading decodes the whole file in one msgspec
call (a JSON array built from the lines) and falls back to line-by-line only to locate an error.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from smallville.core.events import AnyEvent, Event, encode_many
from smallville.errors import SaveError

_list_decoder = msgspec.json.Decoder(list[AnyEvent])
_one_decoder = msgspec.json.Decoder(AnyEvent)


@dataclass
class LogScan:
    """What a read found: the events, where the intact part ends, and what was dropped."""

    events: list[Event]
    valid_bytes: int
    torn_tail_bytes: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def first_tick(self) -> int | None:
        return self.events[0].t if self.events else None

    @property
    def last_tick(self) -> int | None:
        return self.events[-1].t if self.events else None


def read_log(path: Path, limit_bytes: int | None = None) -> LogScan:
    """Read and check the log (up to `limit_bytes`). Raises `SaveError` naming file and line."""
    try:
        with path.open("rb") as f:
            data = f.read() if limit_bytes is None else f.read(limit_bytes)
    except FileNotFoundError:
        raise SaveError(path, "event log not found") from None
    torn = 0
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        torn = len(data) - cut
        data = data[:cut]
    lines = data.split(b"\n")[:-1] if data else []
    try:
        events: list[Event] = list(_list_decoder.decode(b"[" + b",".join(lines) + b"]"))
    except (msgspec.DecodeError, msgspec.ValidationError):
        events = []
        for number, line in enumerate(lines, start=1):
            try:
                events.append(_one_decoder.decode(line))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                message = f"corrupt event ({exc}); the save was not changed"
                raise SaveError(path, message, line=number) from None
    previous = -1
    for number, event in enumerate(events, start=1):
        if event.t < previous:
            raise SaveError(path, f"tick {event.t} after tick {previous}: events out of order", line=number)
        previous = event.t
    counts = Counter(str(type(e).__struct_config__.tag) for e in events)
    return LogScan(events, len(data), torn, counts)


class LogWriter:
    """Appends encoded events; `flush` makes them visible, `sync` makes them durable."""

    def __init__(self, path: Path):
        self.path = path
        self._file = path.open("ab")
        self._buffer: list[bytes] = []

    def append(self, events: list[Event]) -> None:
        if events:
            self._buffer.append(encode_many(events))

    def flush(self) -> None:
        if self._buffer:
            self._file.write(b"".join(self._buffer))
            self._buffer.clear()
        self._file.flush()

    def sync(self) -> int:
        """Flush and fsync; return the durable length of the log in bytes."""
        self.flush()
        os.fsync(self._file.fileno())
        return self._file.tell()

    def close(self) -> None:
        self.flush()
        self._file.close()


def truncate(path: Path, size: int) -> None:
    """Cut a file back to `size` bytes and make it durable: the log to the end of a checkpointed tick, the
    recording of calls to the calls made by then."""
    with path.open("r+b") as f:
        f.truncate(size)
        f.flush()
        os.fsync(f.fileno())
