"""The protocols cognition codes against, and the errors it can get back.

Owns the boundary between the agents and every model behind them: "complete this chat into an
instance of this pydantic model", "complete into text", "embed these texts". Agents never see HTTP,
endpoints or retries; behind these protocols sit the server pool (`pool.py`), the embedded local
server (`local.py`), the recorder/replayer (`record.py`) and test fakes. Nothing here returns `None`
or a magic string: a call returns a valid answer or raises an `InferenceError` subclass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
from pydantic import BaseModel

from smallville.errors import SmallvilleError

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class CallOptions:
    """Per-request settings. `purpose` labels the call for accounting ("plan", "importance", ...)."""

    purpose: str
    temperature: float = 0.7
    seed: int | None = None
    max_tokens: int = 512
    extra: dict[str, object] = field(default_factory=dict)


class LanguageModel(Protocol):
    async def complete_model(self, messages: Sequence[Message], answer: type[T], options: CallOptions) -> T:
        """An instance of `answer`, validated; raises `AnswerInvalid` after the retries are spent."""
        ...

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        """Free text (non-empty)."""
        ...


class Embedder(Protocol):
    @property
    def dim(self) -> int:
        """The size of every vector. Read-only: a remote embedder learns it from its first answer."""
        ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dim), each row L2-normalised (so inner product = cosine)."""
        ...


# -- errors -------------------------------------------------------------------------------------------


class InferenceError(SmallvilleError):
    """A model call failed in a way the caller can handle. Messages name the endpoint, never a key."""

    def __init__(self, message: str, endpoint: str | None = None):
        self.endpoint = endpoint
        super().__init__(f"[{endpoint}] {message}" if endpoint else message)


class EndpointUnavailable(InferenceError):
    """Unreachable, timing out, or answering 5xx after the retries."""


class AuthenticationFailed(InferenceError):
    """401/403: a wrong or missing API key. Not retried."""


class ModelNotFound(InferenceError):
    """The endpoint does not serve the configured model. Not retried."""


class ResponseTooLarge(InferenceError):
    """A body over `max_response_bytes` (a server ignoring `max_tokens`, or a proxy's error page gone wild):
    reading stops at the limit. Retried elsewhere, and counted against the endpoint's breaker, since a server
    that sends one such answer tends to send the next."""


class ModelsUnusable(InferenceError):
    """Every one of a run's first calls failed: the models cannot answer at all (`health.HealthWatch`)."""


class RateLimited(InferenceError):
    """429 after the retries (Retry-After was honoured)."""


class RequestRejected(InferenceError):
    """A 4xx other than 401/403/404/429: the server refuses this request (too long, unsupported field...).
    Not retried."""


class AnswerInvalid(InferenceError):
    """The model's answers never fit the answer model (or were empty / cut by max_tokens)."""

    def __init__(self, message: str, endpoint: str | None = None, last_answer: str = ""):
        self.last_answer = last_answer
        super().__init__(message, endpoint)


class NoEndpointAvailable(InferenceError):
    """Every endpoint is out of rotation."""


class NotRecorded(InferenceError):
    """A replaying backend was asked for a call the recording does not hold."""
