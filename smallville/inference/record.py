"""Record and replay: every model call of a run kept in the save, and answered from there again.

Owns the recording format (`calls.jsonl`, one JSON object per call) and the request key. `Recorder`
wraps any `LanguageModel` and appends each call as it completes: purpose, messages, answer model name
and schema hash, options, and the answer as JSON text (or the error the call raised, so that replay
fails where the run failed). `Replayer` is a `LanguageModel` with no server behind it: it answers
from such a file, so a run re-executes bit-identically.

The key of a call is a SHA-256 of its canonical request (kind, messages, answer model and schema hash,
options). Identical requests are told apart by an occurrence counter taken when the call *starts*:
tasks start in the simulation's fixed order, while they finish in whatever order the servers answer,
so counting at the start keeps replay deterministic under concurrency. Only what the caller passed is
written: never API keys, headers or endpoint URLs.

Each call is written whole and flushed as it ends; a checkpoint records the file's length and a resume
cuts the file back to it (`persist/save.py`), after which the occurrence numbers, read back from the file
when a `Recorder` opens it, go on from there. A thought still in flight at the checkpoint starts again on
resume: on resume its calls made before the checkpoint are blanked (each line becomes a `{"dropped": id}`
line of the same length, `Save.cut_back`), and it makes them again with the same occurrence numbers (a
number freed so is the first one given again), so the record holds each answer the run took once.

An answer over `MAX_ANSWER_BYTES` (1 MB of JSON text; a model gone wrong, not a real plan or line) is not
written whole: the record keeps the call, `answer_omitted` with the answer's size, SHA-256 and first
characters, and the run goes on with the answer it got. A replay that reaches that call raises
`NotRecorded` saying so, rather than answer with something the model did not say. An error's
`last_answer` over the cap is kept cut, flagged `last_answer_cut` with its full size (replay raises the
same error class, which is all a caller acts on).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from smallville.inference import base
from smallville.inference.base import CallOptions, InferenceError, LanguageModel, Message, NotRecorded
from smallville.inference.structured import schema_hash

T = TypeVar("T", bound=BaseModel)

log = logging.getLogger(__name__)

RECORD_VERSION = 1
CALLS_FILE = "calls.jsonl"
_REPLAY = "replay"
#: The largest answer (UTF-8 bytes of its JSON text) a recording keeps; see the module's docstring.
MAX_ANSWER_BYTES = 1_000_000
_PREVIEW_CHARS = 1000
#: The thought a call is made for (its job id), set by the mind in the thought's task: recorded with each call,
#: so that a resume can drop the calls of a thought that starts again (they are made again, and the record
#: must hold the answers the run took, once each).
THOUGHT: contextvars.ContextVar[int | None] = contextvars.ContextVar("smallville_thought", default=None)


def _options(options: CallOptions) -> dict[str, Any]:
    return {"purpose": options.purpose, "temperature": options.temperature, "seed": options.seed,
            "max_tokens": options.max_tokens, "extra": options.extra}


def _canonical(value: Any) -> str:
    # default=str: an `extra` value that is not JSON still hashes the same way every time
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_key(kind: str, messages: Sequence[Message], answer: type[BaseModel] | None, options: CallOptions) -> str:
    """A stable hash of everything that determines a call's answer."""
    payload = {"kind": kind, "messages": [[m.role, m.content] for m in messages],
               "answer": answer.__name__ if answer is not None else None,
               "schema": schema_hash(answer) if answer is not None else None, "options": _options(options)}
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


class _Counter:
    """Occurrence numbers per key, safe across threads: the lowest number not yet taken (after a resume that
    blanked a restarted thought's calls, the numbers they had are given again, as in a run never cut)."""

    def __init__(self) -> None:
        self._taken: dict[str, set[int]] = {}
        self._lock = threading.Lock()

    def next(self, key: str) -> int:
        with self._lock:
            taken = self._taken.setdefault(key, set())
            n = len(taken)  # no gap: the count is the next number
            if n in taken:
                n = next(i for i in range(len(taken) + 1) if i not in taken)
            taken.add(n)
            return n

    def seed(self, key: str, n: int) -> None:
        with self._lock:
            self._taken.setdefault(key, set()).add(n)


def read_recording(path: Path | str) -> list[dict[str, Any]]:
    """The calls in a recording. A torn last line (a crash mid-write) is skipped; any other bad line raises."""
    source = Path(path)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise NotRecorded(f"{source}: no recording there", _REPLAY) from None
    calls = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if isinstance(record, dict) and "dropped" in record:  # a restarted thought's call, blanked on resume
                continue
            if not isinstance(record, dict) or "key" not in record or "n" not in record:
                raise ValueError("not a call record")
        except ValueError as exc:
            if number == len(lines):
                break
            raise NotRecorded(f"{source}:{number}: unreadable call record ({exc})", _REPLAY) from None
        calls.append(record)
    return calls


class Recorder:
    """A `LanguageModel` that passes calls to `inner` and appends each one to a JSON-lines file."""

    def __init__(self, inner: LanguageModel, path: Path | str, *, max_answer_bytes: int = MAX_ANSWER_BYTES):
        self.inner = inner
        self.path = Path(path)
        self.max_answer_bytes = max_answer_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._counter = _Counter()
        if self.path.exists():  # continuing a run: occurrence numbers go on from the recording
            for record in read_recording(self.path):
                self._counter.seed(record["key"], int(record["n"]))
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self.calls = 0

    def __repr__(self) -> str:
        return f"Recorder({self.path})"

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def complete_model(self, messages: Sequence[Message], answer: type[T], options: CallOptions) -> T:
        key = request_key("model", messages, answer, options)
        n = self._counter.next(key)
        head = {"kind": "model", "answer_model": answer.__name__, "schema_hash": schema_hash(answer)}
        try:
            result = await self.inner.complete_model(messages, answer, options)
        except InferenceError as exc:
            self._write(key, n, head, messages, options, {"error": _error_dict(exc, self.max_answer_bytes)})
            raise
        self._write(key, n, head, messages, options, self._answer(_answer_json(result), options))
        return result

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        key = request_key("text", messages, None, options)
        n = self._counter.next(key)
        head = {"kind": "text", "answer_model": None, "schema_hash": None}
        try:
            text = await self.inner.complete_text(messages, options)
        except InferenceError as exc:
            self._write(key, n, head, messages, options, {"error": _error_dict(exc, self.max_answer_bytes)})
            raise
        self._write(key, n, head, messages, options, self._answer(text, options))
        return text

    def _answer(self, text: str, options: CallOptions) -> dict[str, Any]:
        """The answer as recorded: whole, or (over the cap) its size, hash and first characters only."""
        data = text.encode("utf-8")
        if len(data) <= self.max_answer_bytes:
            return {"answer": text}
        log.warning("%s: a %s answer of %d bytes is over the recording's cap of %d: recorded without it "
                    "(a replay stops at this call)", self.path, options.purpose, len(data), self.max_answer_bytes)
        return {"answer_omitted": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                   "cap": self.max_answer_bytes, "preview": text[:_PREVIEW_CHARS]}}

    def _write(self, key: str, n: int, head: dict[str, Any], messages: Sequence[Message], options: CallOptions,
               outcome: dict[str, Any]) -> None:
        record = {"v": RECORD_VERSION, "key": key, "n": n, **head, "purpose": options.purpose,
                  "messages": [{"role": m.role, "content": m.content} for m in messages],
                  "options": _options(options), **outcome}
        if (thought := THOUGHT.get()) is not None:
            record["thought"] = thought
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            if self._file is None:
                raise InferenceError(f"{self.path}: recorder already closed", _REPLAY)
            self._file.write(line)
            self._file.flush()  # a crash loses at most the call in flight
            self.calls += 1


def _answer_json(result: BaseModel) -> str:
    # by_alias + round_trip: what the model dumps must validate back to an equal instance on replay (a field
    # with an alias is read back by its alias; a Json[...] field as a JSON string)
    return result.model_dump_json(by_alias=True, round_trip=True)


def _error_type(exc: InferenceError) -> str:
    """The class replay raises: the error's own where `base` defines it, else the nearest one it derives from
    (an `EmbeddedServerError` replays as the `EndpointUnavailable` it is), so that the same `except` fires."""
    for cls in type(exc).__mro__:
        if getattr(base, cls.__name__, None) is cls:
            return cls.__name__
    return InferenceError.__name__


def _error_dict(exc: InferenceError, cap: int = MAX_ANSWER_BYTES) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _error_type(exc), "message": str(exc), "endpoint": exc.endpoint}
    if isinstance(exc, base.AnswerInvalid):
        data = exc.last_answer.encode("utf-8")
        if len(data) > cap:
            out["last_answer"] = data[:cap].decode("utf-8", errors="ignore")
            out["last_answer_cut"] = len(data)
        else:
            out["last_answer"] = exc.last_answer
    return out


def _raise_recorded(error: dict[str, Any]) -> None:
    cls = getattr(base, str(error.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, InferenceError)):
        cls = InferenceError
    message, endpoint = str(error.get("message", "")), error.get("endpoint")
    prefix = f"[{endpoint}] "
    if endpoint and message.startswith(prefix):  # the constructor adds the prefix again
        message = message[len(prefix):]
    if cls is base.AnswerInvalid:
        raise base.AnswerInvalid(message, endpoint, last_answer=str(error.get("last_answer", "")))
    raise cls(message, endpoint)


class Replayer:
    """A `LanguageModel` that answers from a recording, with no server. Unknown calls raise `NotRecorded`."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._records: dict[str, dict[int, dict[str, Any]]] = {}
        for record in read_recording(self.path):
            self._records.setdefault(record["key"], {})[int(record["n"])] = record
        self._counter = _Counter()
        self.size = sum(len(v) for v in self._records.values())

    def __repr__(self) -> str:
        return f"Replayer({self.path}, {self.size} calls)"

    def _find(self, key: str, what: str, purpose: str) -> dict[str, Any]:
        n = self._counter.next(key)
        record = self._records.get(key, {}).get(n)
        if record is None:
            held = len(self._records.get(key, {}))
            raise NotRecorded(f"{self.path}: no recorded answer for this {what} call (purpose {purpose!r}, "
                              f"occurrence {n + 1}; the recording holds {held} identical call(s))", _REPLAY)
        if "error" in record:
            _raise_recorded(record["error"])
        omitted = record.get("answer_omitted")
        if isinstance(omitted, dict):
            raise NotRecorded(f"{self.path}: the answer to this {what} call (purpose {purpose!r}, occurrence {n + 1}) "
                              f"was {omitted.get('bytes')} bytes, over the recording's cap of {omitted.get('cap')}: "
                              "it was not recorded, so a replay cannot go past it", _REPLAY)
        return record

    async def complete_model(self, messages: Sequence[Message], answer: type[T], options: CallOptions) -> T:
        key = request_key("model", messages, answer, options)
        record = self._find(key, answer.__name__, options.purpose)
        try:
            return answer.model_validate_json(record["answer"])
        except (ValidationError, KeyError, TypeError) as exc:
            raise NotRecorded(f"{self.path}: recorded answer no longer fits {answer.__name__}: {exc}",
                              _REPLAY) from None

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        key = request_key("text", messages, None, options)
        record = self._find(key, "text", options.purpose)
        answer = record.get("answer")
        if not isinstance(answer, str):
            raise NotRecorded(f"{self.path}: recorded text answer is missing", _REPLAY)
        return answer
