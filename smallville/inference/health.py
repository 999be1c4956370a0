"""Whether a run can think at all: a watch over the outcome of every model call it makes.

Owns the verdict the run's loop asks for between ticks. The minds catch every `InferenceError` and fall
back to a default (a resident is never left without an answer), so without this a run whose endpoint is
refused, hangs, answers 500 or serves another model goes on to the end on defaults alone and reports
success. `HealthWatch.fatal()` says when to stop instead:
- at once after a configuration error no retry can fix (`ModelNotFound`, `AuthenticationFailed`);
- when every one of the run's first `first_calls` calls failed (nothing ever answered).
An answer that fits no schema even after the re-asks (`AnswerInvalid`) counts as a failure for the second
rule only: a server whose every answer is unusable (not JSON, not the schema) gives the run nothing to
think with, while a weak model that fails now and then (the embedded SmolLM2, a handful in a day) is never
wrong on *every* one of its first calls.

`Watched` is the `LanguageModel` wrapper that feeds the watch; `session.open_models` puts it outermost, so
it sees the calls whatever is inside (the pool, a recorder, a replayer, a caller's own model), and counts
them into the run's accounting where nothing inside does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from smallville.inference.accounting import Accounting
from smallville.inference.base import (
    AuthenticationFailed,
    CallOptions,
    InferenceError,
    LanguageModel,
    Message,
    ModelNotFound,
    ModelsUnusable,
)

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")

#: Errors that retrying, waiting or another tick cannot fix: the configuration must change.
CONFIG_ERRORS: tuple[type[InferenceError], ...] = (ModelNotFound, AuthenticationFailed)


class HealthWatch:
    """The outcomes of a run's calls, reduced to a verdict. Safe from several threads."""

    def __init__(self, first_calls: int = 8):
        self.first_calls = first_calls  # 0: the "nothing ever answered" rule is off
        self.calls = 0
        self.answered = 0  # calls answered with something usable
        self._fatal: InferenceError | None = None
        self._cause: InferenceError | None = None  # the latest failure that names an endpoint
        self._lock = threading.Lock()

    def observe(self, error: InferenceError | None) -> None:
        """One call ended: `None` when it succeeded, else the error it raised."""
        with self._lock:
            self.calls += 1
            if error is None:
                self.answered += 1
                return
            if error.endpoint or self._cause is None:
                # "every endpoint is out of rotation" names none: the failure that took them out says more
                self._cause = error
            if self._fatal is not None:
                return
            if isinstance(error, CONFIG_ERRORS):
                self._fatal = error
            elif self.first_calls and self.answered == 0 and self.calls >= self.first_calls:
                self._fatal = _unusable(self.first_calls, self._cause)

    def fatal(self) -> InferenceError | None:
        """Why the run cannot think (naming the endpoint, never a key), or None while it can."""
        with self._lock:
            return self._fatal


def _unusable(calls: int, last: InferenceError) -> ModelsUnusable:
    message = str(last)
    prefix = f"[{last.endpoint}] "
    if last.endpoint and message.startswith(prefix):  # the new error adds the prefix again
        message = message[len(prefix):]
    return ModelsUnusable(f"all of the first {calls} model calls failed; the latest cause: {type(last).__name__}: "
                          f"{message}", last.endpoint)


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
