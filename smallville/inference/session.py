"""A run's models: the language model and the embedder a run thinks with, opened and closed together.

Owns the wiring from settings to live objects: the configured endpoints (or, when none is configured,
the embedded local server, started on 127.0.0.1 and stopped afterwards), the server pool, the recording
of every call into the save (`calls.jsonl`, appended on resume), the embedder (the bundled local model
unless `[inference.embedding]` names a server) and the accounting written to `<save>/inference.json`.
A replay (`replay=` a recording) answers from the file instead, with no server at all. Outermost sits the
health watch (`health.py`): `Models.fatal()` tells the run's loop when its models cannot answer at all.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallville.inference.accounting import Accounting
from smallville.inference.base import Embedder, InferenceError, LanguageModel
from smallville.inference.health import HealthWatch, Watched, WatchedEmbedder
from smallville.inference.record import CALLS_FILE, Recorder, Replayer
from smallville.inference.settings import InferenceSettings

log = logging.getLogger(__name__)
ACCOUNTING_FILE = "inference.json"


@dataclass
class Models:
    lm: LanguageModel
    embedder: Embedder
    accounting: Accounting
    description: str  # where the answers come from, for the run's banner
    health: HealthWatch = field(default_factory=HealthWatch)

    def fatal(self, *, at_end: bool = False) -> InferenceError | None:
        """Why the run cannot think (stop it at this tick, with a checkpoint, and exit non-zero), or None.
        The error names the endpoint and never a key; `str()` is the one-line message to print."""
        return self.health.fatal(at_end=at_end)


def make_embedder(settings: InferenceSettings) -> Embedder:
    from smallville.inference.embed import LocalEmbedder, RemoteEmbedder

    e = settings.embedding
    if e is None:
        return LocalEmbedder()
    return RemoteEmbedder(str(e.base_url), e.model, api_key_env=e.api_key_env, name=e.name, dim=e.dim,
                          max_batch=e.max_batch, timeout_s=e.timeout_s)


@contextlib.asynccontextmanager
async def open_models(settings: InferenceSettings, save_root: Path | None = None, *, replay: Path | None = None,
                      lm: LanguageModel | None = None, embedder: Embedder | None = None) -> AsyncIterator[Models]:
    """The run's models; `lm`/`embedder` given by a caller (tests, benchmarks) are used as they are and
    still recorded; `replay` answers every call from a recording."""
    from smallville.inference.pool import ServerPool

    accounting = Accounting()
    health = HealthWatch(settings.stop_after_failures)
    counted_inside = False  # whether the model counts its calls into `accounting` itself (the pool does)
    embed = embedder or make_embedder(settings)
    async with contextlib.AsyncExitStack() as stack:
        if replay is not None:
            model: LanguageModel = Replayer(replay)
            description = f"replaying {replay}"
        elif lm is not None:
            model, description = lm, repr(lm)
        else:
            inference = settings
            if settings.uses_embedded_server:
                from smallville.inference.local import embedded_endpoints, start_servers

                servers = start_servers(stack)
                inference = settings.model_copy(update={"endpoints": embedded_endpoints(servers)})
                description = f"the embedded {servers[0].model} on {' and '.join(s.base_url for s in servers)}"
            else:
                description = ", ".join(e.name for e in settings.endpoints)
            model = await stack.enter_async_context(ServerPool(inference, accounting))
            counted_inside = True
        if save_root is not None and replay is None:
            model = stack.enter_context(Recorder(model, save_root / CALLS_FILE))
        model = Watched(model, health, None if counted_inside else accounting)
        try:
            yield Models(model, WatchedEmbedder(embed, health), accounting, description, health)
        finally:
            if save_root is not None:
                _save_accounting(accounting, save_root / ACCOUNTING_FILE)
            aclose = getattr(embed, "aclose", None)
            if embedder is None and aclose is not None:
                await aclose()


def _save_accounting(accounting: Accounting, path: Path) -> None:
    """Add this session's figures to those of earlier sessions of the same save (a resumed run)."""
    import json

    snapshot: dict[str, Any] = accounting.snapshot()
    sessions: list[dict[str, Any]] = []
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            old = json.loads(path.read_text(encoding="utf-8"))
            sessions = list(old.get("sessions", [])) if isinstance(old, dict) else []
    sessions.append(snapshot)
    from smallville.files import atomic_write_json

    atomic_write_json(path, {"sessions": sessions})
