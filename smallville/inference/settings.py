"""Inference settings: which servers answer the town's model calls, and how hard the client tries.

Owns the `[inference]` section of the TOML settings and the environment variables that override it.
API keys are never settings: an endpoint names the environment variable that holds its key
(`api_key_env`, default `OPENAI_API_KEY`) and the pool reads it when it builds the client, so a key can
never end up in a saved manifest, a repr or an error message.

Environment overrides (OpenAI-style names, applied by `apply_env`):
- `OPENAI_BASE_URL`: replaces the configured endpoints by one endpoint named `env` at that URL; its model
  is `SMALLVILLE_MODEL`, else the first configured endpoint's model (one of the two is required).
- `SMALLVILLE_MODEL`: without `OPENAI_BASE_URL`, the model of every configured endpoint; with no endpoint
  configured it means OpenAI's own API (`https://api.openai.com/v1`).
- `OPENAI_API_KEY`: the key (read at client construction, never stored here).

An empty endpoint list means "use the embedded local server".
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from smallville.errors import ConfigError

StructuredMode = Literal["json_schema", "json_object_schema", "prompt"]
"""How an endpoint is asked for a schema-shaped answer:
`json_schema`: the standard `response_format` (vLLM, SGLang, llama.cpp's llama-server, OpenAI);
`json_object_schema`: `{"type": "json_object", "schema": ...}` (llama-cpp-python's server, which answers
HTTP 500 to the standard form); `prompt`: the schema goes into the prompt (any server, last resort)."""

OPENAI_API_URL = "https://api.openai.com/v1"
ENV_ENDPOINT_NAME = "env"


def _check_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1)")
    if "@" in urllib.parse.urlsplit(value).netloc:
        # the client sends the key as a bearer token and refuses a URL with credentials besides; and a URL is
        # shown in errors and tables, where a key must never be
        raise ValueError("must not hold credentials (user:key@host): put the key in the variable api_key_env names")
    return value


HttpUrl = Annotated[str, AfterValidator(_check_url)]
"""An http(s) base URL, trimmed of spaces and the trailing slash (one validator for every endpoint kind)."""

MASK = "***"


def split_base_url(url: str) -> tuple[str, dict[str, str]]:
    """(`url` without its query, the query's parameters). Some proxies take their key as a query parameter
    (`http://host/v1?api-key=KEY`); the client must send it on every request (`default_query`) rather
    than glue paths after it (`/v1?api-key=KEY/chat/completions` reaches no route)."""
    parts = urllib.parse.urlsplit(url)
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return base, dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))


def is_masked_url(url: str) -> bool:
    """Whether `url` is the masked form `display_url` writes (a save's manifest holds its URLs so): such a
    URL lost its key and must never be used to connect."""
    parts = urllib.parse.urlsplit(url)
    password = parts.netloc.rpartition("@")[0].partition(":")[2] if "@" in parts.netloc else ""
    values = [v for _, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    return password == MASK or MASK in values


def display_url(url: str) -> str:
    """`url` as it may be shown (errors, logs, status, the doctor's table): a password in the URL
    (`https://user:KEY@host/v1`) and every query value (`?api-key=KEY`) are masked. Some proxies take their
    key there, and the URL is printed far more often than the key variable is read."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:{MASK}@{host}" if ":" in user else f"{MASK}@{host}"
    query = "&".join(f"{k}={MASK}" for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class EndpointSettings(BaseModel):
    """One OpenAI-compatible server serving one model."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    base_url: HttpUrl
    model: str = Field(min_length=1)
    # defaults are given as `default=`: type checkers read a field's default only from that keyword, and would
    # otherwise call every such field required in `EndpointSettings(...)` and the like
    api_key_env: str = Field(default="OPENAI_API_KEY", min_length=1,
                             description="environment variable holding the key")
    weight: float = Field(default=1.0, gt=0, description="share of the work relative to the other endpoints")
    max_concurrency: int = Field(default=32, ge=1, le=4096, description="requests in flight at once")
    structured: StructuredMode = "json_schema"
    timeout_s: float = Field(default=120.0, gt=0, le=3600,
                             description="per request (plus timeout_per_token_s each token)")
    timeout_per_token_s: float = Field(default=0.0, ge=0, le=60, description="added to timeout_s per max_tokens asked: "
                                       "for a slow server whose answer time grows with its length")

    def timeout_for(self, max_tokens: int) -> float:
        """The time one request asking for `max_tokens` may take."""
        return self.timeout_s + self.timeout_per_token_s * max(0, max_tokens)


class EmbeddingEndpointSettings(BaseModel):
    """An OpenAI-compatible `/v1/embeddings` endpoint used instead of the local sentence-transformers."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="embeddings", min_length=1, max_length=64)
    base_url: HttpUrl
    model: str = Field(min_length=1)
    api_key_env: str = Field(default="OPENAI_API_KEY", min_length=1)
    dim: int | None = Field(default=None, gt=0, le=65536,
                            description="vector size; learnt from the first answer if unset")
    max_batch: int = Field(default=256, ge=1, le=4096, description="texts per request")
    timeout_s: float = Field(default=30.0, gt=0, le=3600)


class InferenceSettings(BaseModel):
    """The `[inference]` section: endpoints plus the client's retry, backoff and breaker policy."""

    model_config = ConfigDict(extra="forbid")

    endpoints: list[EndpointSettings] = Field(default_factory=list)
    retries: int = Field(default=5, ge=0, le=50, description="extra attempts per call (failovers included)")
    backoff_s: float = Field(default=0.5, ge=0, le=60, description="first backoff; doubles per retry, with jitter")
    backoff_max_s: float = Field(default=20.0, ge=0, le=600)
    retry_after_max_s: float = Field(default=60.0, ge=0, le=3600, description="longest Retry-After honoured")
    answer_retries: int = Field(default=2, ge=0, le=10, description="re-asks after an answer that fits no schema")
    breaker_failures: int = Field(default=5, ge=1, le=1000,
                                  description="consecutive failures that take an endpoint out")
    breaker_cooldown_s: float = Field(default=5.0, gt=0, le=3600, description="wait before probing it back in")
    max_response_bytes: int = Field(default=1 << 20, ge=4096, le=1 << 30, description="largest answer body read; a "
                                    "larger one fails as ResponseTooLarge (a server that ignores max_tokens)")
    stop_after_failures: int = Field(default=8, ge=0, le=100_000, description="a run whose model (or embedding) calls "
                                     "fail N times in a row cannot think and stops (0: only on a config error)")
    embedding: EmbeddingEndpointSettings | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> InferenceSettings:
        names = [e.name for e in self.endpoints]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"endpoint names must be unique: {', '.join(duplicates)}")
        if self.backoff_max_s < self.backoff_s:
            raise ValueError("backoff_max_s must be >= backoff_s")
        return self

    @property
    def uses_embedded_server(self) -> bool:
        return not self.endpoints


def _errors(exc: ValidationError, prefix: str) -> str:
    parts = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        parts.append(f"{prefix}{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_inference_settings(raw: Mapping[str, object], prefix: str = "inference") -> InferenceSettings:
    """Validate a raw `[inference]` table; errors name the key (`inference.endpoints[0].base_url: ...`)."""
    try:
        return InferenceSettings.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(_errors(exc, prefix)) from None


def apply_env(settings: InferenceSettings, environ: Mapping[str, str] | None = None) -> InferenceSettings:
    """The settings with the environment overrides applied (see the module docstring). Pure: returns a copy."""
    env = os.environ if environ is None else environ
    base_url = env.get("OPENAI_BASE_URL", "").strip()
    model = env.get("SMALLVILLE_MODEL", "").strip()
    data = settings.model_dump()
    if base_url:
        if not model and settings.endpoints:
            model = settings.endpoints[0].model
        if not model:
            raise ConfigError("SMALLVILLE_MODEL: set it to the model the server at OPENAI_BASE_URL serves")
        first = settings.endpoints[0] if settings.endpoints else None
        data["endpoints"] = [
            {
                "name": ENV_ENDPOINT_NAME,
                "base_url": base_url,
                "model": model,
                "structured": first.structured if first else "json_schema",
                "max_concurrency": first.max_concurrency if first else 32,
                "timeout_s": first.timeout_s if first else 120.0,
                "timeout_per_token_s": first.timeout_per_token_s if first else 0.0,
            }
        ]
    elif model:
        if settings.endpoints:
            for endpoint in data["endpoints"]:
                endpoint["model"] = model
        else:
            data["endpoints"] = [{"name": ENV_ENDPOINT_NAME, "base_url": OPENAI_API_URL, "model": model}]
    try:
        return InferenceSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_errors(exc, "environment (OPENAI_BASE_URL / SMALLVILLE_MODEL)")) from None


def read_api_key(env_name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The key held by `env_name`, or None when unset (local servers usually need none)."""
    env = os.environ if environ is None else environ
    value = env.get(env_name, "").strip()
    return value or None
