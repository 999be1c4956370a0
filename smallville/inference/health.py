"""Whether a run can think at all: a watch over the outcome of every model and embedding call it makes.

Owns the verdict the run's loop asks for between ticks. The minds catch every `InferenceError` and fall
back to a default (a resident is never left without an answer; a memory without a vector), so without this
a run whose endpoint is refused, hangs, answers 500 or serves another model goes on to the end on defaults
alone and reports success. `HealthWatch.fatal()` says when to stop instead:
- at once after a configuration error no retry can fix (`ModelNotFound`, `AuthenticationFailed`);
- when the first `failures_in_a_row` calls of this session all failed (a server that is not there, or
  answers nothing usable; each of those calls already went through its retries and failovers): a resume
  into a dead server stops too, with the save intact for when it is back;
- and `fatal(at_end=True)`, for a run too short to reach that count: when not one call answered.
A server that answered and then goes away mid-run does not stop it: residents live on defaults (each a
counted fallback event) and think again when it is back, as a study of days should survive a server's
restart. That is never quiet: a warning when such a row of failures reaches the count and when the
server answers again, and the summary's failed calls.
Model calls and embedding calls are watched apart (each kind has its own row), by the same rules. An
answer that fits no schema even after the re-asks (`AnswerInvalid`) counts as a failure: a server whose
every answer is unusable gives the run nothing to think with, while a weak model that fails now and then
(the embedded SmolLM2, a handful in a day) never fails that many in a row.

`Watched` and `WatchedEmbedder` are the wrappers that feed the watch; `session.open_models` puts them
outermost, so they see the calls whatever is inside (the pool, a recorder, a replayer, a caller's own
model), and count model calls into the run's accounting where nothing inside does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from smallville.inference.accounting import Accounting
from smallville.inference.base import (
    AuthenticationFailed,
    CallOptions,
    Embedder,
    InferenceError,
    LanguageModel,
    Message,
    ModelNotFound,
    ModelsUnusable,
)

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
log = logging.getLogger("smallville.inference")

#: Errors that retrying, waiting or another tick cannot fix: the configuration must change.
CONFIG_ERRORS: tuple[type[InferenceError], ...] = (ModelNotFound, AuthenticationFailed)


class HealthWatch:
    """The outcomes of a run's calls, reduced to a verdict. Safe from several threads."""

    def __init__(self, failures_in_a_row: int = 8):
        self.failures_in_a_row = failures_in_a_row  # 0: only configuration errors stop a run
        self.calls = 0
        self.answered = 0  # calls answered with something usable
        self._row: dict[str, int] = {}  # failures in a row, by kind of call ("model", "embedding")
        self._ok: set[str] = set()  # kinds of call that have answered at least once
        self._fatal: InferenceError | None = None
        self._cause: dict[str, InferenceError] = {}  # by kind: the latest failure that names an endpoint
        self._lock = threading.Lock()

    def observe(self, error: InferenceError | None, kind: str = "model") -> None:
        """One call ended: `None` when it succeeded, else the error it raised."""
        with self._lock:
            self.calls += 1
            row = self._row.get(kind, 0)
            if error is None:
                self.answered += 1
                self._ok.add(kind)
                if self.failures_in_a_row and row >= self.failures_in_a_row:
                    log.warning("%s calls answer again after %d failures in a row", kind, row)
                self._row[kind] = 0
                return
            row = self._row[kind] = row + 1
            if error.endpoint or kind not in self._cause:
                # "every endpoint is out of rotation" names none: the failure that took them out says more
                self._cause[kind] = error
            if self._fatal is not None:
                return
            if isinstance(error, CONFIG_ERRORS):
                self._fatal = error
            elif self.failures_in_a_row and row >= self.failures_in_a_row:
                if kind not in self._ok:
                    self._fatal = _unusable(f"the first {row} {kind} calls all failed", self._cause[kind])
                elif row == self.failures_in_a_row:
                    log.warning("%d %s calls in a row failed (latest: %s): the residents think on defaults until "
                                "the server answers again", row, kind, error)

    def fatal(self, *, at_end: bool = False) -> InferenceError | None:
        """Why the run cannot think (naming the endpoint, never a key), or None while it can. `at_end`: the
        run is over; a run whose every call failed could not think, however few it made."""
        with self._lock:
            if self._fatal is None and at_end and self.calls and not self.answered and self._cause:
                cause = self._cause.get("model") or next(iter(self._cause.values()))
                return _unusable(f"all {self.calls} model and embedding calls failed", cause)
            return self._fatal


def _unusable(what: str, last: InferenceError) -> ModelsUnusable:
    message = str(last)
    prefix = f"[{last.endpoint}] "
    if last.endpoint and message.startswith(prefix):  # the new error adds the prefix again
        message = message[len(prefix):]
    return ModelsUnusable(f"{what}; the latest cause: {type(last).__name__}: {message}", last.endpoint)


class Watched:
    """A `LanguageModel` passing calls to `inner` and their outcomes to `watch`; with `accounting`, it
    also counts each call there (for an inner model that counts nothing itself: a replay, a test's model)."""

    def __init__(self, inner: LanguageModel, watch: HealthWatch, accounting: Accounting | None = None):
        self.inner = inner
        self.watch = watch
        self.accounting = accounting

    def __repr__(self) -> str:
        return repr(self.inner)

    async def complete_model(self, messages: Sequence[Message], answer: type[T], options: CallOptions) -> T:
        return await self._watched(options.purpose, self.inner.complete_model(messages, answer, options))

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        return await self._watched(options.purpose, self.inner.complete_text(messages, options))

    async def _watched(self, purpose: str, call: Awaitable[R]) -> R:
        start = time.monotonic()
        try:
            result = await call
        except InferenceError as exc:
            self.watch.observe(exc)
            if self.accounting is not None:
                self.accounting.call_done(purpose, time.monotonic() - start, type(exc).__name__)
            raise
        self.watch.observe(None)
        if self.accounting is not None:
            self.accounting.call_done(purpose, time.monotonic() - start)
        return result


class WatchedEmbedder:
    """An `Embedder` passing calls to `inner` and their outcomes to `watch` (as "embedding" calls)."""

    def __init__(self, inner: Embedder, watch: HealthWatch):
        self.inner = inner
        self.watch = watch

    def __repr__(self) -> str:
        return repr(self.inner)

    def __getattr__(self, name: str) -> Any:  # dim, model, cache, aclose: the embedder's own
        return getattr(self.inner, name)

    async def embed(self, texts: Sequence[str]) -> Any:
        try:
            vectors = await self.inner.embed(texts)
        except InferenceError as exc:
            self.watch.observe(exc, "embedding")
            raise
        self.watch.observe(None, "embedding")
        return vectors
