"""Model calls beside the window: interviews run on an event loop other than the window's (a thread of
their own for a replay, the run's own loop for a live run), so the window keeps drawing while a resident
thinks.

Owns that thread (one asyncio loop), the models it opens on the first question (the run's configured
endpoints, or the embedded server started then and stopped with the window) and the interview of a
resident as of a moment (a live run's now, or any moment of a saved one): its memories up to then,
rebuilt from the log and embedded once
(the embedder caches every text), last accessed as the log says. An interview is a conversation: each
question to a resident is shown with the earlier turns of the chat with it (those asked as of the same
moment or before, so a replay that jumps back never shows a resident what it said later), and questions to
one resident are answered in the order they were asked. Each answer is appended to the save's
`interviews.jsonl` (the event log is never touched: a replay does not change the run).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from smallville.agents.history import History
from smallville.agents.interview import Answer, interview, stream_as_of
from smallville.agents.memory import RetrievalWeights
from smallville.agents.prompts.social import INTERVIEW_MEMORY_TOKENS, INTERVIEW_TURNS
from smallville.config import Settings
from smallville.world.residents import Resident

log = logging.getLogger(__name__)
INTERVIEWS_FILE = "interviews.jsonl"


class Askers:
    def __init__(self, settings: Settings, history: History, personas: dict[str, Resident], save_root: Path,
                 tick_seconds: int, *, lm: Any = None, embedder: Any = None,
                 loop: asyncio.AbstractEventLoop | None = None, models: Any = None):
        """`lm` / `embedder` replace the configured models (tests); `loop` and `models` are a live run's own
        (its event loop and open models: the chat then asks the run's model, with no second server)."""
        self.settings, self.history, self.personas = settings, history, personas
        self._given = {"lm": lm, "embedder": embedder}
        self.save_root, self.tick_seconds = save_root, tick_seconds
        self._own = loop is None
        self._loop = loop or asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smallville-askers", daemon=True)
        if self._own:
            self._thread.start()
        self._models: Any = models
        self._stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()
        self.asked = 0
        # (tick, question, answer) of each resident's interview so far, and one lock each (made on the loop)
        self.turns: dict[str, list[tuple[int, str, str]]] = {}
        self._asking: dict[str, asyncio.Lock] = {}

    @property
    def borrowed(self) -> bool:
        """Whether these askers use a live run's loop and models (which end with the run)."""
        return not self._own

    def interview(self, name: str, tick: int, question: str) -> Future[Answer]:
        """Ask `name` as of `tick`; the future's result is an `Answer` (or raises ValueError for an empty
        question)."""
        self.asked += 1
        return asyncio.run_coroutine_threadsafe(self._interview(name, tick, question, self.asked), self._loop)

    async def _open(self) -> Any:
        async with self._lock:
            if self._models is None:
                from smallville.config import inference_for_save
                from smallville.inference.session import open_models

                # the save's own endpoints, or the current config's where the save holds them masked
                opening = open_models(inference_for_save(self.settings.inference), **self._given)
                self._models = await self._stack.enter_async_context(opening)
                log.info("interviews think with %s", self._models.description)
            return self._models

    async def _interview(self, name: str, tick: int, question: str, number: int) -> Answer:
        async with self._asking.setdefault(name, asyncio.Lock()):  # in the order asked, each seeing the last
            answer = await self._answer(name, tick, question, number)
            self.turns.setdefault(name, []).append((tick, answer.question, answer.answer))
            return answer

    async def _answer(self, name: str, tick: int, question: str, number: int) -> Answer:
        models = await self._open()
        memories = self.history.memories_at(name, tick)
        if memories:
            vectors = await models.embedder.embed([m.text for m in memories])
        else:
            vectors = np.zeros((0, models.embedder.dim), dtype=np.float32)
        stream = stream_as_of(memories, self.history.accesses_at(name, tick), vectors, self.tick_seconds)
        persona = self.personas.get(name) or _nameless(name)
        a = self.settings.agents
        weights = RetrievalWeights(a.recency_weight, a.importance_weight, a.relevance_weight)
        earlier = [(q, said) for t, q, said in self.turns.get(name, []) if t <= tick][-INTERVIEW_TURNS:]
        answer = await interview(models.lm, models.embedder, persona, stream, question, tick, weights,
                                 seed=self.settings.sim.seed + number, k=a.retrieve_interview, earlier=earlier,
                                 budget=min(INTERVIEW_MEMORY_TOKENS, a.prompt_tokens))
        self._record(answer)
        return answer

    def _record(self, answer: Answer) -> None:
        try:
            with (self.save_root / INTERVIEWS_FILE).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"mode": "interview", **answer.to_dict()}, ensure_ascii=False) + "\n")
        except OSError as exc:  # a read-only save still answers; the answer is shown, not kept
            log.warning("interview not recorded in %s: %s", self.save_root, exc)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the thread and the models it opened (the embedded server with them)."""
        if not self._own or not self._thread.is_alive():
            return  # a live run's loop and models are the run's to close
        done = asyncio.run_coroutine_threadsafe(self._stack.aclose(), self._loop)
        with contextlib.suppress(Exception):
            done.result(timeout_s)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)


def _nameless(name: str) -> Resident:
    """A persona for a resident the save's residents file no longer lists: the name is all there is."""
    return Resident(name=name, age=30, home=("?", "?"), spawn=(0, 0))
