"""The server pool: many OpenAI-compatible endpoints behind one `LanguageModel`.

Owns where a call goes and what happens when that place fails. Each endpoint gets one `AsyncOpenAI`
client (with `max_retries=0`: retrying is decided here, across endpoints, not inside one client), a
semaphore for its `max_concurrency` and a circuit breaker. A request goes to the endpoint with the least
outstanding work per unit of weight (ties by name, so the choice is deterministic for a given state).

Failures are sorted by what helps:
- 401/403 -> `AuthenticationFailed` and 404 -> `ModelNotFound` at once: retrying cannot fix a config;
- other 4xx -> `RequestRejected` (the request itself is wrong);
- 429 -> wait what Retry-After says (or fail over at once to an endpoint that is not rate-limited);
- connection errors, timeouts, 5xx and bodies that are not JSON -> fail over to another endpoint at once,
  or back off (exponential, jittered) when every endpoint has been tried; each counts towards the
  endpoint's breaker, which takes it out of rotation after `breaker_failures` consecutive failures and
  probes it (`GET /models`) after a cooldown that doubles while it stays down.
Structured answers (schema forms, validation, re-asking) are `structured.py`'s; this module only sends.
API keys live in the clients alone: never in settings, reprs, log lines, errors or recordings.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import openai

try:  # the openai client's HTTP layer: httpx2 from openai 3.x on, httpx before
    import httpx2 as _http  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import httpx as _http  # type: ignore[no-redef]
from pydantic import BaseModel

from smallville.inference.accounting import Accounting
from smallville.inference.base import (
    AuthenticationFailed,
    CallOptions,
    EndpointUnavailable,
    InferenceError,
    Message,
    ModelNotFound,
    NoEndpointAvailable,
    RateLimited,
)
from smallville.inference.settings import EndpointSettings, InferenceSettings, read_api_key
from smallville.inference.structured import (
    RawAnswer,
    complete_structured,
    complete_text_checked,
    request_messages,
    shared_response_format,
)

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger("smallville.inference")

_NO_KEY = "sk-no-key-set"  # the client insists on a key; local servers ignore it
_KEYLIKE = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_*\-.]{6,}", re.IGNORECASE)
_PROBE_COOLDOWN_CAP_S = 60.0


def _http_client(**kwargs: Any) -> Any:
    """openai's aiohttp transport where `openai[aiohttp]` is installed, else its httpx default. The aiohttp one
    is several times cheaper per request with many connections open (httpcore scans every pooled
    connection on each request), which is what makes 500+ requests/s on 2 cores possible."""
    try:
        return openai.DefaultAioHttpClient(**kwargs)
    except RuntimeError:
        return openai.DefaultAsyncHttpxClient(**kwargs)


class RequestRejected(InferenceError):
    """A 4xx other than 401/403/404/429: the server refuses this request (too long, unsupported field...).
    Not retried. (Defined here because `base.py` has no class for it.)"""


class _Retryable(Exception):
    def __init__(self, error: InferenceError, wait_s: float = 0.0, counts_for_breaker: bool = True):
        self.error = error
        self.wait_s = wait_s
        self.counts_for_breaker = counts_for_breaker


class _Endpoint:
    """One server: its client, limits and health. Never holds the key outside the client."""

    def __init__(self, cfg: EndpointSettings, cooldown_s: float):
        self.cfg = cfg
        self.name = cfg.name
        self.has_key = read_api_key(cfg.api_key_env) is not None
        timeout = openai.Timeout(cfg.timeout_s, connect=min(10.0, cfg.timeout_s))
        limits = _http.Limits(max_connections=cfg.max_concurrency, max_keepalive_connections=cfg.max_concurrency)
        self.client = openai.AsyncOpenAI(
            base_url=cfg.base_url, api_key=read_api_key(cfg.api_key_env) or _NO_KEY, max_retries=0, timeout=timeout,
            http_client=_http_client(limits=limits, timeout=timeout))
        self.semaphore = asyncio.Semaphore(cfg.max_concurrency)
        self.outstanding = 0
        self.failures = 0  # consecutive
        self.out = False
        self.probe_at = 0.0
        self.base_cooldown = cooldown_s
        self.cooldown = cooldown_s
        self.busy_until = 0.0  # Retry-After from a 429
        self.probe: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"_Endpoint({self.name!r}, {self.cfg.base_url!r}, model={self.cfg.model!r}, out={self.out})"


class ServerPool:
    """`LanguageModel` over the configured endpoints. Use `async with ServerPool(settings) as pool`."""

    def __init__(self, settings: InferenceSettings, accounting: Accounting | None = None, *,
                 rng: random.Random | None = None):
        if not settings.endpoints:
            raise InferenceError("no endpoint configured (start the embedded server and pass its endpoint)")
        self.settings = settings
        self.accounting = accounting or Accounting()
        self._endpoints = [_Endpoint(cfg, settings.breaker_cooldown_s)
                           for cfg in sorted(settings.endpoints, key=lambda c: c.name)]
        self._by_name = {ep.name: ep for ep in self._endpoints}
        self._jitter = rng or random.Random()  # wall-clock behaviour only: never reaches the simulation
        self._secrets = [k for c in settings.endpoints if (k := read_api_key(c.api_key_env)) and len(k) >= 4]

    def __repr__(self) -> str:
        return f"ServerPool({', '.join(ep.name for ep in self._endpoints)})"

    async def __aenter__(self) -> ServerPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for ep in self._endpoints:
            if ep.probe is not None:
                ep.probe.cancel()
            await ep.client.close()

    def status(self) -> list[dict[str, Any]]:
        """Per endpoint: in rotation or not, work outstanding, consecutive failures (JSON-safe)."""
        return [{"name": ep.name, "base_url": ep.cfg.base_url, "model": ep.cfg.model, "in_rotation": not ep.out,
                 "outstanding": ep.outstanding, "consecutive_failures": ep.failures} for ep in self._endpoints]

    async def list_models(self, endpoint: str) -> list[str]:
        """The model ids `GET /models` lists at one endpoint (no retries: a health check wants the truth)."""
        ep = self._by_name[endpoint]
        start = time.monotonic()
        try:
            page = await ep.client.models.list()
        except Exception as exc:
            failure = self._failure(ep, exc, time.monotonic() - start)
            raise (failure.error if isinstance(failure, _Retryable) else failure) from None
        return sorted(str(m.id) for m in page.data)

    # -- LanguageModel ----------------------------------------------------------------------------------
    async def complete_model(self, messages: Sequence[Message], answer: type[T], options: CallOptions) -> T:
        start = time.monotonic()
        try:
            result = await complete_structured(self._send, messages, answer, options,
                                               self.settings.answer_retries, self._invalid(options.purpose))
        except InferenceError as exc:
            self.accounting.call_done(options.purpose, time.monotonic() - start, type(exc).__name__)
            raise
        self.accounting.call_done(options.purpose, time.monotonic() - start)
        return result

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        start = time.monotonic()
        try:
            text = await complete_text_checked(lambda m, o: self._send(m, None, o), messages, options,
                                               self.settings.answer_retries, self._invalid(options.purpose))
        except InferenceError as exc:
            self.accounting.call_done(options.purpose, time.monotonic() - start, type(exc).__name__)
            raise
        self.accounting.call_done(options.purpose, time.monotonic() - start)
        return text

    def _invalid(self, purpose: str) -> Any:
        def note(endpoint: str, feedback: str) -> None:
            self.accounting.invalid_answer(purpose)
            log.info("[%s] invalid answer for %s: %s", endpoint, purpose, feedback[:200])
        return note

    # -- routing, retries, failover ---------------------------------------------------------------------
    def _pick(self, avoid: set[str]) -> _Endpoint | None:
        now = time.monotonic()
        live = []
        for ep in self._endpoints:
            if ep.out:
                if now >= ep.probe_at and ep.probe is None:
                    ep.probe = asyncio.get_running_loop().create_task(self._probe(ep))
            else:
                live.append(ep)
        if not live:
            return None
        fresh = [ep for ep in live if ep.name not in avoid and ep.busy_until <= now]
        candidates = fresh or [ep for ep in live if ep.name not in avoid] or live
        return min(candidates, key=lambda ep: (ep.outstanding / ep.cfg.weight, ep.name))

    def _backoff(self, attempt: int) -> float:
        delay = min(self.settings.backoff_max_s, self.settings.backoff_s * 2 ** max(0, attempt - 1))
        return delay / 2 + self._jitter.uniform(0, delay / 2)

    async def _send(self, messages: Sequence[Message], answer: type[BaseModel] | None,
                    options: CallOptions) -> RawAnswer:
        """One answer from some endpoint, after as many retries and failovers as the settings allow."""
        avoid: set[str] = set()
        attempt = 0
        while True:
            ep = self._pick(avoid)
            wait_s = 0.0
            if ep is None:
                error: InferenceError = NoEndpointAvailable(
                    "every endpoint is out of rotation after repeated failures: "
                    + ", ".join(e.name for e in self._endpoints))
            else:
                pause = ep.busy_until - time.monotonic()
                if pause > 0:  # every endpoint is rate-limited: honour Retry-After before sending, not after a 429
                    await asyncio.sleep(pause)
                try:
                    return await self._request(ep, messages, answer, options)
                except _Retryable as failure:
                    error, wait_s = failure.error, failure.wait_s
                    avoid.add(ep.name)
            if attempt >= self.settings.retries:
                raise error
            attempt += 1
            now = time.monotonic()
            failover = any(not e.out and e.name not in avoid and e.busy_until <= now for e in self._endpoints)
            self.accounting.retry(options.purpose, fallback=failover)
            if failover:
                log.info("%s; failing over", error)
                continue
            log.info("%s; retry %d/%d", error, attempt, self.settings.retries)
            delay = self._backoff(attempt)
            if wait_s > 0:  # Retry-After is a floor, never shortened by jitter
                delay = wait_s + self._jitter.uniform(0, 0.1 * wait_s)
            await asyncio.sleep(delay)
            avoid.clear()

    def _body(self, ep: _Endpoint, messages: Sequence[Message], answer: type[BaseModel] | None,
              options: CallOptions) -> dict[str, Any]:
        mode = ep.cfg.structured
        chat = request_messages(messages, answer, mode) if answer is not None else list(messages)
        body: dict[str, Any] = {"model": ep.cfg.model, "messages": [{"role": m.role, "content": m.content}
                                                                    for m in chat],
                                "temperature": options.temperature, "max_tokens": options.max_tokens}
        if options.seed is not None:
            body["seed"] = options.seed
        if answer is not None and (fmt := shared_response_format(answer, mode)) is not None:
            body["response_format"] = fmt
        for key, value in options.extra.items():  # sampling extras (penalties, top_p, ...) go as they are
            body.setdefault(key, value)
        return body

    async def _request(self, ep: _Endpoint, messages: Sequence[Message], answer: type[BaseModel] | None,
                       options: CallOptions) -> RawAnswer:
        body = self._body(ep, messages, answer, options)
        ep.outstanding += 1
        start = time.monotonic()
        try:
            async with ep.semaphore:
                start = time.monotonic()
                # `post` with the raw response, rather than `chat.completions.create`: the same client, auth and
                # typed errors, minus the request transform and response models, which cost more CPU than
                # everything else here (the answer is parsed and validated by `structured.py` anyway)
                response = await ep.client.post("/chat/completions", body=body, cast_to=_http.Response)
                data = json.loads(response.content)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
        except Exception as exc:
            raise self._failure(ep, exc, time.monotonic() - start) from None
        finally:
            ep.outstanding -= 1
        latency = time.monotonic() - start
        self._healthy(ep)
        usage = data.get("usage") or {}
        self.accounting.request_ok(ep.name, options.purpose, latency, int(usage.get("prompt_tokens") or 0),
                                   int(usage.get("completion_tokens") or 0))
        choices = data.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return RawAnswer("", None, ep.name, choices=0)
        message = choices[0].get("message") or {}
        return RawAnswer(str(message.get("content") or ""), choices[0].get("finish_reason"), ep.name)

    # -- health -----------------------------------------------------------------------------------------
    def _failure(self, ep: _Endpoint, exc: Exception, latency: float) -> Exception:
        """Sort an exception into a final error (returned) or a `_Retryable` (breaker updated)."""
        kind, final, retry = _classify(exc, ep, self._scrub)
        self.accounting.request_failed(ep.name, kind, latency)
        if final is not None:
            return final
        assert retry is not None
        if retry.counts_for_breaker:
            ep.failures += 1
            if not ep.out and ep.failures >= self.settings.breaker_failures:
                self._take_out(ep)
        else:
            ep.busy_until = time.monotonic() + retry.wait_s
        return retry

    def _healthy(self, ep: _Endpoint) -> None:
        ep.failures = 0
        ep.cooldown = ep.base_cooldown

    def _take_out(self, ep: _Endpoint) -> None:
        ep.out = True
        ep.probe_at = time.monotonic() + ep.cooldown
        self.accounting.breaker_opened(ep.name)
        log.warning("[%s] out of rotation after %d consecutive failures; probing again in %.1f s",
                    ep.name, ep.failures, ep.cooldown)

    async def _probe(self, ep: _Endpoint) -> None:
        try:
            await asyncio.wait_for(ep.client.models.list(), timeout=min(10.0, ep.cfg.timeout_s))
        except Exception as exc:  # any failure means "still down"
            ep.cooldown = min(_PROBE_COOLDOWN_CAP_S, ep.cooldown * 2)
            ep.probe_at = time.monotonic() + ep.cooldown
            log.info("[%s] still down (%s); next probe in %.1f s", ep.name, type(exc).__name__, ep.cooldown)
        else:
            # half-open: back in rotation, but one more failure takes it out again, and the cooldown stays
            # long until a real answer succeeds (a server whose /models works but whose chat fails cannot
            # flap back in every few seconds)
            ep.out, ep.failures = False, max(0, self.settings.breaker_failures - 1)
            log.warning("[%s] answers again: back in rotation", ep.name)
        finally:
            ep.probe = None

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _KEYLIKE.sub(lambda m: m.group(1) + "-***", text)


def _retry_after(response: Any) -> float:
    """Seconds from `retry-after-ms` / `retry-after` (seconds or an HTTP date); 1 s when absent."""
    if response is None:
        return 1.0
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after", "")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError):
        pass
    return 1.0


def _root_cause(exc: BaseException) -> str:
    # the aiohttp transport maps a dropped connection to a "timeout"; the innermost cause tells the truth
    seen = 0
    while exc.__cause__ is not None and seen < 10:
        exc, seen = exc.__cause__, seen + 1
    return type(exc).__name__


def _classify(exc: Exception, ep: _Endpoint, scrub: Any) -> tuple[str, InferenceError | None, _Retryable | None]:
    """(kind for accounting, final error or None, retryable or None)."""
    name = ep.name
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        hint = (f"the key in ${ep.cfg.api_key_env} was refused" if ep.has_key
                else f"no key: set ${ep.cfg.api_key_env}")
        return "auth", AuthenticationFailed(f"HTTP {exc.status_code}: {hint}", name), None
    if isinstance(exc, openai.NotFoundError):
        detail = scrub(str(exc.message))[:200]
        return "not_found", ModelNotFound(
            f"HTTP 404: model {ep.cfg.model!r} not served at {ep.cfg.base_url} ({detail})", name), None
    if isinstance(exc, openai.RateLimitError):
        wait = _retry_after(exc.response)
        return "429", None, _Retryable(RateLimited(f"HTTP 429: rate limited (Retry-After {wait:g} s)", name),
                                       wait_s=wait, counts_for_breaker=False)
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        cause = _root_cause(exc)
        if "timeout" in cause.lower() and "disconnect" not in cause.lower():
            return "timeout", None, _Retryable(EndpointUnavailable(
                f"no answer within {ep.cfg.timeout_s:g} s ({cause})", name))
        return "connection", None, _Retryable(EndpointUnavailable(
            f"unreachable or connection lost ({cause}) at {ep.cfg.base_url}", name))
    if isinstance(exc, openai.APIStatusError):
        message = scrub(str(exc.message))[:300]
        if exc.status_code >= 500:
            return f"http_{exc.status_code}", None, _Retryable(
                EndpointUnavailable(f"HTTP {exc.status_code}: {message}", name))
        return f"http_{exc.status_code}", RequestRejected(f"HTTP {exc.status_code}: {message}", name), None
    if isinstance(exc, ValueError | UnicodeDecodeError | openai.APIResponseValidationError):
        return "bad_body", None, _Retryable(EndpointUnavailable("answered with a body that is not JSON", name))
    return "unexpected", None, _Retryable(EndpointUnavailable(f"unexpected {type(exc).__name__}: "
                                                              f"{scrub(str(exc))[:200]}", name))
