"""`smallville doctor`: is each configured endpoint usable by the town, and how fast does it answer?

Owns the health check of an endpoint as a user needs it before a long run: reachable at all, the
configured model served there, structured answers working in the endpoint's `structured` mode (the
check a wrong mode fails: llama-cpp-python answers HTTP 500 to the standard `json_schema` form), and
the latency of one small structured call. Each endpoint is checked alone, with no failover, so that a
broken endpoint cannot hide behind a healthy one. The embedded server is checked like any other
endpoint: the caller starts it and passes settings that name it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from pydantic import BaseModel

from smallville.inference.base import CallOptions, InferenceError, Message, ModelNotFound
from smallville.inference.pool import ServerPool
from smallville.inference.settings import EndpointSettings, InferenceSettings, display_url


class DoctorAnswer(BaseModel):
    """The tiny answer model of the structured check (an enum is enforced even by grammar-based servers)."""

    status: Literal["ready"]
    town: str


_CHAT = [Message("system", "You check that a server works. Answer in JSON."),
         Message("user", 'Reply with status "ready" and the name of a small town.')]


def _single(settings: InferenceSettings, endpoint: EndpointSettings) -> InferenceSettings:
    # no retries and no failover: the doctor reports what one endpoint does on its own
    return settings.model_copy(update={"endpoints": [endpoint], "retries": 0, "answer_retries": 1,
                                       "breaker_failures": 1000})


async def check_endpoint(settings: InferenceSettings, endpoint: EndpointSettings) -> dict[str, Any]:
    """One row: name, base_url, model, structured mode, reachable, model_present, structured_ok, latency_ms,
    problem (empty when all is well). `model_present` is None where the server lists no models."""
    row: dict[str, Any] = {"name": endpoint.name, "base_url": display_url(endpoint.base_url), "model": endpoint.model,
                           "mode": endpoint.structured, "reachable": False, "model_present": None,
                           "structured_ok": False, "latency_ms": None, "problem": ""}
    async with ServerPool(_single(settings, endpoint)) as pool:
        try:
            models = await pool.list_models(endpoint.name)
        except ModelNotFound:
            row["reachable"] = True  # answers, but has no /models route (the chat check decides)
        except InferenceError as exc:
            row["problem"] = str(exc)
            return row
        else:
            row["reachable"] = True
            row["model_present"] = endpoint.model in models if models else None
            if models and endpoint.model not in models:
                row["problem"] = f"model {endpoint.model!r} not listed; the server has: {', '.join(models[:5])}"
                return row
        start = time.perf_counter()
        try:
            await pool.complete_model(_CHAT, DoctorAnswer, CallOptions("doctor", temperature=0.0, max_tokens=64))
        except ModelNotFound as exc:
            row["model_present"] = False
            row["problem"] = str(exc)
        except InferenceError as exc:
            row["problem"] = f"structured call failed in mode {endpoint.structured!r}: {exc}"
        else:
            row["structured_ok"] = True
            row["model_present"] = True if row["model_present"] is None else row["model_present"]
        row["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
    return row


async def check_endpoints_async(settings: InferenceSettings) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(check_endpoint(settings, ep) for ep in settings.endpoints)))


def check_endpoints(settings: InferenceSettings) -> list[dict[str, Any]]:
    """A row per configured endpoint (see `check_endpoint`). Runs its own event loop."""
    return asyncio.run(check_endpoints_async(settings))


def healthy(rows: list[dict[str, Any]]) -> bool:
    return bool(rows) and all(r["reachable"] and r["structured_ok"] for r in rows)


def _cell(value: Any) -> str:
    if value is None:
        return "?"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return str(value)


def render_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table, one line per endpoint, problems listed under it."""
    if not rows:
        return "no endpoint configured"
    columns = [("endpoint", "name"), ("base url", "base_url"), ("model", "model"), ("mode", "mode"),
               ("reachable", "reachable"), ("model served", "model_present"), ("structured", "structured_ok"),
               ("latency ms", "latency_ms")]
    cells = [[title for title, _ in columns]] + [[_cell(r[key]) for _, key in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    problems = [f"{r['name']}: {r['problem']}" for r in rows if r["problem"]]
    if problems:
        lines += ["", *problems]
    return "\n".join(lines)
