"""One round of turns: the players given, the announced state given, their answers back in player order.

Owns a player's turn (its prompt, its call or calls, how the answer is judged) and the round's concurrency.
`play_round` is the unit a worker runs (`workers.GameGroup`, in this process or a group actor): it reads
nothing but its arguments (the players, each one's earlier turns, the settings, the models, the call book) and
returns one `Turn` per player in the order given, however the calls complete, so the driver splits the players
into shards, plays them anywhere and concatenates the results (`workers.play_round_on`).

A turn ends in one of three ways, all counted (`scoring.py`):
- `ok`: a number in [0, max_value];
- `invalid`: the model answered, but no valid number came of it. Retry policy: in `structured` parsing the
  pool re-asks an answer that does not fit the schema (not JSON, no number, out of range) with the reason,
  `answer_retries` times (default 2: three answers at most); in `two-call` parsing a reply with no number, or
  one out of range, starts the whole turn again (answer + extraction), `answer_retries` times, which is the
  retry AgentScope meant and never ran;
- `failed`: the call itself failed (unreachable, 5xx, timeouts, rate limits) after the pool's retries and
  failovers. A failed turn is not re-asked in this session (a resume asks it again).
Each turn's calls get a seed drawn from the run's seed and the call's place, so servers that honour `seed`
sample the same answer again.

Concurrency: a fixed number of workers take players in order (memory stays flat for a million players,
unlike a task per player). After every turn the models' health is asked; a verdict that they cannot answer
at all cancels the round at once and raises it (the round is not committed; resume plays it again).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from smallville.games import prompts
from smallville.games.calls import CallBook, Outcome, Place, Usage
from smallville.games.config import GuessSettings
from smallville.games.prompts import PastTurn, Player
from smallville.inference.base import AnswerInvalid, CallOptions, InferenceError, LanguageModel, ModelsUnusable

Status = Literal["ok", "invalid", "failed"]
PURPOSE = "guess"
EXTRACT_MAX_TOKENS = 48


@dataclass
class Turn:
    """A player's turn in a round, as the answer log keeps it."""

    agent: int
    model: str
    status: Status
    number: float | None = None
    said: str | None = None  # the reply as the model wrote it (JSON, or text in two-call), None if none came
    reasoning: str | None = None
    error: str | None = None  # "AnswerInvalid: ..." for an invalid turn, the failure for a failed one
    attempts: int = 1
    usage: Usage = field(default_factory=Usage)  # the answer calls
    extract_usage: Usage = field(default_factory=Usage)  # two-call: the extraction calls
    cause: InferenceError | None = field(default=None, repr=False, compare=False)  # not logged: for messages

    def event(self, round_no: int) -> dict[str, Any]:
        """The answer log's line (fixed key order: the log's bytes depend on nothing else)."""
        return {"k": "answer", "r": round_no, "agent": self.agent, "model": self.model, "status": self.status,
                "number": self.number, "reasoning": self.reasoning, "said": self.said, "error": self.error,
                "attempts": self.attempts, "usage": self.usage.as_dict(),
                "extract_usage": self.extract_usage.as_dict()}

    @classmethod
    def from_event(cls, e: dict[str, Any]) -> Turn:
        return cls(agent=int(e["agent"]), model=str(e["model"]), status=e["status"], number=e.get("number"),
                   said=e.get("said"), reasoning=e.get("reasoning"), error=e.get("error"),
                   attempts=int(e.get("attempts", 1)), usage=Usage.from_dict(e.get("usage")),
                   extract_usage=Usage.from_dict(e.get("extract_usage")))


class Models(Protocol):
    """What a round needs of its models: the one that answers a group's players, and whether they can."""

    def model_for(self, group: str) -> LanguageModel: ...

    def fatal(self) -> InferenceError | None: ...


def call_seed(seed: int, round_no: int, agent: int, step: str) -> int:
    """A request's seed (31 bits: every server takes it), from the run's seed and the call's place."""
    digest = hashlib.blake2b(f"{seed}|{round_no}|{agent}|{step}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF


def _one_line(exc: InferenceError) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]


class _Turns:
    """A player's turn, with the round's fixed parts at hand."""

    def __init__(self, cfg: GuessSettings, models: Models, book: CallBook, round_no: int, seed: int):
        self.cfg, self.models, self.book, self.round_no, self.seed = cfg, models, book, round_no, seed
        self.answer = prompts.answer_model(cfg.max_value, cfg.instruction == "step_by_step")

    def options(self, agent: int, step: str, temperature: float, max_tokens: int) -> CallOptions:
        seed = call_seed(self.seed, self.round_no, agent, step) if self.cfg.request_seed else None
        return CallOptions(PURPOSE, temperature=temperature, seed=seed, max_tokens=max_tokens)

    async def play(self, player: Player, past: Sequence[PastTurn]) -> Turn:
        chat = prompts.messages(self.cfg, player, past)
        lm = self.models.model_for(player.model)
        if self.cfg.parse == "two-call":
            return await self._two_call(player, lm, chat)
        place = Place(self.round_no, player.id, "answer.0")
        got = await self.book.structured(lm, place, player.model, chat, self.answer,
                                         self.options(player.id, place.step, self.cfg.temperature,
                                                      self.cfg.max_tokens or 64))
        turn = Turn(player.id, player.model, "ok", usage=got.usage)
        if got.error is not None:
            return _ended(turn, got.error)
        value: Any = got.value
        turn.number, turn.reasoning = float(value.number), getattr(value, "reasoning", None)
        turn.said = value.model_dump_json()
        return turn

    async def _two_call(self, player: Player, lm: LanguageModel, chat: list[Any]) -> Turn:
        turn = Turn(player.id, player.model, "invalid")
        for attempt in range(self.cfg.answer_retries + 1):
            turn.attempts = attempt + 1
            step = f"answer.{attempt}"
            reply: Outcome[str] = await self.book.text(lm, Place(self.round_no, player.id, step), player.model, chat,
                                                       self.options(player.id, step, self.cfg.temperature,
                                                                    self.cfg.max_tokens or 64))
            turn.usage.add(reply.usage)
            if reply.error is not None:
                if not isinstance(reply.error, AnswerInvalid):
                    return _ended(turn, reply.error)
                turn.said, turn.error = reply.error.last_answer or None, _one_line(reply.error)
                continue
            turn.said = reply.value
            step = f"extract.{attempt}"
            # temperature 0: extraction is reading, not playing
            got = await self.book.structured(lm, Place(self.round_no, player.id, step), player.model,
                                             prompts.extraction_messages(reply.value or ""), prompts.Extracted,
                                             self.options(player.id, step, 0.0, EXTRACT_MAX_TOKENS))
            turn.extract_usage.add(got.usage)
            if got.error is not None:
                if not isinstance(got.error, AnswerInvalid):
                    return _ended(turn, got.error)
                turn.error = _one_line(got.error)
                continue
            number = got.value.number if got.value is not None else None
            if number is None or not math.isfinite(number):
                turn.error = "AnswerInvalid: the reply reports no number"
            elif not 0 <= number <= self.cfg.max_value:
                turn.error = f"AnswerInvalid: {number:g} is outside 0..{self.cfg.max_value}"
            else:
                turn.status, turn.number, turn.error = "ok", float(number), None
                return turn
        return turn


def _ended(turn: Turn, error: InferenceError) -> Turn:
    """A turn whose call raised: invalid when the model answered badly, failed when the call failed."""
    if isinstance(error, AnswerInvalid):
        turn.status, turn.said = "invalid", error.last_answer or None
    else:
        turn.status = "failed"
    turn.error, turn.cause = _one_line(error), error
    return turn


class _Stop(Exception):
    def __init__(self, error: InferenceError):
        self.error = error


async def play_round(players: Sequence[Player], pasts: Sequence[Sequence[PastTurn]], round_no: int,
                     cfg: GuessSettings, models: Models, book: CallBook, *, seed: int, concurrency: int,
                     on_turn: Callable[[Turn], None] | None = None, max_failed: int | None = None) -> list[Turn]:
    """Every player's turn in round `round_no` (1-based), in the order of `players`. Raises the models' fatal
    error (one line, naming the endpoint) when they cannot answer at all, and `ModelsUnusable` as soon as more
    than `max_failed` turns have failed (a server gone mid-round: the rest would only wait out their retries)."""
    if len(pasts) != len(players):
        raise ValueError("one past per player")
    turns: list[Turn | None] = [None] * len(players)
    player = _Turns(cfg, models, book, round_no, seed)
    queue = iter(range(len(players)))
    failed: list[Turn] = []

    async def worker() -> None:
        for i in queue:  # shared: each index is taken by one worker, in order
            turn = await player.play(players[i], pasts[i])
            turns[i] = turn
            if on_turn is not None:
                on_turn(turn)
            if turn.status == "ok":
                continue
            if (fatal := models.fatal()) is not None:
                raise _Stop(fatal)
            if turn.status == "failed":
                failed.append(turn)
                if max_failed is not None and len(failed) > max_failed:
                    # the failure that names a server says more than "every endpoint is out of rotation"
                    cause = next((t.cause for t in failed if t.cause is not None and t.cause.endpoint), turn.cause)
                    raise _Stop(ModelsUnusable(
                        f"round {round_no}: more than {max_failed:,} of {len(players):,} turns failed "
                        f"(max_failed_share); {_one_line(cause) if cause else turn.error}",
                        cause.endpoint if cause else None))

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(players)))):
                group.create_task(worker())
    except BaseExceptionGroup as eg:
        stops = [e for e in eg.exceptions if isinstance(e, _Stop)]
        if stops:
            raise stops[0].error from None
        raise eg.exceptions[0] from None
    done = [t for t in turns if t is not None]
    assert len(done) == len(players)
    return done
