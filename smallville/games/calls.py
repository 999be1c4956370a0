"""Every model call of a game, recorded in its save with its tokens, and answered from there when a round is
played again after a kill.

Owns `calls.jsonl` of a game save and the reuse of its answers. Records have the town's format
(`inference/record.py`: key, occurrence, purpose, messages, options, answer or error, so `Replayer` and any
tool reading recordings read these) plus what a game needs: the call's place (`round`, `agent`, `step`: which
call of the player's turn, e.g. `answer.0`, `extract.0`, `answer.1` after a re-asked turn), the model group and
its `usage` (prompt and completion tokens over every request the call took, re-asks included).

Why its own recorder rather than `record.Recorder`: a game resumed mid-round must give each player the very
answer it got before the kill, whatever order the calls completed in, and the town's occurrence counter maps
identical requests to players by the order calls *complete* in a killed run. Here a call is found by its place
in the game, and the request key is checked too (a save's settings are fixed, so a key that differs means the
recording is not this game's: the call is asked again). Which recorded outcomes are reused:
- an answer, and an `AnswerInvalid` (the model answered; its answer never fitted): reused as they are;
- a transport failure (unreachable, 5xx, timeouts, rate limits after the retries): asked again, since a
  resume usually follows a server that is back (the new record is appended; the later one wins).

A call never raises: it ends in an `Outcome` (a value or the `InferenceError`, and the tokens it took), replayed
ones too, so a turn can tell an invalid answer from a failed call and count both.

Tokens per call are learnt from the pool's accounting: `TallyAccounting` adds each request's usage to the
tally of the call in whose asyncio context it runs (a context variable), so `pool.py` needs no change.

The file is written in completion order (one flushed line per call; a kill loses at most the calls in flight,
and a torn last line is cut off on resume): its line order differs run to run, its content does not.

Who writes it: the driver alone (`CallLog`). A `CallBook` makes each record where the call was made (in this
process, or in a group actor of a scaled-out game, `games/workers.py`) and ships it (`Shipped`: the record's
text less its occurrence number `n`, which the log gives, so numbers stay unique across workers); so a
cluster's nodes need no shared disk, and the records a lost worker shipped before it died answer its calls
when its shard is played again.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from smallville.inference import base
from smallville.inference.accounting import Accounting
from smallville.inference.base import AnswerInvalid, CallOptions, InferenceError, LanguageModel, Message
from smallville.inference.record import RECORD_VERSION, request_key
from smallville.inference.structured import schema_hash
from smallville.persist.eventlog import truncate

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
log = logging.getLogger(__name__)
CALLS = "calls.jsonl"


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.requests += other.requests

    def as_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "requests": self.requests}

    @classmethod
    def from_dict(cls, raw: Any) -> Usage:
        raw = raw if isinstance(raw, dict) else {}
        return cls(*(int(raw.get(k, 0) or 0) for k in ("prompt_tokens", "completion_tokens", "requests")))


_TALLY: contextvars.ContextVar[Usage | None] = contextvars.ContextVar("smallville_game_tally", default=None)
_PLACE: contextvars.ContextVar[Place | None] = contextvars.ContextVar("smallville_game_place", default=None)


def current_place() -> Place | None:
    """The place in the game of the call under way (round, player, step), for a model that wants to know whom
    it answers (the stand-ins do; a server never sees it)."""
    return _PLACE.get()


def add_usage(prompt_tokens: int, completion_tokens: int) -> None:
    """Count one request's tokens into the call under way (for in-process models that have no pool)."""
    tally = _TALLY.get()
    if tally is not None:
        tally.add(Usage(prompt_tokens, completion_tokens, 1))


class TallyAccounting(Accounting):
    """The pool's accounting, also adding each answered request's tokens to the call under way."""

    def request_ok(self, endpoint: str, purpose: str, latency_s: float, prompt_tokens: int,
                   completion_tokens: int) -> None:
        super().request_ok(endpoint, purpose, latency_s, prompt_tokens, completion_tokens)
        add_usage(prompt_tokens, completion_tokens)


@dataclass
class Outcome(Generic[R]):
    """How a call ended: its value or its error (never both), and the tokens it took."""

    value: R | None
    error: InferenceError | None
    usage: Usage


@dataclass(frozen=True)
class Place:
    """Where a call sits in a game: round, player, which call of its turn."""

    round: int
    agent: int
    step: str

    def key(self) -> tuple[int, int, str]:
        return (self.round, self.agent, self.step)


def _options(options: CallOptions) -> dict[str, Any]:
    return {"purpose": options.purpose, "temperature": options.temperature, "seed": options.seed,
            "max_tokens": options.max_tokens, "extra": options.extra}


def recorded_error(error: dict[str, Any]) -> InferenceError:
    cls = getattr(base, str(error.get("type")), None)
    message, endpoint = str(error.get("message", "")), error.get("endpoint")
    prefix = f"[{endpoint}] "
    if endpoint and message.startswith(prefix):  # the constructor adds it again
        message = message[len(prefix):]
    if cls is AnswerInvalid:
        return AnswerInvalid(message, endpoint, last_answer=str(error.get("last_answer", "")))
    if not (isinstance(cls, type) and issubclass(cls, InferenceError)):
        cls = InferenceError
    return cls(message, endpoint)


def _error_type(exc: InferenceError) -> str:
    for cls in type(exc).__mro__:  # the class replay raises: the nearest one `base` defines
        if getattr(base, cls.__name__, None) is cls:
            return cls.__name__
    return InferenceError.__name__


@dataclass(frozen=True)
class Shipped:
    """A call record on its way from the book that made it (in this process or a group actor) to the save's
    call log: its JSON text around the occurrence number `n`, which the log gives (so numbers stay unique
    whatever worker made the call), its place and its tokens."""

    key: str
    place: tuple[int, int, str]
    usage: tuple[int, int, int]  # prompt tokens, completion tokens, requests
    head: str  # the record's JSON text before `, "n": N`
    tail: str  # and after it

    def line(self, n: int) -> str:
        return f'{self.head}, "n": {n}{self.tail}'


Records = dict[tuple[int, int, str], dict[str, Any]]
"""Recorded calls by their place (round, player, step)."""


class CallLog:
    """`calls.jsonl` of a game save: the records of earlier sessions (from round `from_round` on: the rounds
    before are committed and never asked again), and the new records appended as they come, one flushed line
    each. Lives in the driver; workers ship it their records (`Shipped`)."""

    def __init__(self, path: Path, from_round: int = 1):
        self.path = Path(path)
        self.prior: Records = {}
        self._counts: dict[str, int] = {}
        if self.path.exists():
            self._load(from_round)
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        self.asked = 0
        self.asked_usage = Usage()  # the tokens of the calls written in this session

    def _load(self, from_round: int) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):  # a line torn by a kill: cut, or the next record would join it
            truncate(self.path, data.rfind(b"\n") + 1)
            data = data[: data.rfind(b"\n") + 1]
        for number, line in enumerate(data.splitlines(), 1):
            record = _parse(line, self.path, number)
            if record is None:
                continue
            self._counts[record["key"]] = max(self._counts.get(record["key"], 0), int(record["n"]) + 1)
            if record["round"] >= from_round:
                self.prior[_place(record)] = record  # a later record of the same place (asked again) wins

    def prior_by_agent(self, round_no: int) -> dict[int, Records]:
        """Round `round_no`'s earlier records, by player."""
        out: dict[int, Records] = {}
        for place, record in self.prior.items():
            if place[0] == round_no:
                out.setdefault(place[1], {})[place] = record
        return out

    def offset(self) -> int:
        """Where the next record will start (what was written is flushed)."""
        return self.path.stat().st_size if self.path.exists() else 0

    def records_since(self, offset: int, round_no: int, agents: Sequence[int]) -> Records:
        """The records written from `offset` on for these players in this round (a redone shard's)."""
        wanted = set(agents)
        out: Records = {}
        with self.path.open("rb") as f:
            f.seek(offset)
            for number, line in enumerate(f, 1):
                record = _parse(line, self.path, number)
                if record is not None and record["round"] == round_no and record["agent"] in wanted:
                    out[_place(record)] = record
        return out

    def write(self, shipped: Sequence[Shipped]) -> None:
        """Append records, each with the next occurrence number of its key; flushed (a kill loses none of them)."""
        if self._file is None:
            raise InferenceError(f"{self.path}: the game's call log is closed", "game")
        lines = []
        for record in shipped:
            n = self._counts.get(record.key, 0)
            self._counts[record.key] = n + 1
            lines.append(record.line(n) + "\n")
            self.asked_usage.add(Usage(*record.usage))
        self._file.write("".join(lines))
        self._file.flush()
        self.asked += len(shipped)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _parse(line: bytes, path: Path, number: int) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
        record["round"], record["agent"], record["step"] = int(record["round"]), int(record["agent"]), \
            str(record["step"])
        record["n"] = int(record["n"])
        str(record["key"])
    except (ValueError, KeyError, TypeError):
        log.warning("%s:%d: not a game call record; ignored", path, number)
        return None
    return dict(record)


def _place(record: dict[str, Any]) -> tuple[int, int, str]:
    return (record["round"], record["agent"], record["step"])


class CallBook:
    """The calls of a round (or of a shard of it): answered from the records given where they hold a reusable
    outcome, else asked and shipped to `sink`. `CallBook(path)` is a book over its own `CallLog` (one process).
    Lives in one event loop (the round's).

    `prior` are records of earlier sessions (`reused` counts the calls they answer); `redo` are this round's
    records made before the worker playing it was lost (`redone` counts them: asked once, never counted twice),
    every one of them reused, a failed call too (within a session the shard ends as if never lost).
    """

    def __init__(self, path: Path | None = None, *, prior: Records | None = None, redo: Records | None = None,
                 sink: Callable[[Shipped], None] | None = None, where: str = "calls"):
        self._log: CallLog | None = None
        if path is not None:
            self._log = CallLog(path)
            prior, where = self._log.prior, str(path)
            log_ = self._log
            sink = lambda shipped: log_.write([shipped])  # noqa: E731
        if sink is None:
            raise ValueError("a call book needs a path or a sink")
        self._prior: Records = prior or {}
        self._redo: Records = redo or {}
        self._sink = sink
        self.where = where
        self.asked = 0
        self.reused = 0
        self.redone = 0
        self.asked_usage = Usage()  # the tokens of the calls asked here (not those answered from records)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()

    def _reusable(self, place: Place, key: str) -> dict[str, Any] | None:
        record = self._redo.get(place.key())
        if record is not None and record.get("key") == key:
            # this session's own outcome, whatever it was (a failure too): the shard ends as it would have
            self.redone += 1
            return record
        record = self._prior.get(place.key())
        if record is None or record.get("key") != key:
            return None
        error = record.get("error")
        if "answer" in record or (isinstance(error, dict) and error.get("type") == "AnswerInvalid"):
            self.reused += 1
            return record
        return None  # an earlier session's transport failure: asked again (the server may be back)

    async def structured(self, lm: LanguageModel, place: Place, group: str, messages: Sequence[Message],
                         answer: type[T], options: CallOptions) -> Outcome[T]:
        """The call's outcome (an earlier session's where reusable); never raises an `InferenceError`."""
        key = request_key("model", messages, answer, options)
        found = self._reusable(place, key)
        if found is not None:
            usage = Usage.from_dict(found.get("usage"))
            if "error" in found:
                return Outcome(None, recorded_error(found["error"]), usage)
            try:
                return Outcome(answer.model_validate_json(found["answer"]), None, usage)
            except (ValidationError, TypeError):
                log.warning("%s: the recorded answer at %s no longer fits %s: asked again", self.where, place,
                            answer.__name__)
        head = {"kind": "model", "answer_model": answer.__name__, "schema_hash": schema_hash(answer)}
        tally = Usage()
        token, where = _TALLY.set(tally), _PLACE.set(place)
        try:
            result = await lm.complete_model(messages, answer, options)
        except InferenceError as exc:
            self._ship(key, head, place, group, messages, options, tally, {"error": _error_dict(exc)})
            return Outcome(None, exc, tally)
        finally:
            _TALLY.reset(token)
            _PLACE.reset(where)
        self._ship(key, head, place, group, messages, options, tally,
                   {"answer": result.model_dump_json(by_alias=True, round_trip=True)})
        return Outcome(result, None, tally)

    async def text(self, lm: LanguageModel, place: Place, group: str, messages: Sequence[Message],
                   options: CallOptions) -> Outcome[str]:
        key = request_key("text", messages, None, options)
        found = self._reusable(place, key)
        if found is not None:
            usage = Usage.from_dict(found.get("usage"))
            if "error" in found:
                return Outcome(None, recorded_error(found["error"]), usage)
            if isinstance(found.get("answer"), str):
                return Outcome(found["answer"], None, usage)
        head = {"kind": "text", "answer_model": None, "schema_hash": None}
        tally = Usage()
        token, where = _TALLY.set(tally), _PLACE.set(place)
        try:
            text = await lm.complete_text(messages, options)
        except InferenceError as exc:
            self._ship(key, head, place, group, messages, options, tally, {"error": _error_dict(exc)})
            return Outcome(None, exc, tally)
        finally:
            _TALLY.reset(token)
            _PLACE.reset(where)
        self._ship(key, head, place, group, messages, options, tally, {"answer": text})
        return Outcome(text, None, tally)

    def _ship(self, key: str, head: dict[str, Any], place: Place, group: str, messages: Sequence[Message],
              options: CallOptions, usage: Usage, outcome: dict[str, Any]) -> None:
        # the record's text is made here, where the call was (a worker), in the town's recording format; the
        # log splices in the occurrence number
        first = json.dumps({"v": RECORD_VERSION, "key": key}, ensure_ascii=False)
        rest = {**head, "purpose": options.purpose, "round": place.round, "agent": place.agent, "step": place.step,
                "group": group, "messages": [{"role": m.role, "content": m.content} for m in messages],
                "options": _options(options), "usage": usage.as_dict(), **outcome}
        tail = ", " + json.dumps(rest, ensure_ascii=False, default=str)[1:]
        self._sink(Shipped(key, place.key(), (usage.prompt_tokens, usage.completion_tokens, usage.requests),
                           first[:-1], tail))
        self.asked += 1
        self.asked_usage.add(usage)


def _error_dict(exc: InferenceError) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _error_type(exc), "message": str(exc), "endpoint": exc.endpoint}
    if isinstance(exc, AnswerInvalid):
        out["last_answer"] = exc.last_answer[:100_000]
    return out
