"""Helpers for the inference tests: fake servers on loopback and settings that point at them."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from smallville.inference.base import CallOptions, Message
from smallville.inference.settings import EndpointSettings, InferenceSettings
from smallville.testing.fake_server import FakeServer

R = TypeVar("R")

SECRET = "sk-test-SMALLVILLE-SECRET-4f9c2a7e1b"  # recognisable: grep for it everywhere
KEY_ENV = "SMALLVILLE_TEST_API_KEY"
CHAT = [Message("system", "You are Klaus Mueller."), Message("user", "Plan your morning.")]


class Step(BaseModel):
    minutes: int = Field(ge=5, le=60)
    action: str
    place: Literal["cafe", "library", "home"]


class Plan(BaseModel):
    summary: str
    steps: list[Step] = Field(min_length=1)
    mood: str | None = None


def opts(purpose: str = "plan", **kw: Any) -> CallOptions:
    return CallOptions(purpose, **kw)


def settings_for(*servers: FakeServer, names: tuple[str, ...] = ("a", "b", "c"), **kw: Any) -> InferenceSettings:
    endpoint_kw = {k: kw.pop(k) for k in ("structured", "timeout_s", "max_concurrency", "model", "api_key_env")
                   if k in kw}
    weights = kw.pop("weights", None)
    endpoints = [EndpointSettings(name=names[i], base_url=s.base_url, model=endpoint_kw.get("model", "fake-model"),
                                  weight=weights[i] if weights else 1.0,
                                  **{k: v for k, v in endpoint_kw.items() if k != "model"})
                 for i, s in enumerate(servers)]
    defaults: dict[str, Any] = {"retries": 4, "backoff_s": 0.01, "backoff_max_s": 0.05, "breaker_failures": 3,
                                "breaker_cooldown_s": 0.2}
    defaults.update(kw)
    return InferenceSettings(endpoints=endpoints, **defaults)


@contextmanager
def servers(n: int = 1, **kw: Any) -> Iterator[list[FakeServer]]:
    started = [FakeServer(**kw).start() for _ in range(n)]
    try:
        yield started
    finally:
        for server in started:
            server.stop()


def run(coro: Coroutine[Any, Any, R]) -> R:
    return asyncio.run(asyncio.wait_for(coro, timeout=30))
