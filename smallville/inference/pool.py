"""The server pool: many OpenAI-compatible endpoints behind one `LanguageModel`.

Owns where a call goes and what happens when that place fails. Each endpoint gets one `AsyncOpenAI`
client (with `max_retries=0`: retrying is decided here, across endpoints, not inside one client), a
semaphore for its `max_concurrency` and a circuit breaker. A request goes to the endpoint with the least
outstanding work per unit of weight (ties by name, so the choice is deterministic for a given state).

Failures are sorted by what helps:
- 401/403 -> `AuthenticationFailed` and 404 -> `ModelNotFound` at once: retrying cannot fix a config;
- other 4xx -> `RequestRejected` (the request itself is wrong);
- 429 -> wait what Retry-After says, at most `retry_after_max_s` (or fail over at once to an endpoint that
  is not rate-limited);
- connection errors, timeouts, 5xx, bodies that are not a chat completion and bodies over
  `max_response_bytes` (`ResponseTooLarge`: reading stops there) -> fail over to another endpoint at once,
  or back off (exponential, jittered) when every endpoint has been tried; each counts towards the
  endpoint's breaker, which takes it out of rotation after `breaker_failures` consecutive failures and
  probes it (`GET /models`: any answer below 500 means it is up) after a cooldown that doubles while it
  stays down.
A request may take `timeout_for(max_tokens)` in all (a deadline over the whole exchange, body included). A
timeout at a single-slot server on this machine (the embedded one: `max_concurrency = 1`, loopback) is not
retried, and the next request waits until the server has finished the abandoned generation (`GET /models`
queues behind it there): llama-cpp-python goes on generating for a client that has gone, so a retry would
queue behind its own ghost with its clock running. A completion's text longer than `max_tokens` can be
(16 characters a token) is cut there and marked `length`, as a server that honours `max_tokens` would.
A base URL's query (`?api-key=KEY`, for proxies that want it there) is sent with every request.
Structured answers (schema forms, validation, re-asking) are `structured.py`'s; this module only sends.
`classify_api_error` is shared with the remote embedder (`embed.py`), so both report a failure alike.
API keys live in the clients alone: never in settings, reprs, log lines, errors or recordings; an error
raised here never chains the client's exception (which holds the request, Authorization header included).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ipaddress
import json
import logging
import math
import random
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import openai

try:  # the openai client's HTTP layer: httpx2 from openai 3.x on, httpx before
    import httpx2 as _http
except ImportError:  # pragma: no cover
    # a second binding of `_http`; and where httpx2 is (openai 3.x), httpx is usually absent: not found under
    # the project's mypy settings, silenced under --ignore-missing-imports (hence unused-ignore too)
    import httpx as _http  # type: ignore[no-redef, import-not-found, unused-ignore]
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
    RequestRejected,
    ResponseTooLarge,
)
from smallville.inference.settings import (
    EndpointSettings,
    InferenceSettings,
    display_url,
    is_masked_url,
    read_api_key,
    split_base_url,
)
from smallville.inference.structured import (
    RawAnswer,
    complete_structured,
    complete_text_checked,
    request_messages,
    shared_response_format,
)

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
log = logging.getLogger("smallville.inference")

_NO_KEY = "sk-no-key-set"  # the client insists on a key; local servers ignore it
_KEYLIKE = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_*\-.]{6,}", re.IGNORECASE)
_PROBE_COOLDOWN_CAP_S = 60.0
_MAX_CHARS_PER_TOKEN = 16  # far above any tokenizer's average: a longer text ignored max_tokens
_MIN_TEXT_CAP = 1024
_URL_QUERY_VALUE = re.compile(r"([?&][^=&#\s\"']+=)[^&#\s\"']*")


class _MaskUrlQueries(logging.Filter):
    """httpx logs every request's URL at INFO ("HTTP Request: POST http://host/v1/chat/completions?api-key=KEY
    ..."), which `smallville -v` shows: query values are masked before any handler sees the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _URL_QUERY_VALUE.sub(r"\1***", message), None
        return True


_MASK_QUERIES = _MaskUrlQueries()
for _name in ("httpx", "httpx2"):  # a logger's filters see the records logged at it: these are httpx's own
    logging.getLogger(_name).addFilter(_MASK_QUERIES)


def _http_client(**kwargs: Any) -> Any:
    """openai's aiohttp transport where `openai[aiohttp]` is installed, else its httpx default. The aiohttp one
    is several times cheaper per request with many connections open (httpcore scans every pooled
    connection on each request), which is what makes 500+ requests/s on 2 cores possible."""
    try:
        return openai.DefaultAioHttpClient(**kwargs)
    except RuntimeError:
        return openai.DefaultAsyncHttpxClient(**kwargs)


__all__ = ["ApiFailure", "RequestRejected", "ServerPool", "classify_api_error"]  # RequestRejected: from base


@dataclass(frozen=True)
class ApiFailure:
    """What one failed request means: `kind` for accounting, the `error` a caller would get, and whether
    another try (here or elsewhere) may help; `wait_s` is a 429's Retry-After, already capped."""

    kind: str
    error: InferenceError
    retryable: bool
    wait_s: float = 0.0
    counts_for_breaker: bool = True


class _Retryable(Exception):
    def __init__(self, failure: ApiFailure):
        self.error = failure.error
        self.wait_s = failure.wait_s


class _TooLarge(Exception):
    """A body over the limit (`declared`: its Content-Length, when the server sent one)."""

    def __init__(self, limit: int, declared: int | None = None):
        self.limit = limit
        self.declared = declared
        super().__init__(f"body over {limit} bytes")


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Endpoint:
    """One server: its client, limits and health. Never holds the key outside the client."""

    def __init__(self, cfg: EndpointSettings, cooldown_s: float):
        self.cfg = cfg
        self.name = cfg.name
        self.url = display_url(cfg.base_url)  # for messages: the base URL itself may hold a key
        if is_masked_url(cfg.base_url):
            raise InferenceError(f"{self.url} is a URL as a save records it, its key masked: give the endpoint's "
                                 f"real URL in the config or OPENAI_BASE_URL", cfg.name)
        self.has_key = read_api_key(cfg.api_key_env) is not None
        base_url, query = split_base_url(cfg.base_url)
        self.query_secrets = [value for value in query.values() if len(value) >= 4]
        # one generation at a time, on this machine: a timeout there leaves the generation running (see above)
        self.single_slot = cfg.max_concurrency == 1 and _is_loopback(urllib.parse.urlsplit(base_url).hostname)
        timeout = openai.Timeout(cfg.timeout_s, connect=min(10.0, cfg.timeout_s))
        limits = _http.Limits(max_connections=cfg.max_concurrency, max_keepalive_connections=cfg.max_concurrency)
        self.client = openai.AsyncOpenAI(
            base_url=base_url, default_query=query or None, api_key=read_api_key(cfg.api_key_env) or _NO_KEY,
            max_retries=0, timeout=timeout, http_client=_http_client(limits=limits, timeout=timeout))
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
        return f"_Endpoint({self.name!r}, {self.url!r}, model={self.cfg.model!r}, out={self.out})"


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
        self._secrets += [value for ep in self._endpoints for value in ep.query_secrets]

    def __repr__(self) -> str:
        return f"ServerPool({', '.join(ep.name for ep in self._endpoints)})"

    async def __aenter__(self) -> ServerPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        probes = [ep.probe for ep in self._endpoints if ep.probe is not None]
        for probe in probes:
            probe.cancel()
        # awaited, so that no probe outlives the clients it uses ("Task was destroyed but it is pending")
        await asyncio.gather(*probes, return_exceptions=True)
        for ep in self._endpoints:
            await ep.client.close()

    def status(self) -> list[dict[str, Any]]:
        """Per endpoint: in rotation or not, work outstanding, consecutive failures (JSON-safe)."""
        return [{"name": ep.name, "base_url": ep.url, "model": ep.cfg.model, "in_rotation": not ep.out,
                 "outstanding": ep.outstanding, "consecutive_failures": ep.failures} for ep in self._endpoints]

    async def list_models(self, endpoint: str) -> list[str]:
        """The model ids `GET /models` lists at one endpoint (no retries: a health check wants the truth)."""
        ep = self._by_name[endpoint]
        start = time.monotonic()
        caught: Exception | None = None
        try:
            page = await ep.client.models.list()
        except Exception as exc:
            caught = exc
        if caught is not None:  # raised outside the handler: see the module docstring
            failure = self._failure(ep, caught, time.monotonic() - start, ep.cfg.timeout_s)
            del caught
            raise failure.error if isinstance(failure, _Retryable) else failure
        return sorted(str(m.id) for m in page.data)

    # -- LanguageModel ----------------------------------------------------------------------------------
    async def complete_model(self, messages: Sequence[Message], answer: type[T], options: CallOptions) -> T:
        return await self._accounted(options.purpose, complete_structured(
            self._send, messages, answer, options, self.settings.answer_retries, self._invalid(options.purpose)))

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        return await self._accounted(options.purpose, complete_text_checked(
            self._send_text, messages, options, self.settings.answer_retries, self._invalid(options.purpose)))

    async def _send_text(self, messages: Sequence[Message], options: CallOptions) -> RawAnswer:
        return await self._send(messages, None, options)

    async def _accounted(self, purpose: str, call: Awaitable[R]) -> R:
        """Await one caller's call and count it (with the error class when it raised a typed error)."""
        start = time.monotonic()
        try:
            result = await call
        except InferenceError as exc:
            self.accounting.call_done(purpose, time.monotonic() - start, type(exc).__name__)
            raise
        self.accounting.call_done(purpose, time.monotonic() - start)
        return result

    def _invalid(self, purpose: str) -> Callable[[str, str], None]:
        def note(endpoint: str, feedback: str) -> None:
            self.accounting.invalid_answer(purpose)
            log.debug("[%s] invalid answer for %s: %s", endpoint, purpose, feedback[:200])
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
              options: CallOptions) -> bytes:
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
        # Serialised here: the client sends bytes as they are, where a dict would be copied and re-encoded
        # by its request machinery on every request (CPU that 1,000 concurrent calls feel).
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    async def _request(self, ep: _Endpoint, messages: Sequence[Message], answer: type[BaseModel] | None,
                       options: CallOptions) -> RawAnswer:
        payload = self._body(ep, messages, answer, options)
        timeout_s = ep.cfg.timeout_for(options.max_tokens)
        caught: Exception | None = None
        abandoned = False  # a generation left running at a single-slot server
        ep.outstanding += 1
        start = time.monotonic()
        latency = 0.0
        try:
            async with ep.semaphore:
                start = time.monotonic()
                try:
                    body = await self._post(ep, payload, timeout_s)
                    raw, prompt_tokens, completion_tokens = _parse_completion(body, ep.name, options.max_tokens)
                except Exception as exc:
                    caught = exc
                latency = time.monotonic() - start
                abandoned = caught is not None and ep.single_slot and _is_timeout(caught)
                if abandoned:  # still holding the slot: nothing of ours queues behind the ghost meanwhile
                    await self._drain(ep, timeout_s)
        finally:
            ep.outstanding -= 1
        if caught is not None:  # raised outside the handler: see the module docstring
            failure = self._failure(ep, caught, latency, timeout_s, retry=not abandoned)
            del caught
            raise failure
        self._healthy(ep)
        self.accounting.request_ok(ep.name, options.purpose, latency, prompt_tokens, completion_tokens)
        return raw

    async def _post(self, ep: _Endpoint, payload: bytes, timeout_s: float) -> bytes:
        """The body of one chat completion request, read up to `max_response_bytes`."""
        limit = self.settings.max_response_bytes
        # A deadline over the whole exchange: the transport's read timeout restarts with every chunk, so a
        # server dribbling its answer would otherwise never time out.
        async with asyncio.timeout(timeout_s):
            # `post` with the raw response, rather than `chat.completions.create`: the same client, auth and typed
            # errors, minus the request transform and response models, which cost more CPU than everything else
            # here (the answer is parsed and validated by `structured.py` anyway). Streamed, so that a body too
            # large is refused by its Content-Length or cut at the limit, never read whole first.
            response = await ep.client.post("/chat/completions", content=payload, cast_to=_http.Response,
                                            stream=True, options={"timeout": openai.Timeout(
                                                timeout_s, connect=min(10.0, timeout_s))})
            try:
                return await _read_capped(response, limit)
            finally:
                await response.aclose()

    async def _drain(self, ep: _Endpoint, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until a single-slot server has finished a generation we abandoned:
        llama-cpp-python answers `GET /models` only once its model is free."""
        log.info("[%s] no answer within %g s: waiting for the server to finish that generation before sending "
                 "it another request", ep.name, timeout_s)
        with contextlib.suppress(Exception):  # whatever it answers, or not, the wait is over
            async with asyncio.timeout(timeout_s):
                await ep.client.get("/models", cast_to=_http.Response,
                                    options={"timeout": openai.Timeout(timeout_s, connect=min(10.0, timeout_s))})

    # -- health -----------------------------------------------------------------------------------------
    def _failure(self, ep: _Endpoint, exc: Exception, latency: float, timeout_s: float, *,
                 retry: bool = True) -> Exception:
        """Sort an exception into a final error (returned) or a `_Retryable` (breaker updated). `retry=False`:
        final even where another try could help (the breaker still counts it)."""
        failure = classify_api_error(exc, endpoint=ep.name, url=ep.url, model=ep.cfg.model, key_env=ep.cfg.api_key_env,
                                     has_key=ep.has_key, timeout_s=timeout_s, scrub=self._scrub,
                                     retry_after_max_s=self.settings.retry_after_max_s)
        self.accounting.request_failed(ep.name, failure.kind, latency)
        if not failure.retryable:
            return failure.error
        if failure.counts_for_breaker:
            ep.failures += 1
            if not ep.out and ep.failures >= self.settings.breaker_failures:
                self._take_out(ep)
        else:
            ep.busy_until = time.monotonic() + failure.wait_s
        return _Retryable(failure) if retry else failure.error

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
            down = await self._probe_once(ep)
            if down:
                ep.cooldown = min(_PROBE_COOLDOWN_CAP_S, ep.cooldown * 2)
                ep.probe_at = time.monotonic() + ep.cooldown
                log.info("[%s] still down (%s); next probe in %.1f s", ep.name, down, ep.cooldown)
                return
            # half-open: back in rotation, but one more failure takes it out again, and the cooldown stays
            # long until a real answer succeeds (a server whose /models works but whose chat fails cannot
            # flap back in every few seconds)
            ep.out, ep.failures = False, max(0, self.settings.breaker_failures - 1)
            log.warning("[%s] answers again: back in rotation", ep.name)
        finally:
            ep.probe = None

    @staticmethod
    async def _probe_once(ep: _Endpoint) -> str:
        """Why the endpoint is still down, or "" when it answers."""
        try:
            await asyncio.wait_for(ep.client.models.list(), timeout=min(10.0, ep.cfg.timeout_s))
        except openai.APIStatusError as exc:
            # It answered: up, even where `/models` is not served (404) or refused (401). Chat requests tell
            # the rest; requiring a 200 would keep such a server out of rotation for good.
            return f"HTTP {exc.status_code}" if exc.status_code >= 500 else ""
        except Exception as exc:  # unreachable, timing out, a body that is not JSON: still down
            return type(exc).__name__
        return ""

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


async def _read_capped(response: Any, limit: int) -> bytes:
    """The body of a streamed response, or `_TooLarge` as soon as it is known to pass `limit` bytes."""
    declared = str(response.headers.get("content-length", ""))
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge(limit, int(declared))
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise _TooLarge(limit)
    return bytes(body)


def _is_timeout(exc: Exception) -> bool:
    """Whether the server was still working when we gave up (as `classify_api_error` tells a timeout)."""
    if isinstance(exc, TimeoutError):  # the deadline over the whole exchange
        return True
    # the transport's own timeouts; the aiohttp one reports a dropped connection as a "timeout" too
    cause = _root_cause(exc).lower() if isinstance(exc, openai.APIConnectionError) else ""
    return "timeout" in cause and "disconnect" not in cause


def _root_cause(exc: BaseException) -> str:
    # the aiohttp transport maps a dropped connection to a "timeout"; the innermost cause tells the truth
    seen = 0
    while exc.__cause__ is not None and seen < 10:
        exc, seen = exc.__cause__, seen + 1
    return type(exc).__name__


def classify_api_error(exc: Exception, *, endpoint: str, url: str, model: str, key_env: str, has_key: bool,
                       timeout_s: float, scrub: Callable[[str], str], retry_after_max_s: float) -> ApiFailure:
    """What an exception from the openai client means for the caller. `url` is the display form
    (`settings.display_url`); `scrub` removes keys from a server's own words before they are quoted."""
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        hint = f"the key in ${key_env} was refused" if has_key else f"no key: set ${key_env}"
        return ApiFailure("auth", AuthenticationFailed(f"HTTP {exc.status_code}: {hint}", endpoint), False)
    if isinstance(exc, openai.NotFoundError):
        detail = scrub(str(exc.message))[:200]
        return ApiFailure("not_found", ModelNotFound(f"HTTP 404: model {model!r} not served at {url} ({detail})",
                                                     endpoint), False)
    if isinstance(exc, openai.RateLimitError):
        # capped: "Retry-After: 86400" (or inf) must not park a call, and the endpoint with it, for a day
        wait = min(_retry_after(exc.response), retry_after_max_s)
        return ApiFailure("429", RateLimited(f"HTTP 429: rate limited (Retry-After {wait:g} s)", endpoint), True,
                          wait_s=wait, counts_for_breaker=False)
    if isinstance(exc, _TooLarge):
        size = f"Content-Length {exc.declared:,}" if exc.declared is not None else "it went on"
        return ApiFailure("too_large", ResponseTooLarge(
            f"an answer over max_response_bytes ({exc.limit:,} bytes; {size}) from {url}: reading stopped there "
            f"(does the server ignore max_tokens?)", endpoint), True)
    if isinstance(exc, TimeoutError):  # the deadline over the whole exchange (`asyncio.timeout`)
        return ApiFailure("timeout", EndpointUnavailable(f"no answer within {timeout_s:g} s at {url}", endpoint), True)
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        cause = _root_cause(exc)
        if "timeout" in cause.lower() and "disconnect" not in cause.lower():
            return ApiFailure("timeout", EndpointUnavailable(f"no answer within {timeout_s:g} s ({cause})", endpoint),
                              True)
        return ApiFailure("connection", EndpointUnavailable(
            f"unreachable or connection lost ({cause}) at {url}", endpoint), True)
    if isinstance(exc, openai.APIStatusError):
        message = scrub(str(exc.message))[:300]
        if exc.status_code >= 500:
            return ApiFailure(f"http_{exc.status_code}", EndpointUnavailable(f"HTTP {exc.status_code}: {message}",
                                                                             endpoint), True)
        return ApiFailure(f"http_{exc.status_code}", RequestRejected(f"HTTP {exc.status_code}: {message}", endpoint),
                          False)
    if isinstance(exc, ValueError | UnicodeDecodeError | RecursionError | openai.APIResponseValidationError):
        return ApiFailure("bad_body", EndpointUnavailable(f"answered with a body that is not a valid answer "
                                                          f"({scrub(str(exc))[:100]})", endpoint), True)
    return ApiFailure("unexpected", EndpointUnavailable(f"unexpected {type(exc).__name__}: {scrub(str(exc))[:200]}",
                                                        endpoint), True)


def _tokens(value: object) -> int:
    # usage counts are accounting, not the answer: a server that sends nonsense there still answered
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return int(value)
    return 0


def _content_text(content: object) -> str:
    """A message's content: a string, null, or (some servers) a list of `{"type": "text", "text": ...}` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        texts = [part.get("text") for part in content if part.get("type", "text") == "text"]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    raise ValueError(f"message content of type {type(content).__name__}")


def _parse_completion(body: bytes, endpoint: str, max_tokens: int = 0) -> tuple[RawAnswer, int, int]:
    """(answer, prompt tokens, completion tokens) from a chat completion body. ValueError for a body that is
    not one, so that it counts as the endpoint's fault (retried elsewhere), never as a raw TypeError. A text
    longer than `max_tokens` allows is cut and marked `length` (0: no cut)."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    usage = data.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    tokens = _tokens(usage.get("prompt_tokens")), _tokens(usage.get("completion_tokens"))
    choices = data.get("choices")
    if choices is None or choices == []:
        return RawAnswer("", None, endpoint, choices=0), *tokens
    if not isinstance(choices, list):
        raise ValueError("`choices` is not a list")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise ValueError("a choice is not an object")
    message = choice.get("message")
    if message is None:
        message = {}
    if not isinstance(message, dict):
        raise ValueError("`message` is not an object")
    finish = choice.get("finish_reason")
    text, reason = _content_text(message.get("content")), finish if isinstance(finish, str) else None
    cap = max(_MIN_TEXT_CAP, max_tokens * _MAX_CHARS_PER_TOKEN)
    if max_tokens and len(text) > cap:
        # The server ignored max_tokens. Cut as one that honours it would: the caller re-asks a structured answer
        # (with more room, bounded) and takes a text as cut, and no recording or re-ask carries megabytes.
        log.debug("[%s] an answer of %d characters for max_tokens=%d: cut to %d", endpoint, len(text), max_tokens, cap)
        text, reason = text[:cap], "length"
    return RawAnswer(text, reason, endpoint), *tokens
